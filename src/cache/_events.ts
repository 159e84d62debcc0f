/**
 * A cache's events (`cache.on(name, listener)`). Emitting sites check
 * `lists.<name>` before building a payload, so an event nobody listens to
 * costs one property read on the miss path and nothing on the L1 hit path
 * (the cache routes hits through the slow path only while a `"hit"`
 * listener exists: see `onHitListeners`). A listener that throws is logged
 * and never breaks the cache.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { BreakerState } from "../remote/circuit_breaker.ts";

/** The payload of each cache event, by name. */
export interface CacheEvents {
  /** A read answered from a tier. */
  hit: { key: string; tier: "l1" | "l2" };
  /** A read found nothing in either tier (a loader runs next, if given). */
  miss: { key: string };
  /**
   * A read answered with an entry past its TTL: `"swr"` (within
   * `staleWhileRevalidate`, refreshing in the background), `"grace"` (the
   * load failed or timed out), `"soft-timeout"` (the load is still running
   * past `softTimeout`). `ageMs`: how long past its TTL.
   */
  stale: { key: string; reason: "swr" | "grace" | "soft-timeout"; ageMs: number };
  /** A loader settled: `durationMs`, whether it succeeded and whether its value was stored. */
  load: { key: string; durationMs: number; ok: boolean; cached: boolean };
  /**
   * A failure the cache absorbed or passed on: a loader error (`op: "load"`),
   * with `served: "stale"` when a graced value answered instead, or a
   * background refresh that failed (`op: "refresh"`).
   */
  error: { key: string; op: "load" | "refresh"; error: unknown; served: "stale" | "error" };
  /** A loader passed `softTimeout` (keeps running) or `hardTimeout` (aborted, callers get `LoaderTimeoutError`). */
  timeout: { key: string; kind: "soft" | "hard"; timeoutMs: number };
  /**
   * Entries were dropped: one `key` (`delete`), all of the cache's
   * (`clear`), those under a `prefix` (AgentCache), those carrying `tags`
   * (`invalidateTags`, here or reported by L2), or keys another process
   * changed (`"remote"`: reported by a coherent backend; no key: all).
   */
  invalidate: {
    key?: string;
    prefix?: string;
    tags?: readonly string[];
    reason: "delete" | "clear" | "prefix" | "tags" | "remote";
  };
  /** The L2 circuit breaker changed state. */
  breaker: { state: BreakerState; previous: BreakerState };
}

/** An event name. */
export type CacheEventName = keyof CacheEvents;

/** A listener of event `N`. */
export type CacheListener<N extends CacheEventName> = (event: CacheEvents[N]) => void;

const NAMES: readonly CacheEventName[] = [
  "hit",
  "miss",
  "stale",
  "load",
  "error",
  "timeout",
  "invalidate",
  "breaker",
];

type Lists = { [N in CacheEventName]?: CacheListener<N>[] };

/** See the module doc. */
export class Events {
  /** Listeners by name; a name is absent while nobody listens. */
  readonly lists: Lists = {};
  readonly #logger: Logger;
  readonly #onHitListeners: (active: boolean) => void;

  /**
   * @param logger Where a throwing listener is reported.
   * @param onHitListeners Called when the first `"hit"` listener arrives (true) and the last leaves (false).
   */
  constructor(logger: Logger, onHitListeners: (active: boolean) => void) {
    this.#logger = logger;
    this.#onHitListeners = onHitListeners;
  }

  /**
   * Adds a listener.
   *
   * @throws {TypeError} For an unknown name or a listener that is not a function.
   */
  on<N extends CacheEventName>(what: string, name: N, listener: CacheListener<N>): () => void {
    if (!NAMES.includes(name)) {
      throw new TypeError(
        `${what}.on: unknown event ${JSON.stringify(name)}: expected one of ${NAMES.join(", ")}`,
      );
    }
    if (typeof listener !== "function") {
      throw new TypeError(`${what}.on: the listener must be a function: received ${listener}`);
    }
    const lists = this.lists as Record<string, CacheListener<N>[] | undefined>;
    // Copy on write: an emit in progress keeps iterating its own array.
    lists[name] = [...(lists[name] ?? []), listener];
    if (name === "hit" && lists[name]!.length === 1) this.#onHitListeners(true);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const rest = (lists[name] ?? []).filter((l) => l !== listener);
      if (rest.length > 0) lists[name] = rest;
      else {
        delete lists[name];
        if (name === "hit") this.#onHitListeners(false);
      }
    };
  }

  /** Calls the listeners of `name` (check `lists[name]` first to skip building the payload). */
  emit<N extends CacheEventName>(name: N, event: CacheEvents[N]): void {
    const list = this.lists[name] as CacheListener<N>[] | undefined;
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error(`async-cache: a "${name}" listener threw:`, error);
      }
    }
  }
}
