/**
 * The contract of a shared (L2) tier. `RedisBackend` is the built-in one;
 * anything that can get, set and delete by key can be another.
 *
 * @module
 */

/** A value read from a remote tier, with how long it has left to live. */
export interface RemoteEntry {
  /** The stored value (`null` is a value). */
  value: unknown;
  /** Milliseconds the entry has left in the remote tier; `undefined` when unknown or unlimited. */
  ttlMs?: number;
}

/**
 * The base class of a shared cache tier. Implement the five abstract methods;
 * override `getMany`, `setMany` and `getManyWithTtl` when the store can do
 * them in one round trip.
 *
 * Contract: `get` resolves `undefined` on a miss and `null` for a stored
 * `null`. `set` should throw **synchronously** (e.g. a `SerializationError`)
 * for a value it cannot store, so the cache can report it to the caller of
 * `set` instead of logging a background failure.
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
  /** Stores `value` under `key`, expiring after `ttlMs` milliseconds when given. */
  abstract set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** Removes `key`. */
  abstract delete(key: string): Promise<void>;
  /** Removes every entry this backend owns (and nothing else). */
  abstract clear(): Promise<void>;
  /** Releases connections. */
  abstract close(): Promise<void>;

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
   */
  async getManyWithTtl(keys: readonly string[]): Promise<(RemoteEntry | undefined)[]> {
    const values = await this.getMany(keys);
    return values.map((value) => value === undefined ? undefined : { value });
  }
}
