/**
 * Command observation for instrumentation (`@async-cache/cache/otel`): an
 * observer is told as each command is queued (in the caller's async context,
 * so a span it starts has the caller's span as parent) and gets back a
 * function to call when the reply (or the failure) arrives. With no observer
 * the client's cost is one length check per command.
 *
 * @module
 */
import type { Command } from "./encoder.ts";

/** Where a client's commands go. */
export interface ServerAddress {
  /** Host name or address (or the Unix socket path). */
  address: string;
  /** TCP port (undefined for a Unix socket). */
  port: number | undefined;
}

/** Told when one command settles: `error` is undefined on a reply (an error reply is an error). */
export type CommandDone = (error: Error | undefined) => void;

/** Watches the commands of a client. */
export interface CommandObserver {
  /** A command was queued; what it returns (if anything) is called when it settles. */
  start(args: Command, server: ServerAddress): CommandDone | undefined;
}

/** The observers of a client (shared by a cluster client and its node clients). */
export class CommandObservers {
  /** The attached observers; replaced, never mutated, on change. */
  list: readonly CommandObserver[] = [];

  /** Attaches `observer`; returns its detach function (idempotent). */
  add(observer: CommandObserver): () => void {
    this.list = [...this.list, observer];
    return () => {
      this.list = this.list.filter((o) => o !== observer);
    };
  }

  /**
   * Tells every observer `args` was queued. Returns what the client calls
   * (through {@linkcode settleObserved}) when the command settles, or
   * undefined when no observer wants to hear of it.
   */
  start(args: Command, server: ServerAddress): CommandDone | undefined {
    const list = this.list;
    if (list.length === 1) return startOne(list[0], args, server); // no array per command
    let dones: CommandDone[] | undefined;
    for (const observer of list) {
      const done = startOne(observer, args, server);
      if (done !== undefined) (dones ??= []).push(done);
    }
    if (dones === undefined) return undefined;
    if (dones.length === 1) return dones[0];
    const all = dones;
    return (error) => {
      for (const done of all) settleObserved(done, error);
    };
  }
}

function startOne(
  observer: CommandObserver,
  args: Command,
  server: ServerAddress,
): CommandDone | undefined {
  try {
    return observer.start(args, server);
  } catch {
    return undefined; // An observer never breaks a command.
  }
}

/** Calls `done` (from {@linkcode CommandObservers.start}); an observer's exception is dropped. */
export function settleObserved(done: CommandDone, error: Error | undefined): void {
  try {
    done(error);
  } catch {
    // As above.
  }
}

/** Key of a client's {@linkcode CommandObservers} (not part of the public API). */
export const OBSERVERS: unique symbol = Symbol("async-cache.commandObservers");
