/**
 * The option types of `AsyncCache` (its constructor, `get`, `set`,
 * `refresh`, `warmup`). Checked at run time by `_options.ts`.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { DiskBackend } from "../persist/disk_backend.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import type { Clock, Duration } from "../time.ts";
import type { Loader } from "./_flights.ts";
import type { CacheServingOptions, ServingOptions, TtlFunction } from "./_serve.ts";
import type { LoaderContext } from "./_timeouts.ts";

/** Which entries L1 keeps when full: see {@linkcode AsyncCacheOptions.policy}. */
export type EvictionPolicy = "lru" | "tinylfu";

/** A cache key: a string, or a number (stored as its decimal string, as in Redis). */
export type CacheKey = string | number;

/** Options for {@linkcode AsyncCache} (serving options: see {@linkcode CacheServingOptions}). */
export interface AsyncCacheOptions extends CacheServingOptions {
  /** Most entries kept in L1 (which ones leave first: `policy`). Default 128; `0` stores nothing; `Infinity` for unbounded. */
  maxsize?: number;
  /**
   * Which entries L1 keeps when it is full. `"lru"` (default): the least
   * recently used leaves first. `"tinylfu"`: an adaptive W-TinyLFU that also
   * weighs how often each key was asked for (a frequency sketch) and tunes
   * itself between recency and frequency while it runs: higher hit ratios on
   * most workloads (README, "Eviction policy"), a little more work per hit.
   */
  policy?: EvictionPolicy;
  /**
   * A budget for L1 in bytes, beside `maxsize` (whichever binds first
   * evicts). An entry larger than the whole budget is served and written to
   * L2, but not kept in L1. Sizes come from `sizeOf`. Default: none (`Infinity`).
   */
  maxBytes?: number;
  /**
   * The size in bytes of an entry, for `maxBytes` (called once per write to
   * L1). Default: the length of the value's encoding by the built-in codec
   * (what L2 stores); a value the codec cannot encode is then not kept in L1.
   */
  sizeOf?(value: unknown, key: string): number;
  /** TTL of an entry when `set`/`get` give none: ms, or `"300s"`-style. Default: no expiry. */
  defaultTtl?: Duration;
  /** How long a `batchLoader` get waits for others to join its batch, in ms. Default 5. */
  batchWindowMs?: number;
  /** Most keys in one `batchLoader` call; a full batch runs at once. Default 100. */
  maxBatchSize?: number;
  /** The shared L2 tier, e.g. a `RedisBackend`. The cache never closes it: its creator does. Default: none (L1 only). */
  remoteCache?: RemoteCacheBackend;
  /**
   * This cache's part of the L2 tier: its keys are stored as `namespace:key`,
   * and `clear()` removes only them. Default: none (`clear()` then clears
   * the whole backend).
   */
  namespace?: string;
  /** Where background failures are reported (also a backend's, when it has no logger of its own). Default `console`. */
  logger?: Logger;
  /** Time source for TTLs (for tests). Default `Date`-based. */
  clock?: Clock;
  /**
   * A disk snapshot for a warm start: loaded when the cache is created (the
   * first reads wait for it; see {@linkcode AsyncCache.ready}) and written by
   * {@linkcode AsyncCache.saveToBackup}. Default: none.
   */
  backup?: DiskBackend;
}

/**
 * Options for one {@linkcode AsyncCache.get}, and its own serving options
 * (over the cache's; checked when a read misses, so a hit costs nothing more).
 */
export interface GetOptions<V> extends ServingOptions {
  /**
   * Loads the value on a miss. Called once per key however many callers
   * wait, with `{ signal }` (aborted at `hardTimeout` and on `close()`).
   * Return `noCache(value)` to answer without storing.
   */
  loader?: Loader<V>;
  /**
   * Loads many keys in one call (DataLoader-style): gets within `batchWindowMs`
   * that pass the same function are grouped. Return a `Map`, a plain object
   * keyed by the string key, or an array in key order. A key missing from the
   * result resolves `undefined` and is not cached; an `Error` as a key's
   * value rejects that key's callers and is not cached. Called with
   * `{ signal }` too, aborted when the longest `hardTimeout` of the batch's
   * callers has passed (each caller stops waiting at its own) and on `close()`.
   */
  // deno-lint-ignore no-explicit-any
  batchLoader?: (keys: any[], context: LoaderContext) => unknown;
  /**
   * TTL for a loaded value (default `defaultTtl`), or a function of the
   * value returning one (`0`: do not cache; `undefined`: `defaultTtl`).
   */
  ttl?: Duration | TtlFunction<V>;
  /** Tags of a loaded value: `invalidateTags` of any of them drops it, in every process. */
  tags?: readonly string[];
}

/** Options for {@linkcode AsyncCache.set}. */
export interface SetOptions {
  /** TTL for this entry; default `defaultTtl`. */
  ttl?: Duration;
  /** Tags of this entry: `invalidateTags` of any of them drops it, in every process. */
  tags?: readonly string[];
}

/** Options for {@linkcode AsyncCache.refresh}. */
export interface RefreshOptions<V> {
  /** Loads the value (called now, whatever is cached). */
  loader: Loader<V>;
  /** TTL for the loaded value (default `defaultTtl`), or a function of the value. */
  ttl?: Duration | TtlFunction<V>;
  /** Tags of the loaded value, as for `get`. */
  tags?: readonly string[];
}

/** Options for {@linkcode AsyncCache.warmup}. */
export interface WarmupOptions extends SetOptions {
  /** Load and store every key, even one already cached. Default `false` (a cached key is kept). */
  force?: boolean;
}
