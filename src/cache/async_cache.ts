/**
 * `AsyncCache`: the two-tier cache. L1 is an in-process LRU + TTL store; L2
 * is an optional shared `RemoteCacheBackend` (Redis by default).
 *
 * Hot path: an L1 hit is one `Map` lookup and two typed-array writes in
 * `LruStore.get`, then `Promise.resolve(value)`: no closure, no options
 * object read beyond `loader`, no clock read unless TTLs are in use.
 * Everything else (single-flight, L2, loaders, batching) lives on the miss
 * path in `#miss`.
 *
 * @module
 */
import { BackupError, CacheClosedError, InvalidOptionError } from "../errors.ts";
import { type Logger, resolveLogger } from "../logger.ts";
import type { DiskBackend } from "../persist/disk_backend.ts";
import type { BreakerState } from "../remote/circuit_breaker.ts";
import type { RemoteCacheBackend, RemoteEntry } from "../remote/remote_backend.ts";
import { RemoteTier } from "../remote/_remote_tier.ts";
import { type AnyBatchLoader, Batcher, type BatchItem, pickResult } from "./_batcher.ts";
import { type Duration, parseDuration, parseOptionalDuration } from "../time.ts";
import { normalizeKey } from "./keys.ts";
import { checkMaxsize, LruStore } from "./lru_store.ts";
import type { Clock } from "../time.ts";

/** A cache key: a string, or a number (stored as its decimal string, as in Redis). */
export type CacheKey = string | number;

/** Options for {@linkcode AsyncCache}. */
export interface AsyncCacheOptions {
  /** Most entries kept in L1 (least recently used evicted first). Default 128; `Infinity` for unbounded. */
  maxsize?: number;
  /** TTL of an entry when `set`/`get` give none: ms, or `"300s"`-style. Default: no expiry. */
  defaultTtl?: Duration;
  /** How long a `batchLoader` get waits for others to join its batch, in ms. Default 5. */
  batchWindowMs?: number;
  /** Most keys in one `batchLoader` call; a full batch runs at once. Default 100. */
  maxBatchSize?: number;
  /** The shared L2 tier, e.g. a `RedisBackend`. Default: none (L1 only). */
  remoteCache?: RemoteCacheBackend;
  /** Prefix (plus `:`) for this cache's keys in the L2 tier, so several caches can share one backend. Default: none. */
  namespace?: string;
  /** Where background failures are reported. Default `console`. */
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

/** Options for one {@linkcode AsyncCache.get}. */
export interface GetOptions<V> {
  /** Loads the value on a miss. Called once per key however many callers wait. */
  loader?: () => V | undefined | Promise<V | undefined>;
  /**
   * Loads many keys in one call (DataLoader-style): gets within `batchWindowMs`
   * that pass the same function are grouped. Return a `Map`, a plain object
   * keyed by the string key, or an array in key order. A key missing from the
   * result resolves `undefined` and is not cached.
   */
  // deno-lint-ignore no-explicit-any
  batchLoader?: (keys: any[]) => unknown;
  /** TTL for a loaded value; default `defaultTtl`. */
  ttl?: Duration;
}

/** Options for {@linkcode AsyncCache.set}. */
export interface SetOptions {
  /** TTL for this entry; default `defaultTtl`. */
  ttl?: Duration;
}

/** A snapshot of a cache's counters. */
export interface CacheMetrics {
  /** Reads answered from L1 or L2. */
  hits: number;
  /** Reads that found nothing in either tier (and went to a loader, if any). */
  misses: number;
  /** `hits / (hits + misses)`, 0 before any read. */
  hitRate: number;
  /** Entries in L1 now. */
  size: number;
  /** Reads answered from L1. */
  l1Hits: number;
  /** Reads answered from L2 (after an L1 miss). */
  l2Hits: number;
  /** L2 lookups that found nothing. */
  l2Misses: number;
  /** Failed L2 operations (logged, never thrown). */
  l2Errors: number;
  /** Successful background L2 writes. */
  l2Writes: number;
  /** Loader runs (a batch counts each key it loads). */
  loads: number;
  /** Loader runs that threw or rejected. */
  loadErrors: number;
  /** `batchLoader` calls. */
  batches: number;
  /** Reads that joined a load already in flight for the same key. */
  coalesced: number;
  /** L1 entries dropped to make room. */
  evictions: number;
  /** L1 entries dropped because their TTL had passed. */
  expirations: number;
  /** The L2 circuit breaker: `"closed"` (in use), `"open"` (skipped), `"half-open"` (probing); `"none"` without L2. */
  breaker: BreakerState | "none";
}

interface Flight<V> {
  promise: Promise<V | undefined> | undefined;
  /** False once a set/delete/clear made this load's result stale. */
  current: boolean;
}

const systemClock: Clock = { now: () => Date.now() };
const WHAT = "AsyncCache";
const READY: Promise<void> = Promise.resolve();

/**
 * Drops the L1 entries whose key starts with `prefix`, and makes loads in
 * flight for such keys stale (their results are not stored). Returns how many
 * entries were dropped. Internal (for `AgentCache`): not exported from `mod.ts`.
 */
/**
 * The L1 value for a normalised key, counted as an L1 hit, or `undefined`.
 * Internal (for the decorators' hit path, which then needs no loader closure).
 */
export let l1Hit: <V>(cache: AsyncCache<V>, key: string) => V | undefined;

// deno-lint-ignore no-explicit-any
export let dropLocalByPrefix: (cache: AsyncCache<any>, prefix: string) => number;

/**
 * A two-tier async cache: in-process LRU + TTL, and an optional shared tier.
 *
 * @typeParam V The type of the cached values.
 *
 * @example Loader, single-flight and metrics
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const cache = new AsyncCache<string>({ maxsize: 1000, defaultTtl: "300s" });
 * let calls = 0;
 * const loader = async () => { calls++; return "Ada"; };
 * const [a, b] = await Promise.all([
 *   cache.get("user:1", { loader }),
 *   cache.get("user:1", { loader }),
 * ]);
 * assertEquals(a, "Ada");
 * assertEquals(b, "Ada");
 * assertEquals(calls, 1);
 * assertEquals(cache.getMetrics().misses, 1);
 * await cache.close();
 * ```
 */
export class AsyncCache<V = unknown> {
  readonly #store: LruStore<V>;
  readonly #defaultTtl: number | undefined;
  readonly #logger: Logger;
  readonly #remote: RemoteTier | undefined;
  readonly #batcher: Batcher;
  readonly #inflight = new Map<string, Flight<V>>();
  readonly #clock: Clock;
  readonly #maxsize: number;
  readonly #backup: DiskBackend | undefined;
  /** Set only while the backup loads: the miss path waits on it. */
  #loading: Promise<void> | undefined;
  /** Keys set or deleted while the backup loads: newer than the snapshot, so kept. */
  #touchedWhileLoading: Set<string> | undefined;
  #clearedWhileLoading = false;
  #saving: Promise<unknown> = READY;
  #closed = false;
  #l1Hits = 0;
  #misses = 0;
  #loads = 0;
  #loadErrors = 0;
  #batches = 0;
  #coalesced = 0;

  /**
   * Creates a cache; nothing is allocated per entry until entries arrive.
   *
   * @param options See {@linkcode AsyncCacheOptions}.
   * @throws {InvalidOptionError} When an option is out of range or of the wrong type.
   */
  constructor(options: AsyncCacheOptions = {}) {
    const maxsize = checkMaxsize(WHAT, options.maxsize ?? 128);
    this.#defaultTtl = parseOptionalDuration(options.defaultTtl, WHAT, "defaultTtl");
    const window = options.batchWindowMs ?? 5;
    if (typeof window !== "number" || !(window >= 0 && window <= 60_000)) {
      throw new InvalidOptionError(WHAT, "batchWindowMs", "a number of ms from 0 to 60000", window);
    }
    const maxBatch = options.maxBatchSize ?? 100;
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) {
      throw new InvalidOptionError(WHAT, "maxBatchSize", "an integer >= 1", maxBatch);
    }
    const logger = resolveLogger(WHAT, options.logger);
    this.#logger = logger;
    const clock = options.clock ?? systemClock;
    if (typeof clock?.now !== "function") {
      throw new InvalidOptionError(WHAT, "clock", "an object with now()", clock);
    }
    const remote = options.remoteCache;
    if (remote !== undefined && typeof remote?.getManyWithTtl !== "function") {
      throw new InvalidOptionError(WHAT, "remoteCache", "a RemoteCacheBackend", remote);
    }
    const namespace = options.namespace ?? "";
    if (typeof namespace !== "string") {
      throw new InvalidOptionError(WHAT, "namespace", "a string", namespace);
    }
    const backup = options.backup;
    if (
      backup !== undefined &&
      (typeof backup?.load !== "function" || typeof backup.save !== "function")
    ) {
      throw new InvalidOptionError(WHAT, "backup", "a DiskBackend", backup);
    }
    this.#clock = clock;
    this.#maxsize = maxsize;
    this.#backup = backup;
    this.#store = new LruStore<V>(maxsize, clock);
    this.#remote = remote && new RemoteTier(remote, namespace, logger, clock);
    this.#batcher = new Batcher(window, maxBatch, (loader, items) => this.#runBatch(loader, items));
    if (backup === undefined) {
      this.ready = READY;
    } else {
      this.#touchedWhileLoading = new Set();
      this.ready = this.#loading = this.#loadBackup(backup);
    }
  }

  static {
    dropLocalByPrefix = (cache, prefix) => cache.#dropLocalByPrefix(prefix);
    l1Hit = (cache, key) => {
      const value = cache.#store.get(key);
      if (value !== undefined) cache.#l1Hits++;
      return value;
    };
  }

  /**
   * Resolves once the `backup` snapshot is loaded into L1 (at once without a
   * `backup`). Never rejects: an unusable snapshot is logged and the cache
   * starts empty. Reads that miss L1 wait for it by themselves; await it to
   * know the warm-up is done.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache();
   * await cache.ready;
   * assertEquals(cache.getMetrics().size, 0);
   * ```
   */
  readonly ready: Promise<void>;

  /**
   * Reads `key`: L1, then L2, then the loader (if given). Concurrent misses on
   * one key share one L2 lookup and one loader call. A loader's rejection
   * reaches every waiter and is not cached.
   *
   * @param key The key.
   * @param options `loader`, `batchLoader`, `ttl`.
   * @returns The value, or `undefined` on a miss with no loader.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<number>();
   * assertEquals(await cache.get("n"), undefined);
   * assertEquals(await cache.get("n", { loader: () => 42 }), 42);
   * assertEquals(await cache.get("n"), 42);
   * ```
   */
  get(key: CacheKey, options?: GetOptions<V>): Promise<V | undefined> {
    const k = typeof key === "string" ? key : normalizeKey(key);
    const value = this.#store.get(k);
    if (value !== undefined) {
      this.#l1Hits++;
      return Promise.resolve(value);
    }
    return this.#miss(key, k, options);
  }

  /**
   * Stores `value` in L1 now and in L2 in the background (`flush()` awaits it).
   * Storing `undefined` deletes the key.
   *
   * @throws {SerializationError} (as a rejection) When the L2 tier cannot store the value.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<string>();
   * await cache.set("k", "v", { ttl: "60s" });
   * assertEquals(await cache.get("k"), "v");
   * ```
   */
  set(key: CacheKey, value: V, options?: SetOptions): Promise<void> {
    try {
      this.#checkOpen();
      const k = normalizeKey(key);
      if (value === undefined) return this.delete(k).then(() => {});
      const ttl = options?.ttl === undefined
        ? this.#defaultTtl
        : parseDuration(options.ttl, "AsyncCache.set", "ttl");
      this.#remote?.write(k, value, ttl); // first: a refused value must not reach L1
      this.#touchedWhileLoading?.add(k);
      this.#invalidateFlight(k);
      this.#store.set(k, value, ttl);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Removes `key` from L1 and L2 (the L2 delete is awaited; its failure is logged).
   *
   * @returns Whether L1 held the key.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<string>();
   * await cache.set("k", "v");
   * assertEquals(await cache.delete("k"), true);
   * assertEquals(await cache.get("k"), undefined);
   * ```
   */
  async delete(key: CacheKey): Promise<boolean> {
    this.#checkOpen();
    const k = normalizeKey(key);
    this.#touchedWhileLoading?.add(k);
    this.#invalidateFlight(k);
    const had = this.#store.delete(k);
    await this.#remote?.delete(k);
    return had;
  }

  /**
   * Empties L1, clears L2 (only this backend's keys), and resets the metrics.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<string>();
   * await cache.set("k", "v");
   * await cache.clear();
   * assertEquals(cache.getMetrics().size, 0);
   * ```
   */
  async clear(): Promise<void> {
    this.#checkOpen();
    if (this.#loading !== undefined) this.#clearedWhileLoading = true;
    for (const flight of this.#inflight.values()) flight.current = false;
    this.#inflight.clear();
    this.#store.clear();
    this.#resetMetrics();
    await this.#remote?.clear();
  }

  /**
   * Runs `loader` now, whatever is cached, stores its result in both tiers
   * and returns it (the replacement for Python's `use_cache=False`).
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<number>();
   * await cache.set("n", 1);
   * assertEquals(await cache.refresh("n", { loader: () => 2 }), 2);
   * assertEquals(await cache.get("n"), 2);
   * ```
   */
  async refresh(
    key: CacheKey,
    options: { loader: () => V | undefined | Promise<V | undefined>; ttl?: Duration },
  ): Promise<V | undefined> {
    this.#checkOpen();
    const k = normalizeKey(key);
    if (typeof options?.loader !== "function") {
      throw new InvalidOptionError("AsyncCache.refresh", "loader", "a function", options?.loader);
    }
    const ttl = this.#ttlFor(options.ttl, "AsyncCache.refresh");
    if (this.#loading !== undefined) {
      await this.#loading;
      this.#checkOpen();
    }
    this.#invalidateFlight(k);
    const flight: Flight<V> = { promise: undefined, current: true };
    this.#inflight.set(k, flight);
    flight.promise = this.#load(k, flight, options.loader, ttl);
    return await flight.promise;
  }

  /**
   * Loads several keys now (e.g. at start-up) and stores them in both tiers.
   * Every loader runs; if any fail, the rest are still stored and the
   * returned promise rejects with an `AggregateError` naming the failed keys.
   *
   * @param loaders A record or Map from key to loader.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<object>();
   * await cache.warmup({ "config:global": () => ({ theme: "dark" }) });
   * assertEquals(await cache.get("config:global"), { theme: "dark" });
   * ```
   */
  async warmup(
    loaders:
      | Record<string, () => V | undefined | Promise<V | undefined>>
      | Map<CacheKey, () => V | undefined | Promise<V | undefined>>,
    options?: SetOptions,
  ): Promise<void> {
    const entries = loaders instanceof Map ? [...loaders] : Object.entries(loaders);
    const results = await Promise.allSettled(
      entries.map(([key, loader]) => this.refresh(key, { loader, ttl: options?.ttl })),
    );
    const failed = entries.filter((_, i) => results[i].status === "rejected").map(([k]) => k);
    if (failed.length > 0) {
      throw new AggregateError(
        results.flatMap((r) => r.status === "rejected" ? [r.reason] : []),
        `AsyncCache.warmup: ${failed.length} loader(s) failed: ${failed.join(", ")}`,
      );
    }
  }

  /**
   * Writes L1 (live entries, with their remaining TTL) to the `backup`
   * snapshot, atomically: a failure or a kill during the save leaves the
   * previous snapshot intact. Concurrent saves run one after another. Waits
   * for the initial load first, so a save never replaces a good snapshot
   * with a half-loaded cache.
   *
   * @throws {BackupError} (as a rejection) Without a `backup`, or when the file cannot be written.
   *
   * @example
   * ```ts
   * import { AsyncCache, DiskBackend, type FileStore } from "@async-cache/cache";
   * import { assert } from "@std/assert";
   *
   * const files = new Map<string, Uint8Array>();
   * const fileStore: FileStore = {
   *   read: (path) => Promise.resolve(files.get(path)),
   *   writeAtomic: (path, bytes) => Promise.resolve(void files.set(path, bytes)),
   * };
   * const cache = new AsyncCache({ backup: new DiskBackend("cache.snap", { fileStore }) });
   * await cache.set("k", 1);
   * await cache.saveToBackup();
   * assert(files.has("cache.snap"));
   * ```
   */
  async saveToBackup(): Promise<void> {
    this.#checkOpen();
    const backup = this.#backup;
    if (backup === undefined) {
      throw new BackupError(
        "AsyncCache.saveToBackup: this cache has no backup: create it with { backup: new DiskBackend(path) }",
      );
    }
    await this.ready;
    this.#checkOpen();
    const saving = backup.save(this.#store.entries(), this.#clock.now(), this.#maxsize);
    this.#saving = saving.catch(() => {});
    await saving;
  }

  /** Waits for every background L2 write started so far. Never rejects for L2 failures. */
  async flush(): Promise<void> {
    await this.#remote?.flush();
  }

  /**
   * Runs waiting batches, flushes pending L2 writes and closes the L2
   * backend. Later calls reject with `CacheClosedError`. Also available as
   * `await using cache = new AsyncCache(...)`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.ready;
    await this.#saving;
    this.#batcher.flushAll();
    await Promise.allSettled([...this.#inflight.values()].map((f) => f.promise));
    this.#closed = true;
    if (this.#remote !== undefined) {
      await this.#remote.flush();
      await this.#remote.backend.close();
    }
  }

  /** Same as {@linkcode AsyncCache.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A snapshot of the counters; see {@linkcode CacheMetrics}.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<number>();
   * await cache.get("a", { loader: () => 1 });
   * await cache.get("a");
   * const m = cache.getMetrics();
   * assertEquals(m.hits, 1);
   * assertEquals(m.hitRate, 0.5);
   * ```
   */
  getMetrics(): CacheMetrics {
    const remote = this.#remote?.counters;
    const l2Hits = remote?.l2Hits ?? 0;
    const hits = this.#l1Hits + l2Hits;
    const total = hits + this.#misses;
    return {
      hits,
      misses: this.#misses,
      hitRate: total === 0 ? 0 : hits / total,
      size: this.#store.size,
      l1Hits: this.#l1Hits,
      l2Hits,
      l2Misses: remote?.l2Misses ?? 0,
      l2Errors: remote?.l2Errors ?? 0,
      l2Writes: remote?.l2Writes ?? 0,
      loads: this.#loads,
      loadErrors: this.#loadErrors,
      batches: this.#batches,
      coalesced: this.#coalesced,
      evictions: this.#store.evictions,
      expirations: this.#store.expirations,
      breaker: this.#remote?.state ?? "none",
    };
  }

  // ---- miss path -------------------------------------------------------

  #miss(original: CacheKey, k: string, options: GetOptions<V> | undefined): Promise<V | undefined> {
    if (this.#closed) return Promise.reject(new CacheClosedError());
    if (this.#loading !== undefined) return this.#loading.then(() => this.get(original, options));
    const pending = this.#inflight.get(k);
    if (pending?.promise !== undefined) {
      this.#coalesced++;
      return pending.promise;
    }
    const loader = options?.loader;
    const batchLoader = options?.batchLoader;
    if (loader === undefined && batchLoader === undefined && this.#remote === undefined) {
      this.#misses++;
      return Promise.resolve(undefined);
    }
    let ttl: number | undefined;
    try {
      if (loader !== undefined && typeof loader !== "function") {
        throw new InvalidOptionError("AsyncCache.get", "loader", "a function", loader);
      }
      if (batchLoader !== undefined && typeof batchLoader !== "function") {
        throw new InvalidOptionError("AsyncCache.get", "batchLoader", "a function", batchLoader);
      }
      ttl = this.#ttlFor(options?.ttl, "AsyncCache.get");
    } catch (error) {
      return Promise.reject(error);
    }
    const flight: Flight<V> = { promise: undefined, current: true };
    this.#inflight.set(k, flight);
    flight.promise = batchLoader !== undefined
      ? this.#batched(original, k, flight, batchLoader, ttl)
      : this.#lookupThenLoad(k, flight, loader, ttl);
    return flight.promise;
  }

  async #lookupThenLoad(
    k: string,
    flight: Flight<V>,
    loader: (() => V | undefined | Promise<V | undefined>) | undefined,
    ttl: number | undefined,
  ): Promise<V | undefined> {
    if (this.#remote !== undefined) {
      const entry = await this.#remote.lookup(k);
      if (entry !== undefined) {
        this.#endFlight(k, flight);
        return this.#fillFromRemote(k, flight, entry, ttl);
      }
    }
    if (loader === undefined) {
      this.#misses++;
      this.#endFlight(k, flight);
      return undefined;
    }
    this.#misses++;
    return this.#load(k, flight, loader, ttl);
  }

  async #load(
    k: string,
    flight: Flight<V>,
    loader: () => V | undefined | Promise<V | undefined>,
    ttl: number | undefined,
  ): Promise<V | undefined> {
    this.#loads++;
    try {
      const value = await loader();
      this.#store_(k, flight, value, ttl);
      return value;
    } catch (error) {
      this.#loadErrors++;
      throw error;
    } finally {
      this.#endFlight(k, flight);
    }
  }

  #batched(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    batchLoader: AnyBatchLoader,
    ttl: number | undefined,
  ): Promise<V | undefined> {
    return this.#batcher.add(batchLoader, { original, key: k, flight, ttl }) as Promise<
      V | undefined
    >;
  }

  /** Runs one batch: one L2 lookup for all keys, then the loader for the misses. */
  async #runBatch(loader: AnyBatchLoader, items: BatchItem[]): Promise<void> {
    let misses = items;
    if (this.#remote !== undefined) {
      const entries = await this.#remote.lookupMany(items.map((item) => item.key));
      misses = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const entry = entries[i];
        if (entry === undefined) {
          misses.push(item);
          continue;
        }
        const flight = item.flight as Flight<V>;
        this.#endFlight(item.key, flight);
        item.resolve(this.#fillFromRemote(item.key, flight, entry, item.ttl));
      }
      if (misses.length === 0) return;
    }
    this.#batches++;
    this.#misses += misses.length;
    this.#loads += misses.length;
    let result: unknown;
    try {
      result = await loader(misses.map((item) => item.original));
      if (result === null || typeof result !== "object") {
        throw new TypeError(
          `AsyncCache.get: batchLoader must return a Map, an object or an array: received ${result}`,
        );
      }
      if (Array.isArray(result) && result.length !== misses.length) {
        throw new TypeError(
          `AsyncCache.get: batchLoader returned ${result.length} values for ${misses.length} keys`,
        );
      }
    } catch (error) {
      this.#loadErrors += misses.length;
      for (const item of misses) {
        this.#endFlight(item.key, item.flight as Flight<V>);
        item.reject(error);
      }
      return;
    }
    for (let i = 0; i < misses.length; i++) {
      const item = misses[i];
      const flight = item.flight as Flight<V>;
      const value = pickResult(result, item, i) as V | undefined;
      this.#store_(item.key, flight, value, item.ttl);
      this.#endFlight(item.key, flight);
      item.resolve(value);
    }
  }

  #fillFromRemote(
    k: string,
    flight: Flight<V> | undefined,
    entry: RemoteEntry,
    ttl: number | undefined,
  ): V {
    const value = entry.value as V;
    const local = ttl ?? this.#defaultTtl;
    const remaining = entry.ttlMs;
    const l1Ttl = remaining === undefined
      ? local
      : local === undefined
      ? remaining
      : Math.min(local, remaining);
    if (flight === undefined || flight.current) {
      if (value !== undefined) this.#store.set(k, value, l1Ttl);
    }
    return value;
  }

  /** Stores a loaded value in both tiers, unless a set/delete/clear made it stale. */
  #store_(k: string, flight: Flight<V>, value: V | undefined, ttl: number | undefined): void {
    if (value === undefined || !flight.current || this.#closed) return;
    this.#store.set(k, value, ttl);
    try {
      this.#remote?.write(k, value, ttl);
    } catch (error) {
      this.#logger.error(`async-cache: cannot store key ${JSON.stringify(k)} in L2:`, error);
    }
  }

  #endFlight(k: string, flight: Flight<V>): void {
    if (this.#inflight.get(k) === flight) this.#inflight.delete(k);
  }

  #invalidateFlight(k: string): void {
    const flight = this.#inflight.get(k);
    if (flight !== undefined) {
      flight.current = false;
      this.#inflight.delete(k);
    }
  }

  #ttlFor(ttl: Duration | undefined, what: string): number | undefined {
    return ttl === undefined ? this.#defaultTtl : parseDuration(ttl, what, "ttl");
  }

  async #loadBackup(backup: DiskBackend): Promise<void> {
    try {
      const now = this.#clock.now();
      await READY; // so that `#loading` is set before this can finish
      const entries = await backup.load(now);
      if (this.#clearedWhileLoading || this.#closed) return;
      const touched = this.#touchedWhileLoading!;
      // Oldest first, so the snapshot's most recently used entries end up so again.
      const n = Math.min(entries.length, this.#maxsize);
      for (let i = n - 1; i >= 0; i--) {
        const { key, value, ttlMs } = entries[i];
        if (value === undefined || touched.has(key) || this.#store.peek(key) !== undefined) {
          continue;
        }
        this.#store.set(key, value as V, ttlMs);
      }
    } catch (error) {
      this.#logger.error("async-cache: cannot load the backup; starting empty:", error);
    } finally {
      this.#loading = undefined;
      this.#touchedWhileLoading = undefined;
    }
  }

  #dropLocalByPrefix(prefix: string): number {
    for (const [k, flight] of this.#inflight) {
      if (k.startsWith(prefix)) {
        flight.current = false;
        this.#inflight.delete(k);
      }
    }
    const doomed: string[] = [];
    for (const k of this.#store.keys()) if (k.startsWith(prefix)) doomed.push(k);
    for (const k of doomed) this.#store.delete(k);
    return doomed.length;
  }

  #checkOpen(): void {
    if (this.#closed) throw new CacheClosedError();
  }

  #resetMetrics(): void {
    this.#l1Hits =
      this.#misses =
      this.#loads =
      this.#loadErrors =
        0;
    this.#batches = this.#coalesced = 0;
    this.#store.evictions = this.#store.expirations = 0;
    if (this.#remote !== undefined) {
      this.#remote.counters = { l2Hits: 0, l2Misses: 0, l2Errors: 0, l2Writes: 0 };
    }
  }
}
