/**
 * `AsyncCache`: the two-tier cache. L1 is an in-process LRU + TTL store; L2
 * is an optional shared `RemoteCacheBackend` (Redis by default).
 *
 * Hot path: an L1 hit is one `Map` lookup and two typed-array writes in
 * `LruStore.get`, then `Promise.resolve(value)`: no closure, no clock read
 * unless TTLs are in use. Everything else lives on the miss path, in
 * modules of one concern each: load tracking (`_flights.ts`), batching
 * (`_batcher.ts`), the L2 tier and its fill (`../remote/_remote_tier.ts`),
 * the disk snapshot (`_backup_link.ts`), counters (`_metrics.ts`),
 * lifecycle (`_lifecycle.ts`) and option checks (`_options.ts`).
 *
 * @module
 */
import { BackupError, CacheClosedError, InvalidOptionError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { DiskBackend } from "../persist/disk_backend.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import { type Dropped, l1TtlFor, RemoteTier, type TierEntry } from "../remote/_remote_tier.ts";
import { type Clock, type Duration, parseDuration } from "../time.ts";
import { BackupLink } from "./_backup_link.ts";
import {
  type AnyBatchLoader,
  Batcher,
  type BatchSlot,
  pickResult,
  rejectSlot,
  resolveSlot,
} from "./_batcher.ts";
import { type Flight, Flights, type Loader } from "./_flights.ts";
import { Lifecycle } from "./_lifecycle.ts";
import { type CacheMetrics, Counters } from "./_metrics.ts";
import { claimNamespace, releaseNamespace } from "./_namespaces.ts";
import { type CacheConfig, checkGetOptions, resolveCacheOptions } from "./_options.ts";
import { normalizeKey } from "./keys.ts";
import { LruStore } from "./lru_store.ts";

export type { CacheMetrics } from "./_metrics.ts";

/** A cache key: a string, or a number (stored as its decimal string, as in Redis). */
export type CacheKey = string | number;

/** Options for {@linkcode AsyncCache}. */
export interface AsyncCacheOptions {
  /** Most entries kept in L1 (least recently used evicted first). Default 128; `0` stores nothing; `Infinity` for unbounded. */
  maxsize?: number;
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

/** Options for one {@linkcode AsyncCache.get}. */
export interface GetOptions<V> {
  /** Loads the value on a miss. Called once per key however many callers wait. */
  loader?: () => V | undefined | Promise<V | undefined>;
  /**
   * Loads many keys in one call (DataLoader-style): gets within `batchWindowMs`
   * that pass the same function are grouped. Return a `Map`, a plain object
   * keyed by the string key, or an array in key order. A key missing from the
   * result resolves `undefined` and is not cached; an `Error` as a key's
   * value rejects that key's callers and is not cached.
   */
  // deno-lint-ignore no-explicit-any
  batchLoader?: (keys: any[]) => unknown;
  /** TTL for a loaded value; default `defaultTtl`. */
  ttl?: Duration;
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

/** Options for {@linkcode AsyncCache.warmup}. */
export interface WarmupOptions extends SetOptions {
  /** Load and store every key, even one already cached. Default `false` (a cached key is kept). */
  force?: boolean;
}

/** What the memoizers and AgentCache reach inside a cache (not exported from `mod.ts`). */
export interface CacheInternals<V> {
  readonly store: LruStore<V>;
  readonly counters: Counters;
  /** Hits are answered only while `life.open`. */
  readonly life: Lifecycle;
  /**
   * Puts the cache's L2 tier in `namespace` of `backend`, claimed for this
   * cache alone until it closes.
   *
   * @throws {InvalidOptionError} When another cache claimed it (asks for a `name`).
   */
  bindRemote(what: string, backend: RemoteCacheBackend, namespace: string): void;
  /** Drops the L1 entries (and stales the loads) whose key starts with `prefix`. */
  dropByPrefix(prefix: string): number;
}

const internals = new WeakMap<object, CacheInternals<unknown>>();

/**
 * The internals of `cache` (for the memoizers and AgentCache, at creation time).
 */
export function cacheInternals<V>(cache: AsyncCache<V>): CacheInternals<V> {
  return internals.get(cache) as CacheInternals<V>;
}

const WHAT = "AsyncCache";

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
  readonly #config: CacheConfig;
  readonly #defaultTtl: number | undefined;
  readonly #logger: Logger;
  #remote: RemoteTier | undefined;
  #claim: { backend: RemoteCacheBackend; namespace: string } | undefined;
  readonly #batcher: Batcher;
  readonly #flights = new Flights<V>();
  readonly #counters = new Counters();
  readonly #life = new Lifecycle();
  readonly #backup: BackupLink<V> | undefined;
  /** Tags of the tagged entries in L1 (pruned of entries L1 no longer holds). */
  readonly #tagged = new Map<string, readonly string[]>();

  /**
   * Creates a cache; nothing is allocated per entry until entries arrive.
   *
   * @param options See {@linkcode AsyncCacheOptions}.
   * @throws {InvalidOptionError} When an option is out of range or of the wrong type.
   */
  constructor(options: AsyncCacheOptions = {}) {
    const config = resolveCacheOptions(WHAT, options);
    this.#config = config;
    this.#defaultTtl = config.defaultTtl;
    this.#logger = config.logger;
    this.#store = new LruStore<V>(config.maxsize, config.clock);
    if (config.remote !== undefined) {
      this.#remote = new RemoteTier(
        config.remote,
        config.namespace,
        config.logger,
        config.clock,
        (dropped) => this.#drop(dropped),
      );
    }
    this.#batcher = new Batcher(
      config.batchWindowMs,
      config.maxBatchSize,
      (loader, slots) => this.#runBatch(loader, slots),
    );
    if (config.backup === undefined) {
      this.ready = Promise.resolve();
    } else {
      this.#backup = new BackupLink(
        config.backup,
        this.#store,
        config.maxsize,
        config.clock,
        config.logger,
        () => this.#life.open,
        config.remote !== undefined,
      );
      this.ready = this.#backup.ready;
    }
    internals.set(this, {
      store: this.#store,
      counters: this.#counters,
      life: this.#life,
      bindRemote: (what, backend, namespace) => {
        claimNamespace(what, backend, namespace, this);
        this.#claim = { backend, namespace };
        this.#remote = new RemoteTier(
          backend,
          namespace,
          config.logger,
          config.clock,
          (dropped) => this.#drop(dropped),
        );
      },
      dropByPrefix: (prefix) => this.#dropByPrefix(prefix),
    } as CacheInternals<unknown>);
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
   * reaches every waiter and is not cached. Never throws: a bad key or
   * option is a rejection (options are checked on hits too).
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
    let k: string;
    if (typeof key === "string") k = key;
    else {
      try {
        k = normalizeKey(key);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const value = this.#store.get(k);
    if (value !== undefined && options === undefined && this.#life.open) {
      this.#counters.l1Hits++;
      return Promise.resolve(value);
    }
    return this.#checked(key, k, value, options);
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
      this.#life.check();
      const k = normalizeKey(key);
      if (value === undefined) return this.delete(k).then(() => {});
      const ttl = options?.ttl === undefined
        ? this.#defaultTtl
        : parseDuration(options.ttl, "AsyncCache.set", "ttl");
      const tags = checkTags("AsyncCache.set", options?.tags);
      // First: a refused value must not reach L1 (and the write announces
      // itself to the other caches of this process, dropping their copies).
      this.#remote?.write(k, value, ttl, tags);
      this.#backup?.touch(k);
      this.#flights.invalidate(k);
      this.#put(k, value, ttl, tags);
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
    this.#life.check();
    const k = normalizeKey(key);
    this.#backup?.touch(k);
    this.#flights.invalidate(k);
    const had = this.#store.delete(k);
    this.#tagged.delete(k);
    await this.#remote?.delete(k);
    return had;
  }

  /**
   * Drops every entry carrying any of `tags`, in L1 here and, through the
   * L2 tier, in every process: each tag's generation is bumped in L2 (O(1)),
   * so entries stamped with an older one are misses everywhere, including
   * one written late by a slow loader elsewhere. Processes whose backend
   * reports invalidations (RESP3 tracking) drop their L1 copies at once;
   * others when their copies' TTL ends.
   *
   * @example
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<string>();
   * await cache.set("user:1:profile", "Ada", { tags: ["user:1"] });
   * await cache.set("user:1:cart", "apples", { tags: ["user:1"] });
   * await cache.set("user:2:cart", "pears", { tags: ["user:2"] });
   * await cache.invalidateTags(["user:1"]);
   * assertEquals(await cache.get("user:1:cart"), undefined);
   * assertEquals(await cache.get("user:2:cart"), "pears");
   * ```
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.#life.check();
    const list = checkTags("AsyncCache.invalidateTags", tags) ?? [];
    this.#dropTags(list);
    await this.#remote?.invalidateTags(list);
  }

  /**
   * Empties L1, removes this cache's entries from L2 (its `namespace` only;
   * with no namespace, every key the backend owns), and resets the metrics.
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
    this.#life.check();
    this.#backup?.cleared();
    this.#flights.invalidatePrefix("");
    this.#store.clear();
    this.#tagged.clear();
    this.#counters.reset();
    this.#store.evictions = this.#store.expirations = 0;
    this.#remote?.resetCounters();
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
    this.#life.check();
    const k = normalizeKey(key);
    if (typeof options?.loader !== "function") {
      throw new InvalidOptionError("AsyncCache.refresh", "loader", "a function", options?.loader);
    }
    const ttl = options.ttl === undefined
      ? this.#defaultTtl
      : parseDuration(options.ttl, "AsyncCache.refresh", "ttl");
    if (this.#backup?.loading !== undefined) {
      await this.#backup.loading;
      this.#life.check();
    }
    this.#flights.invalidate(k);
    const flight = this.#flights.start(k, options.loader, undefined, ttl, undefined);
    flight.writeBack = "force";
    flight.promise = this.#load(k, flight, options.loader);
    return await flight.promise;
  }

  /**
   * Loads several keys now (e.g. at start-up) and stores them in both tiers.
   * A key already cached (in L1 or L2) is kept and its loader not run,
   * unless `force: true`. If any loader fails, the rest are still stored and
   * the returned promise rejects with an `AggregateError` naming the failed keys.
   *
   * @param loaders A record or Map from key to loader.
   * @param options `ttl`, and `force` to reload keys already cached.
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
    options?: WarmupOptions,
  ): Promise<void> {
    this.#life.check();
    const entries = loaders instanceof Map ? [...loaders] : Object.entries(loaders);
    const force = options?.force === true;
    const results = await Promise.allSettled(
      entries.map(async ([key, loader]) => {
        if (!force && (await this.get(key)) !== undefined) return;
        await this.refresh(key, { loader, ttl: options?.ttl });
      }),
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
    this.#life.check();
    if (this.#backup === undefined) {
      throw new BackupError(
        "AsyncCache.saveToBackup: this cache has no backup: create it with { backup: new DiskBackend(path) }",
      );
    }
    const { clock, maxsize } = this.#config;
    await this.#backup.save(this.#store, clock, maxsize, this.#logger);
  }

  /** Waits for every background L2 write started so far. Never rejects for L2 failures. */
  async flush(): Promise<void> {
    await this.#remote?.flush();
  }

  /**
   * Closes the cache: new calls reject with `CacheClosedError` from now on;
   * waiting batches run, loads in flight finish, pending L2 writes and
   * backup saves complete, then L1 is emptied. It never closes the
   * `remoteCache` (whoever created a backend closes it, after its caches).
   * Concurrent and later calls return the same promise. Also available as
   * `await using cache = new AsyncCache(...)`.
   *
   * @example
   * ```ts
   * import { AsyncCache, CacheClosedError } from "@async-cache/cache";
   * import { assertRejects } from "@std/assert";
   *
   * const cache = new AsyncCache<number>();
   * await cache.set("n", 1);
   * await cache.close();
   * await assertRejects(() => cache.get("n"), CacheClosedError);
   * ```
   */
  close(): Promise<void> {
    return this.#life.close(async () => {
      await this.#backup?.idle();
      this.#store.clear();
      this.#batcher.flushAll();
      await this.#flights.settled();
      await this.#remote?.flush();
      this.#remote?.dispose();
      this.#store.clear();
      this.#tagged.clear();
      if (this.#claim !== undefined) {
        releaseNamespace(this.#claim.backend, this.#claim.namespace, this);
      }
    });
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
    const remote = this.#remote;
    return this.#counters.snapshot(
      this.#store,
      remote?.counters,
      remote?.state ?? "none",
      remote?.coherence ?? "none",
    );
  }

  // ---- miss path -------------------------------------------------------

  /** Checks the options (on hits too), then answers the hit or goes to the miss path. */
  #checked(
    original: CacheKey,
    k: string,
    hit: V | undefined,
    options: GetOptions<V> | undefined,
  ): Promise<V | undefined> {
    let ttl = this.#defaultTtl;
    let tags: readonly string[] | undefined;
    if (options !== undefined) {
      try {
        ttl = checkGetOptions(options, ttl);
        tags = checkTags("AsyncCache.get", options.tags);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (hit !== undefined && this.#life.open) {
      this.#counters.l1Hits++;
      return Promise.resolve(hit);
    }
    return this.#miss(original, k, options?.loader, options?.batchLoader, ttl, tags);
  }

  #miss(
    original: CacheKey,
    k: string,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: number | undefined,
    tags?: readonly string[],
  ): Promise<V | undefined> {
    if (!this.#life.open) return Promise.reject(new CacheClosedError());
    const loading = this.#backup?.loading;
    if (loading !== undefined) {
      return loading.then(() => {
        const value = this.#store.get(k);
        if (value === undefined) return this.#miss(original, k, loader, batchLoader, ttl, tags);
        this.#counters.l1Hits++;
        return value;
      });
    }
    const pending = this.#flights.get(k);
    if (pending !== undefined) {
      this.#counters.coalesced++;
      // A lookup without a loader adopts this caller's, so it never answers `undefined` to it.
      if (pending.lookingUp && pending.loader === undefined && pending.batchLoader === undefined) {
        pending.loader = loader;
        pending.batchLoader = batchLoader;
        pending.ttl = ttl;
        pending.tags = tags;
      }
      return pending.promise;
    }
    if (loader === undefined && batchLoader === undefined && this.#remote === undefined) {
      this.#counters.misses++;
      return Promise.resolve(undefined);
    }
    const flight = this.#flights.start(k, loader, batchLoader, ttl, tags);
    flight.promise = batchLoader !== undefined
      ? this.#batched(original, k, flight, batchLoader, false)
      : this.#lookupThenLoad(original, k, flight);
    return flight.promise;
  }

  async #lookupThenLoad(original: CacheKey, k: string, flight: Flight<V>): Promise<V | undefined> {
    if (this.#remote !== undefined) {
      flight.lookingUp = true;
      const { entry, gens, failed } = await this.#remote.lookup(k, flight.tags);
      flight.lookingUp = false;
      flight.gens = gens;
      if (failed) flight.writeBack = "none";
      // A warm-start snapshot entry: L2's answer wins; used only when L2 cannot answer.
      const held = this.#backup?.take(k);
      if (entry !== undefined) {
        this.#flights.end(k, flight);
        return this.#fill(k, flight, entry, flight.ttl);
      }
      if (failed && held !== undefined && flight.current) {
        this.#flights.end(k, flight);
        this.#counters.l1Hits++;
        this.#put(k, held[0], held[1], undefined);
        return held[0];
      }
    }
    const { loader, batchLoader } = flight;
    if (loader === undefined && batchLoader !== undefined) {
      return this.#batched(original, k, flight, batchLoader, true);
    }
    this.#counters.misses++;
    if (loader === undefined) {
      this.#flights.end(k, flight);
      return undefined;
    }
    return this.#load(k, flight, loader);
  }

  async #load(k: string, flight: Flight<V>, loader: Loader<V>): Promise<V | undefined> {
    this.#counters.loads++;
    try {
      const value = await loader();
      this.#keep(k, flight, value, flight.ttl);
      return value;
    } catch (error) {
      this.#counters.loadErrors++;
      throw error;
    } finally {
      this.#flights.end(k, flight);
    }
  }

  #batched(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    batchLoader: AnyBatchLoader,
    looked: boolean,
  ): Promise<V | undefined> {
    const done = this.#batcher.add(batchLoader, original, k, looked, flight, flight.ttl);
    return (done as Promise<V | undefined>).finally(() => this.#flights.end(k, flight));
  }

  /**
   * Runs one batch: one L2 lookup for the keys not looked up yet, then the
   * loader for the misses. Anything it throws settles the rest (see Batcher).
   */
  async #runBatch(loader: AnyBatchLoader, slots: BatchSlot[]): Promise<void> {
    let misses = slots;
    const remote = this.#remote;
    if (remote !== undefined) {
      const toLook = slots.filter((slot) => !slot.looked);
      misses = slots.filter((slot) => slot.looked);
      const { entries, gens, failed } = toLook.length === 0
        ? { entries: [], gens: undefined, failed: false }
        : await remote.lookupMany(toLook.map((s) => s.key), batchTags(toLook));
      for (const slot of toLook) {
        for (const waiter of slot.waiters) {
          const flight = waiter.flight as Flight<V>;
          flight.gens ??= gens;
          if (failed) flight.writeBack = "none";
        }
      }
      for (let i = 0; i < toLook.length; i++) {
        const slot = toLook[i];
        const entry = entries[i];
        if (entry === undefined) {
          misses.push(slot);
          continue;
        }
        let value: V | undefined;
        for (const waiter of slot.waiters) {
          value = this.#fill(slot.key, waiter.flight as Flight<V>, entry, waiter.ttl);
        }
        resolveSlot(slot, value);
      }
      if (misses.length === 0) return;
    }
    const n = misses.length;
    this.#counters.batches++;
    this.#counters.misses += n;
    this.#counters.loads += n;
    let result: unknown;
    try {
      result = await loader(misses.map((slot) => slot.original));
      if (result === null || typeof result !== "object") {
        throw new TypeError(
          `AsyncCache.get: batchLoader must return a Map, an object or an array: received ${result}`,
        );
      }
      if (Array.isArray(result) && result.length !== n) {
        throw new TypeError(
          `AsyncCache.get: batchLoader returned ${result.length} values for ${n} keys`,
        );
      }
    } catch (error) {
      this.#counters.loadErrors += n;
      for (const slot of misses) rejectSlot(slot, error);
      return;
    }
    for (let i = 0; i < n; i++) {
      const slot = misses[i];
      try {
        const value = pickResult(result, slot, i) as V | undefined;
        if (value instanceof Error) {
          this.#counters.loadErrors++;
          rejectSlot(slot, value);
          continue;
        }
        for (const waiter of slot.waiters) {
          this.#keep(slot.key, waiter.flight as Flight<V>, value, waiter.ttl);
        }
        resolveSlot(slot, value);
      } catch (error) {
        this.#counters.loadErrors++;
        rejectSlot(slot, error);
      }
    }
  }

  /** Stores an L2 hit in L1 (unless made stale), never longer than it has left in L2. */
  #fill(k: string, flight: Flight<V>, entry: TierEntry, ttl: number | undefined): V {
    const value = entry.value as V;
    if (flight.current && value !== undefined && this.#life.state !== "closed") {
      this.#put(k, value, l1TtlFor(ttl, entry.ttlMs), entry.tags);
    }
    return value;
  }

  /**
   * Stores a loaded value in both tiers, unless a set/delete/clear or an
   * invalidation made it stale. L2 first: the write announces itself to the
   * other caches of this process, and must not drop this fresh L1 copy.
   */
  #keep(k: string, flight: Flight<V>, value: V | undefined, ttl: number | undefined): void {
    if (value === undefined || !flight.current || this.#life.state === "closed") return;
    try {
      if (flight.writeBack !== "none") {
        const ifAbsent = flight.writeBack === "absent";
        this.#remote?.write(k, value, ttl, flight.tags, flight.gens, ifAbsent);
      }
    } catch (error) {
      this.#logger.error(`async-cache: cannot store key ${JSON.stringify(k)} in L2:`, error);
    }
    // Loaded while L2 could not be asked: early in an outage of a coherent
    // backend nothing would tell this copy it changed, so it is served, not kept.
    if (flight.writeBack === "none" && this.#remote?.keepsUnguarded() === false) return;
    this.#put(k, value, ttl, flight.tags);
  }

  /** Sets an L1 entry and its tags. */
  #put(k: string, value: V, ttl: number | undefined, tags: readonly string[] | undefined): void {
    this.#store.set(k, value, ttl);
    if (tags !== undefined && tags.length > 0) {
      this.#tagged.set(k, tags);
      if (this.#tagged.size > 2 * Math.min(this.#config.maxsize, 1e6) + 1024) this.#pruneTags();
    } else if (this.#tagged.size > 0) this.#tagged.delete(k);
  }

  #pruneTags(): void {
    for (const k of this.#tagged.keys()) {
      if (this.#store.peek(k) === undefined) this.#tagged.delete(k);
    }
  }

  /** Applies an invalidation reported by the L2 tier. */
  #drop(dropped: Dropped): void {
    if (dropped.kind === "all") {
      this.#flights.invalidatePrefix("");
      this.#store.clear();
      this.#tagged.clear();
    } else if (dropped.kind === "keys") {
      for (const k of dropped.keys) {
        this.#flights.invalidate(k);
        this.#store.delete(k);
        this.#tagged.delete(k);
      }
    } else {
      this.#dropTags(dropped.tags);
    }
  }

  #dropTags(tags: readonly string[]): void {
    const set = new Set(tags);
    this.#flights.invalidateTags(set);
    for (const [k, entryTags] of this.#tagged) {
      if (entryTags.some((t) => set.has(t))) {
        this.#store.delete(k);
        this.#tagged.delete(k);
      }
    }
  }

  #dropByPrefix(prefix: string): number {
    this.#flights.invalidatePrefix(prefix);
    const doomed: string[] = [];
    for (const k of this.#store.keys()) if (k.startsWith(prefix)) doomed.push(k);
    for (const k of doomed) this.#store.delete(k);
    return doomed.length;
  }
}

/** Validates a `tags` option: an array of non-empty strings. */
function checkTags(what: string, tags: unknown): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string" && t !== "")) {
    throw new InvalidOptionError(what, "tags", "an array of non-empty strings", tags);
  }
  return tags;
}

/** The tags of a batch's keys, for one lookup of their generations. */
function batchTags(slots: BatchSlot[]): string[] | undefined {
  let tags: Set<string> | undefined;
  for (const slot of slots) {
    for (const waiter of slot.waiters) {
      const list = (waiter.flight as Flight<unknown>).tags;
      if (list !== undefined) { for (const t of list) (tags ??= new Set()).add(t); }
    }
  }
  return tags && [...tags];
}
