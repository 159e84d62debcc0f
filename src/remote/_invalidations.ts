/**
 * RedisBackend's coherence: the invalidations Redis pushes (RESP3
 * `CLIENT TRACKING`), the ones this process causes itself (tracking runs
 * with `NOLOOP`, so writes through this backend are announced here, at
 * once, to the other caches that share it), and what a lost connection
 * means: every L1 copy it guarded may be stale, so listeners hear `null`.
 *
 * While tracking is on, a `PING` every `healthCheckIntervalMs` proves the
 * connection alive (on a cluster, each primary's): a half-open socket then
 * fails its reply timeout, the connection is dropped, and with it the L1
 * copies it guarded. A connection that turns tracking on after an outage
 * (the first one too, if it failed before) drops what was filled meanwhile.
 *
 * @module
 */
import type { RedisClient } from "../resp/client.ts";
import type { PushReply, Reply } from "../resp/parser.ts";
import type { InvalidationListener } from "./remote_backend.ts";

const decoder = new TextDecoder();

function text(reply: Reply): string | undefined {
  if (typeof reply === "string") return reply;
  return reply instanceof Uint8Array ? decoder.decode(reply) : undefined;
}

/**
 * What `attach` follows: a `RedisClient`, or a cluster client (one tracking
 * connection per primary, each of which the health check must reach).
 */
type TrackedClient = Pick<RedisClient, "tracking" | "command" | "addEventListener"> & {
  primaries?(): Promise<Pick<RedisClient, "command" | "status">[]>;
};

const ignore = (): void => {};

/** See the module doc. */
export class Invalidations {
  readonly #prefix: string;
  readonly #listeners = new Set<InvalidationListener>();
  readonly #readyListeners = new Set<() => void>();
  readonly #healthCheckMs: number;
  #client: TrackedClient | undefined;
  /** True while the current connection guards L1 copies (tracking was on when it became ready). */
  #guarding = false;
  /**
   * True once a connection (or an attempt) failed since tracking was last
   * turned on: L1 copies may then have been filled that no connection guards.
   */
  #unguarded = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Invalidations received from the server (for metrics). */
  received = 0;

  constructor(prefix: string, healthCheckMs: number) {
    this.#prefix = prefix;
    this.#healthCheckMs = healthCheckMs;
  }

  /** Follows `client`'s connection: ready, lost, closed. */
  attach(client: TrackedClient): void {
    this.#client = client;
    client.addEventListener("ready", () => {
      // Entries filled while no connection was tracking (from loaders, during
      // an outage, at start-up too) are guarded by nothing: the connect that
      // turns tracking on drops them. With no failure before it, everything
      // read went through a tracking handshake: nothing to drop (a cluster's
      // first connects, one per primary, drop no load in flight).
      if (client.tracking && this.#unguarded) {
        this.#unguarded = false;
        this.emit(null);
      }
      this.#guarding = client.tracking;
      if (this.#guarding) this.#startHealthCheck();
      for (const listener of this.#readyListeners) listener();
    });
    const lost = () => {
      this.#unguarded = true;
      this.#stopHealthCheck();
      if (!this.#guarding) return;
      this.#guarding = false;
      this.emit(null);
    };
    client.addEventListener("reconnecting", lost);
    client.addEventListener("close", lost);
    // A failed first attempt (or a cluster's failed discovery) is an outage too.
    client.addEventListener("error", () => {
      this.#unguarded = true;
    });
  }

  /** Whether invalidations from the server are arriving now. */
  get active(): boolean {
    return this.#guarding && this.#client?.tracking === true;
  }

  /** Adds a listener; returns its remover. */
  listen(listener: InvalidationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds a ready listener; returns its remover. */
  listenReady(listener: () => void): () => void {
    this.#readyListeners.add(listener);
    return () => this.#readyListeners.delete(listener);
  }

  /** Handles a push from the server. */
  onPush(push: PushReply): void {
    const kind = push.kind;
    if (kind === "tracking-redir-broken") {
      this.received++;
      this.emit(null);
      return;
    }
    if (kind !== "invalidate") return;
    this.received++;
    const keys = push.data[1];
    if (!Array.isArray(keys)) {
      this.emit(null); // a flush: null instead of a key list
      return;
    }
    const prefix = this.#prefix;
    const out: string[] = [];
    for (const reply of keys) {
      const key = text(reply);
      if (key !== undefined && key.startsWith(prefix)) out.push(key.slice(prefix.length));
    }
    if (out.length > 0) this.emit(out);
  }

  /** Tells every listener (keys relative to the prefix, or `null` for all). */
  emit(keys: readonly string[] | null): void {
    for (const listener of this.#listeners) {
      try {
        listener(keys);
      } catch { /* a listener's failure is its own */ }
    }
  }

  /** Stops the health check. */
  close(): void {
    this.#stopHealthCheck();
  }

  #startHealthCheck(): void {
    if (this.#timer !== undefined || !(this.#healthCheckMs < Infinity)) return;
    this.#timer = setInterval(() => this.#ping(), this.#healthCheckMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** One `PING` per connection: on a cluster, every primary's (a keyless command would reach one). */
  #ping(): void {
    const client = this.#client;
    if (client?.primaries === undefined) {
      client?.command(["PING"]).catch(ignore);
      return;
    }
    // Every open connection (a primary never used has none: connections are lazy).
    client.primaries().then((nodes) => {
      for (const node of nodes) {
        if (node.status === "ready") node.command(["PING"]).catch(ignore);
      }
    }, ignore);
  }

  #stopHealthCheck(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
