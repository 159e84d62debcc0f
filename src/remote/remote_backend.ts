/**
 * The contract of a shared (L2) tier. `RedisBackend` is the built-in one;
 * anything that can get, set and delete by key can be another.
 *
 * @module
 */
import type { Logger } from "../logger.ts";

/** A value read from a remote tier, with how long it has left to live. */
export interface RemoteEntry {
  /** The stored value (`null` is a value). */
  value: unknown;
  /** Milliseconds the entry has left in the remote tier; `undefined` when unknown or unlimited. */
  ttlMs?: number;
}

/**
 * Told which keys changed in the shared tier (relative to the backend, as
 * the cache passes them), or `null` when anything may have changed (a
 * flush, or a lost connection during which invalidations were missed).
 */
export type InvalidationListener = (keys: readonly string[] | null) => void;

/** Options of {@linkcode RemoteCacheBackend.set}. */
export interface RemoteSetOptions {
  /** Store only if the key holds nothing (Redis `SET NX`). */
  ifAbsent?: boolean;
}

/** How a backend keeps caches' L1 copies coherent: invalidations it reports, or TTLs only. */
export type CoherenceMode = "tracking" | "ttl";

/**
 * The base class of a shared cache tier. Implement the five abstract methods;
 * override `getMany`, `setMany` and `getManyWithTtl` when the store can do
 * them in one round trip, and `deleteByPrefix` so that a cache's `clear()`
 * can remove its own namespace.
 *
 * Contract: `get` resolves `undefined` on a miss and `null` for a stored
 * `null`. `set` should throw **synchronously** (e.g. a `SerializationError`)
 * for a value it cannot store, so the cache can report it to the caller of
 * `set` instead of logging a background failure; `checkValue` throws the
 * same error without storing (the cache uses it while the tier is skipped).
 *
 * Ownership: a cache never calls `close()` on a backend it was handed;
 * whoever created the backend closes it, after the caches that use it.
 *
 * @example A backend over a Map (as a custom backend would be written)
 * ```ts
 * import { AsyncCache, RemoteCacheBackend } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * class MapBackend extends RemoteCacheBackend {
 *   data = new Map<string, unknown>();
 *   get(key: string) { return Promise.resolve(this.data.get(key)); }
 *   set(key: string, value: unknown) { this.data.set(key, value); return Promise.resolve(); }
 *   delete(key: string) { this.data.delete(key); return Promise.resolve(); }
 *   clear() { this.data.clear(); return Promise.resolve(); }
 *   close() { return Promise.resolve(); }
 * }
 * const shared = new MapBackend();
 * const a = new AsyncCache<string>({ remoteCache: shared });
 * const b = new AsyncCache<string>({ remoteCache: shared });
 * await a.set("k", "v");
 * await a.flush();
 * assertEquals(await b.get("k"), "v");
 * ```
 */
export abstract class RemoteCacheBackend {
  /** The value stored under `key`, or `undefined` when there is none. */
  abstract get(key: string): Promise<unknown>;
  /**
   * Stores `value` under `key`, expiring after `ttlMs` milliseconds when
   * given. With `ifAbsent`, only when the key holds nothing (the cache asks
   * this for a loader's write-back, so a newer write is never overwritten);
   * a backend that cannot do that atomically may ignore it.
   */
  abstract set(
    key: string,
    value: unknown,
    ttlMs?: number,
    options?: RemoteSetOptions,
  ): Promise<void>;
  /** Removes `key`. */
  abstract delete(key: string): Promise<void>;
  /** Removes every entry this backend owns (and nothing else). */
  abstract clear(): Promise<void>;
  /** Releases connections. */
  abstract close(): Promise<void>;

  /**
   * Deletes every key that starts with `prefix`; a cache's `clear()` calls it
   * with its namespace. With `doomed`, only the entries whose value it
   * accepts are deleted (a namespace's sweep of old generations), quietly.
   * The default rejects: a backend that cannot delete by prefix can only be
   * cleared whole (a cache with no namespace then calls `clear()`).
   *
   * @returns How many keys were deleted.
   */
  deleteByPrefix(
    prefix: string,
    _doomed?: (value: unknown) => boolean,
  ): Promise<number> {
    return Promise.reject(
      new TypeError(
        `${this.constructor.name} cannot delete by prefix (${
          JSON.stringify(prefix)
        }): implement deleteByPrefix() to clear a cache with a namespace`,
      ),
    );
  }

  /**
   * Throws (e.g. a `SerializationError`) when `set` would refuse `value`;
   * stores nothing. The default accepts everything.
   */
  checkValue(_value: unknown): void {}

  /**
   * Tells the backend the logger of a cache that uses it. A backend given no
   * logger of its own reports through the first one it is told of. The
   * default ignores it.
   */
  adoptLogger(_logger: Logger): void {}

  /**
   * Tries to take the lease of `key` for `ttlMs` (one loader per fleet: see
   * the cache's `lease` option): resolves `true` when this caller holds it
   * now, `false` when someone else does. The lease must expire by itself
   * after `ttlMs`, so a crashed holder never blocks the others longer. The
   * default resolves `true` (every caller "holds" it): leasing is off.
   */
  acquireLease(_key: string, _ttlMs: number): Promise<boolean> {
    return Promise.resolve(true);
  }

  /**
   * Gives up the lease of `key` (after the value was written, or the load
   * failed), so waiters stop waiting. The default does nothing.
   */
  releaseLease(_key: string): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Subscribes to invalidations: a coherent backend calls `listener` when a
   * key changes in the shared tier (written or deleted by anyone, expired,
   * evicted), and with `null` when anything may have changed. The default
   * reports nothing: L1 copies then live until their TTL.
   *
   * @returns A function that unsubscribes.
   */
  onInvalidate(_listener: InvalidationListener): () => void {
    return () => {};
  }

  /**
   * Subscribes to the backend becoming usable again after an outage (a
   * reconnect), so the cache can stop skipping it at once. The default
   * never calls it.
   *
   * @returns A function that unsubscribes.
   */
  onReady(_listener: () => void): () => void {
    return () => {};
  }

  /** How L1 copies are kept coherent now: `"tracking"` (invalidations reported) or `"ttl"`. */
  get coherence(): CoherenceMode {
    return "ttl";
  }

  /**
   * The generation counters `keys` hold (stamps, see the cache's
   * consistency rules), in order: `undefined` for a counter that is missing
   * or unreadable (the cache then fails closed: a miss). The default reads
   * them with `getMany`.
   */
  async getGenerations(keys: readonly string[]): Promise<(number | undefined)[]> {
    const values = await this.getMany(keys);
    return values.map((v) => typeof v === "number" && Number.isSafeInteger(v) ? v : undefined);
  }

  /**
   * Raises each counter to at least `stamp` (never lowers one), creating it
   * if missing. Atomic on Redis (`ZADD GT`); the default reads and writes
   * with `get`/`set`.
   */
  async bumpGenerations(keys: readonly string[], stamp: number): Promise<void> {
    const current = await this.getGenerations(keys);
    await Promise.all(
      keys.map((key, i) => (current[i] ?? -1) < stamp ? this.set(key, stamp) : undefined),
    );
  }

  /**
   * Creates each missing counter at `stamp` (an existing one is kept):
   * called before a write that depends on it, in the same order, so a reader
   * never finds the entry without its counter. The default uses `get`/`set`.
   */
  async initGenerations(keys: readonly string[], stamp: number): Promise<void> {
    const current = await this.getGenerations(keys);
    await Promise.all(
      keys.map((key, i) => current[i] === undefined ? this.set(key, stamp) : undefined),
    );
  }

  /**
   * Removes an entry the cache found unusable (invalidated, corrupt): as
   * `delete`, but not announced to the caches of this process as a change
   * (the entry was a miss for everyone already). The default calls `delete`.
   */
  repair(key: string): Promise<void> {
    return this.delete(key);
  }

  /** The values of several keys, in order (`undefined` for each miss). */
  getMany(keys: readonly string[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  /** Stores several entries: `[key, value, ttlMs?]`. */
  async setMany(entries: readonly (readonly [string, unknown, number?])[]): Promise<void> {
    await Promise.all(entries.map(([key, value, ttlMs]) => this.set(key, value, ttlMs)));
  }

  /**
   * Values with their remaining TTL, in order (`undefined` for each miss).
   * The cache uses this for reads so that an L1 copy never outlives its L2
   * entry; the default knows no TTL.
   *
   * @param keys The full keys.
   * @param _logger The reading cache's logger, for problems with one entry (e.g. a corrupt value).
   */
  async getManyWithTtl(
    keys: readonly string[],
    _logger?: Logger,
  ): Promise<(RemoteEntry | undefined)[]> {
    const values = await this.getMany(keys);
    return values.map((value) => value === undefined ? undefined : { value });
  }
}
