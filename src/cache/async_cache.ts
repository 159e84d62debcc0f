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
 * lifecycle (`_lifecycle.ts`) and option checks (`_options.ts`). Serving
 * through trouble (stale-while-revalidate, grace, timeouts, early refresh,
 * lease) hooks in on the miss path only (`_serve.ts`, `_timeouts.ts`,
 * `_lease.ts`); events (`_events.ts`) cost nothing until someone listens.
 *
 * @module
 */
import { BackupError, CacheClosedError, InvalidOptionError } from "../errors.ts";
import type { BreakerState } from "../remote/circuit_breaker.ts";
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
  callBatchLoader,
  pickResult,
  rejectSlot,
  resolveSlot,
} from "./_batcher.ts";
import { type Flight, Flights, type Loader } from "./_flights.ts";
import { type CacheEventName, type CacheListener, Events } from "./_events.ts";
import { awaitLeasedValue } from "./_lease.ts";
import {
  type CacheServingOptions,
  hasServingOptions,
  isNoCache,
  NO_PLAN,
  NO_STORE,
  planOf,
  type ServePlan,
  type ServingOptions,
  ttlFor,
  type TtlFunction,
  type TtlSpec,
} from "./_serve.ts";
import {
  boundWait,
  Cancellations,
  hardLeft,
  type LoaderContext,
  raceSoft,
  reportHardTimeout,
  SOFT_TIMEOUT,
  withHardTimeout,
} from "./_timeouts.ts";
import { Lifecycle } from "./_lifecycle.ts";
import { type CacheMetrics, Counters } from "./_metrics.ts";
import { claimNamespace, releaseNamespace } from "./_namespaces.ts";
import {
  type CacheConfig,
  checkGetOptions,
  checkRefreshOptionNames,
  checkSetOptionNames,
  checkWarmupOptionNames,
  resolveCacheOptions,
} from "./_options.ts";
import { normalizeKey } from "./keys.ts";
import { LruStore } from "./lru_store.ts";
import { TagIndex } from "./_tag_index.ts";

export type { CacheMetrics } from "./_metrics.ts";
export type { CacheEventName, CacheEvents, CacheListener } from "./_events.ts";
export type { LoaderContext } from "./_timeouts.ts";
export type { Loader, LoaderResult } from "./_flights.ts";
export type {
  CacheServingOptions,
  LeaseOptions,
  NoCache,
  ServingOptions,
  TtlFunction,
} from "./_serve.ts";

/** A cache key: a string, or a number (stored as its decimal string, as in Redis). */
export type CacheKey = string | number;

/** Options for {@linkcode AsyncCache} (serving options: see {@linkcode CacheServingOptions}). */
export interface AsyncCacheOptions extends CacheServingOptions {
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
  /** Whether an L1 hit must go through `get` (early refresh, or a `"hit"` listener); `watch` is told of changes. */
  slowHits(watch: (slow: boolean) => void): boolean;
  /** Turns the lease on (for a memoizer, once its remote tier is bound). */
  setLease(lease: CacheConfig["lease"]): void;
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
  readonly #flights: Flights<V>;
  readonly #counters = new Counters();
  readonly #life = new Lifecycle();
  readonly #backup: BackupLink<V> | undefined;
  /** What `get` probes first: the store, or (while a `"hit"` listener exists) an empty one. */
  #probe: LruStore<V>;
  readonly #serve: ServePlan | undefined;
  #lease: CacheConfig["lease"];
  readonly #events: Events;
  readonly #cancels = new Cancellations();
  /** Errors already logged (one load's failure reaches many callers). */
  readonly #reported = new WeakSet<object>();
  readonly #hitWatchers: ((slow: boolean) => void)[] = [];
  /** Tags of the tagged entries in L1, and recent tag drops. */
  readonly #tags: TagIndex;

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
    this.#tags = new TagIndex(
      (k) => this.#store.has(k),
      () => 2 * Math.min(config.maxsize, 1e6) + 1024,
    );
    this.#flights = new Flights<V>(() => this.#tags.mark());
    this.#serve = config.serve;
    // Early refresh needs a look at each hit: hits take the slow path (and only then).
    this.#probe = (config.serve?.refreshAhead ?? 0) > 0
      ? new LruStore<V>(0, config.clock)
      : this.#store;
    this.#lease = config.lease;
    this.#events = new Events(config.logger, (active) => this.#observeHits(active));
    if (config.remote !== undefined) {
      this.#remote = new RemoteTier(
        config.remote,
        config.namespace,
        config.logger,
        config.clock,
        (dropped) => this.#drop(dropped),
      );
      this.#remote.onBreaker = (state, previous) => this.#breakerChanged(state, previous);
    }
    this.#batcher = new Batcher(
      config.batchWindowMs,
      config.maxBatchSize,
      (loader, slots) => this.#runBatch(loader, slots),
      config.clock,
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
        this.#remote.onBreaker = (state, previous) => this.#breakerChanged(state, previous);
      },
      dropByPrefix: (prefix) => this.#dropByPrefix(prefix),
      slowHits: (watch) => {
        this.#hitWatchers.push(watch);
        return this.#probe !== this.#store || (this.#serve?.refreshAhead ?? 0) > 0;
      },
      setLease: (lease) => {
        this.#lease = lease;
      },
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
    const value = this.#probe.get(k);
    if (value !== undefined && options === undefined && this.#life.open) {
      this.#counters.l1Hits++;
      return Promise.resolve(value);
    }
    return this.#checked(key, k, value, options);
  }

  /**
   * Listens to an event: `"hit"`, `"miss"`, `"stale"`, `"load"`, `"error"`,
   * `"timeout"`, `"invalidate"`, `"breaker"` (payloads: {@linkcode CacheEvents}).
   * Listeners run synchronously; one that throws is logged. An event nobody
   * listens to costs nothing.
   *
   * @param name The event.
   * @param listener Called with the event's payload.
   * @returns A function that removes the listener.
   * @throws {TypeError} For an unknown event name.
   *
   * @example Counting stale answers
   * ```ts
   * import { AsyncCache } from "@async-cache/cache";
   * import { assertEquals } from "@std/assert";
   *
   * const cache = new AsyncCache<number>();
   * const seen: string[] = [];
   * const off = cache.on("miss", ({ key }) => seen.push(key));
   * await cache.get("a", { loader: () => 1 });
   * off();
   * await cache.get("b", { loader: () => 2 });
   * assertEquals(seen, ["a"]);
   * ```
   */
  on<N extends CacheEventName>(name: N, listener: CacheListener<N>): () => void {
    return this.#events.on(WHAT, name, listener);
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
      if (options !== undefined) checkSetOptionNames(options);
      if (value === undefined) return this.delete(k).then(() => {});
      const ttl = options?.ttl === undefined
        ? this.#defaultTtl
        : parseDuration(options.ttl, "AsyncCache.set", "ttl");
      const tags = checkTags("AsyncCache.set", options?.tags);
      // First: a refused value must not reach L1 (and the write announces
      // itself to the other caches of this process, dropping their copies).
      this.#remote?.write(k, value, ttl, {
        tags,
        keepMs: this.#serve?.keep,
        onInvalidated: () => this.#forget(k),
      });
      this.#backup?.touch(k);
      this.#flights.invalidate(k);
      this.#put(k, value, ttl, tags, this.#serve, ttl);
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
    if (this.#events.lists.invalidate !== undefined) {
      this.#events.emit("invalidate", { key: k, reason: "delete" });
    }
    this.#tags.delete(k);
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
    this.#tags.clear();
    this.#counters.reset();
    this.#store.evictions = this.#store.expirations = 0;
    this.#remote?.resetCounters();
    if (this.#events.lists.invalidate !== undefined) {
      this.#events.emit("invalidate", { reason: "clear" });
    }
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
    options: RefreshOptions<V>,
  ): Promise<V | undefined> {
    this.#life.check();
    const k = normalizeKey(key);
    if (typeof options?.loader !== "function") {
      throw new InvalidOptionError("AsyncCache.refresh", "loader", "a function", options?.loader);
    }
    checkRefreshOptionNames(options);
    const ttl: TtlSpec = options.ttl === undefined
      ? this.#defaultTtl
      : typeof options.ttl === "function"
      ? options.ttl as TtlSpec
      : parseDuration(options.ttl, "AsyncCache.refresh", "ttl");
    const tags = checkTags("AsyncCache.refresh", options.tags);
    if (this.#backup?.loading !== undefined) {
      await this.#backup.loading;
      this.#life.check();
    }
    this.#flights.invalidate(k);
    const flight = this.#flights.start(k, options.loader, undefined, ttl, tags, this.#serve);
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
    loaders: Record<string, Loader<V>> | Map<CacheKey, Loader<V>>,
    options?: WarmupOptions,
  ): Promise<void> {
    this.#life.check();
    if (options !== undefined) checkWarmupOptionNames(options);
    const entries = loaders instanceof Map ? [...loaders] : Object.entries(loaders);
    const force = options?.force === true;
    const results = await Promise.allSettled(
      entries.map(async ([key, loader]) => {
        if (!force && (await this.get(key)) !== undefined) return;
        await this.refresh(key, { loader, ttl: options?.ttl, tags: options?.tags });
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
   * the `signal` of every loader and batch loader in flight aborts; waiting
   * batches run (their loaders with that signal aborted) and loads in flight
   * finish, while batches and lease waits end at once (their callers get
   * `CacheClosedError`; a lease waiter does not load, a batch loader's
   * result is used only if it returned it synchronously); pending L2 writes
   * and backup saves complete, then L1 is emptied. It never closes the
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
      this.#cancels.abortAll(new CacheClosedError());
      await this.#backup?.idle();
      this.#store.clear();
      this.#batcher.flushAll();
      await this.#flights.settled();
      await this.#remote?.flush();
      this.#remote?.dispose();
      this.#store.clear();
      this.#tags.clear();
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
    let ttl: TtlSpec = this.#defaultTtl;
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
    return this.#served(original, k, options, ttl, tags);
  }

  /**
   * The miss path, with serving: a probe that skipped L1 (a `"hit"`
   * listener, early refresh) looks now; a stale entry may answer.
   */
  #served(
    original: CacheKey,
    k: string,
    options: GetOptions<V> | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
  ): Promise<V | undefined> {
    let plan = this.#serve;
    if (options !== undefined && hasServingOptions(options)) {
      try {
        plan = planOf("AsyncCache.get", options, plan ?? NO_PLAN);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.#probe !== this.#store) {
      const hit = this.#store.get(k);
      if (hit !== undefined) {
        this.#counters.l1Hits++;
        if (this.#events.lists.hit !== undefined) this.#events.emit("hit", { key: k, tier: "l1" });
        if (plan !== undefined && plan.refreshAhead > 0 && options?.loader !== undefined) {
          this.#refreshAhead(original, k, options.loader, ttl, tags, plan);
        }
        return Promise.resolve(hit);
      }
    }
    const loader = options?.loader;
    const batchLoader = options?.batchLoader;
    if (plan !== undefined && plan.keep > 0) {
      const stale = this.#store.stale(k);
      if (stale !== undefined) {
        return this.#staleRead(
          original,
          k,
          stale,
          this.#store.staleAge,
          loader,
          batchLoader,
          ttl,
          tags,
          plan,
        );
      }
    }
    return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
  }

  #miss(
    original: CacheKey,
    k: string,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags?: readonly string[],
    plan?: ServePlan,
  ): Promise<V | undefined> {
    if (!this.#life.open) return Promise.reject(new CacheClosedError());
    const loading = this.#backup?.loading;
    if (loading !== undefined) {
      return loading.then(() => {
        const value = this.#store.get(k);
        if (value === undefined) {
          return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
        }
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
      // This caller's own bound: it stops waiting there; the load goes on for the others.
      return boundWait(pending.promise, plan?.hard ?? 0, this.#config.clock, k);
    }
    if (loader === undefined && batchLoader === undefined && this.#remote === undefined) {
      this.#counters.misses++;
      if (this.#events.lists.miss !== undefined) this.#events.emit("miss", { key: k });
      return Promise.resolve(undefined);
    }
    const flight = this.#flights.start(k, loader, batchLoader, ttl, tags, plan);
    flight.promise = batchLoader !== undefined
      ? this.#batched(original, k, flight, batchLoader, false)
      : this.#lookupThenLoad(original, k, flight);
    return flight.promise;
  }

  /**
   * A read that found only a stale entry (`age` ms past its TTL): within
   * `staleWhileRevalidate` it answers at once and refreshes in the
   * background; within `grace` it waits for the load, up to `softTimeout`,
   * and answers the stale value if the load fails or is slow.
   */
  #staleRead(
    original: CacheKey,
    k: string,
    stale: V,
    age: number,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan: ServePlan,
  ): Promise<V | undefined> {
    const canReload = loader !== undefined || batchLoader !== undefined ||
      this.#remote !== undefined;
    if (!canReload || !this.#life.open) {
      return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
    }
    if (age < plan.swr) {
      this.#revalidate(original, k, loader, batchLoader, ttl, tags, plan, 0);
      return Promise.resolve(this.#servedStale(k, stale, "swr", age));
    }
    if (age >= plan.grace) return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
    const load = this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
    const onError = (error: unknown) => {
      this.#reportFailure(k, "load", error, "stale");
      return this.#servedStale(k, stale, "grace", age);
    };
    if (plan.soft === 0) return load.then(undefined, onError);
    return raceSoft(load, plan.soft, this.#config.clock).then((value) => {
      if (value !== SOFT_TIMEOUT) return value;
      load.catch((error) => this.#reportFailure(k, "refresh", error, "stale"));
      this.#counters.softTimeouts++;
      if (this.#events.lists.timeout !== undefined) {
        this.#events.emit("timeout", { key: k, kind: "soft", timeoutMs: plan.soft });
      }
      return this.#servedStale(k, stale, "soft-timeout", age);
    }, onError);
  }

  #servedStale(k: string, stale: V, reason: "swr" | "grace" | "soft-timeout", age: number): V {
    this.#counters.stale++;
    if (this.#events.lists.stale !== undefined) {
      this.#events.emit("stale", { key: k, reason, ageMs: age });
    }
    return stale;
  }

  /** A hit with a loader: starts one background refresh once the entry passed its `refreshAhead` mark. */
  #refreshAhead(
    original: CacheKey,
    k: string,
    loader: Loader<V>,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan: ServePlan,
  ) {
    if (!this.#store.refreshDue(k) || this.#flights.get(k) !== undefined) return;
    // An L2 copy counts as a refresh only if it outlives the L1 one.
    const left = this.#store.remainingTtl(k) ?? 0;
    this.#revalidate(original, k, loader, undefined, ttl, tags, plan, left === Infinity ? 0 : left);
  }

  /**
   * Starts one background load of `k` (unless one runs): L2 first (an entry
   * with at most `minL2Ttl` ms left does not count), then the loader. Its
   * failure is logged and emitted, never thrown.
   */
  #revalidate(
    original: CacheKey,
    k: string,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan: ServePlan,
    minL2Ttl: number,
  ): void {
    if (this.#flights.get(k) !== undefined || !this.#life.open || this.#backup?.loading) return;
    this.#counters.refreshes++;
    const flight = this.#flights.start(k, loader, batchLoader, ttl, tags, plan);
    flight.promise = this.#lookupThenLoad(original, k, flight, minL2Ttl, true);
    flight.promise.catch((error) => this.#reportFailure(k, "refresh", error, "stale"));
  }

  /** Logs (once per error) and emits a failure the caller does not see. */
  #reportFailure(k: string, op: "load" | "refresh", error: unknown, served: "stale" | "error") {
    if (this.#events.lists.error !== undefined) {
      this.#events.emit("error", { key: k, op, error, served });
    }
    if (typeof error === "object" && error !== null) {
      if (this.#reported.has(error)) return;
      this.#reported.add(error);
    }
    this.#logger.warn(
      `async-cache: ${op === "load" ? "loading" : "refreshing"} key ${
        JSON.stringify(k)
      } failed; serving its stale value:`,
      error,
    );
  }

  async #lookupThenLoad(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    minL2Ttl = 0,
    background = false,
  ): Promise<V | undefined> {
    if (this.#remote !== undefined) {
      flight.lookingUp = true;
      const { entry, stale, failed } = await this.#remote.lookup(k, flight.tags);
      flight.lookingUp = false;
      if (failed) flight.writeBack = "none";
      // L2 holds an entry too old to use: the load replaces it (SET NX would keep it).
      else if (entry !== undefined || stale !== undefined) flight.writeBack = "force";
      // A warm-start snapshot entry: L2's answer wins; used only when L2 cannot answer.
      const held = this.#backup?.take(k);
      if (entry !== undefined && (entry.ttlMs === undefined || entry.ttlMs > minL2Ttl)) {
        this.#flights.end(k, flight);
        return this.#fill(k, flight, entry, flight.ttl);
      }
      if (failed && held !== undefined && flight.current) {
        this.#flights.end(k, flight);
        this.#counters.l1Hits++;
        this.#put(k, held[0], held[1], undefined);
        return held[0];
      }
      if (stale !== undefined && !background) {
        const served = this.#staleFromL2(original, k, flight, stale);
        if (served !== undefined) return served;
      }
    }
    return this.#loadAfterLookup(original, k, flight, background);
  }

  /**
   * An L2 entry past its TTL but within the stale window of this get's plan
   * (L2 keeps entries that long: an expiry is not a change): kept in L1 as
   * stale, then served as a stale L1 entry would be (`staleWhileRevalidate`:
   * at once, refreshed in the background; `grace`: if the load fails).
   * `undefined` when the plan keeps no stale copy this old.
   */
  #staleFromL2(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    stale: TierEntry,
  ): Promise<V | undefined> | undefined {
    const plan = flight.plan;
    const age = -(stale.ttlMs ?? 0);
    if (plan === undefined || age >= plan.keep || !flight.current) return undefined;
    if (this.#tags.droppedSince(stale.tags, flight.mark)) return undefined;
    const value = stale.value as V;
    this.#store.set(k, value, -age, plan.keep);
    this.#tags.set(k, stale.tags);
    if (age < plan.swr) {
      this.#flights.end(k, flight);
      const { loader, batchLoader, ttl, tags } = flight;
      this.#revalidate(original, k, loader, batchLoader, ttl, tags, plan, 0);
      return Promise.resolve(this.#servedStale(k, value, "swr", age));
    }
    if (age >= plan.grace) return undefined;
    return this.#loadAfterLookup(original, k, flight, false).catch((error) => {
      this.#reportFailure(k, "load", error, "stale");
      return this.#servedStale(k, value, "grace", age);
    });
  }

  /** After an L2 lookup that found nothing usable: the loader (or a batch, or the lease). */
  #loadAfterLookup(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    background: boolean,
  ): Promise<V | undefined> {
    const { loader, batchLoader } = flight;
    if (loader === undefined && batchLoader !== undefined) {
      return this.#batched(original, k, flight, batchLoader, true);
    }
    if (!background) {
      this.#counters.misses++;
      if (this.#events.lists.miss !== undefined) this.#events.emit("miss", { key: k });
    }
    if (loader === undefined) {
      this.#flights.end(k, flight);
      return Promise.resolve(undefined);
    }
    if (this.#lease !== undefined && this.#remote !== undefined) {
      return this.#leasedLoad(k, flight, loader);
    }
    return this.#load(k, flight, loader);
  }

  /** Loads under the key's lease in L2, or waits for the holder's value (see `_lease.ts`). */
  async #leasedLoad(k: string, flight: Flight<V>, loader: Loader<V>): Promise<V | undefined> {
    const remote = this.#remote!;
    const lease = this.#lease!;
    let held = await remote.acquireLease(k, lease.ttl);
    if (held === false) {
      this.#counters.leaseWaits++;
      // Not `flight.current`: with coherence, the holder's write invalidates
      // the key here, which is the news we wait for (the value is then
      // answered but not kept in L1: the invalidation wins). The wait ends
      // at the caller's hardTimeout and at once on close() (no load then).
      const hard = flight.plan?.hard ?? 0;
      const context = this.#cancels.context();
      const onTimeout = () => reportHardTimeout(this.#counters, this.#events, k, hard);
      const clock = this.#config.clock;
      const outcome = await awaitLeasedValue(
        remote,
        k,
        lease,
        clock,
        context.signal,
        hard,
        onTimeout,
        flight.tags,
      ).catch((error) => {
        this.#flights.end(k, flight);
        throw error;
      }).finally(() => context.done());
      if (outcome.kind === "value") {
        this.#flights.end(k, flight);
        return this.#fill(k, flight, outcome.entry, flight.ttl);
      }
      held = outcome.kind === "acquired" ? true : undefined;
      flight.plan = hardLeft(flight.plan, outcome.leftMs); // the load ends within the bound too
    }
    if (held !== true) return this.#load(k, flight, loader);
    this.#counters.leases++;
    try {
      return await this.#load(k, flight, loader);
    } finally {
      // After the L2 write of the value (#keep started it): waiters never
      // see the lease gone before the value is there.
      void remote.flush().then(() => remote.releaseLease(k));
    }
  }

  async #load(k: string, flight: Flight<V>, loader: Loader<V>): Promise<V | undefined> {
    this.#counters.loads++;
    const plan = flight.plan;
    const events = this.#events;
    const started = events.lists.load !== undefined ? this.#config.clock.now() : 0;
    const context = this.#cancels.context();
    let ok = false;
    let kept = false;
    try {
      let result = loader(context);
      if (plan !== undefined && plan.hard > 0) {
        result = withHardTimeout(
          Promise.resolve(result),
          plan.hard,
          this.#config.clock,
          k,
          context,
          () => {
            this.#counters.timeouts++;
            if (events.lists.timeout !== undefined) {
              events.emit("timeout", { key: k, kind: "hard", timeoutMs: plan.hard });
            }
          },
        );
      }
      const raw = await result;
      const value = (isNoCache(raw) ? raw.value : raw) as V | undefined;
      kept = this.#keep(k, flight, raw, flight.ttl);
      ok = true;
      return value;
    } catch (error) {
      this.#counters.loadErrors++;
      throw error;
    } finally {
      context.done();
      this.#flights.end(k, flight);
      if (events.lists.load !== undefined) {
        const durationMs = this.#config.clock.now() - started;
        events.emit("load", { key: k, durationMs, ok, cached: kept });
      }
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
      const { entries, stale, failed } = toLook.length === 0
        ? { entries: [], stale: [], failed: false }
        : await remote.lookupMany(toLook.map((s) => s.key), batchTags(toLook));
      for (let i = 0; i < toLook.length; i++) {
        for (const waiter of toLook[i].waiters) {
          const flight = waiter.flight as Flight<V>;
          if (failed) flight.writeBack = "none";
          else if (stale[i] !== undefined) flight.writeBack = "force";
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
    if (this.#events.lists.miss !== undefined) {
      for (const slot of misses) this.#events.emit("miss", { key: slot.key });
    }
    this.#counters.loads += n;
    const events = this.#events;
    const started = events.lists.load !== undefined ? this.#config.clock.now() : 0;
    /** One `load` event per key, as for a loader. */
    const loaded = (slot: BatchSlot, ok: boolean, cached: boolean) => {
      if (events.lists.load === undefined) return;
      const durationMs = this.#config.clock.now() - started;
      events.emit("load", { key: slot.key, durationMs, ok, cached });
    };
    let result: unknown;
    try {
      const onTimeout = (key: string, ms: number) =>
        reportHardTimeout(this.#counters, this.#events, key, ms);
      const context = this.#cancels.context();
      result = await callBatchLoader(loader, misses, context, this.#config.clock, onTimeout);
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
      for (const slot of misses) {
        loaded(slot, false, false);
        rejectSlot(slot, error);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const slot = misses[i];
      try {
        const value = pickResult(result, slot, i) as V | undefined;
        if (value instanceof Error) {
          this.#counters.loadErrors++;
          loaded(slot, false, false);
          rejectSlot(slot, value);
          continue;
        }
        let cached = false;
        for (const waiter of slot.waiters) {
          cached = this.#keep(slot.key, waiter.flight as Flight<V>, value, waiter.ttl) || cached;
        }
        loaded(slot, true, cached);
        resolveSlot(slot, isNoCache(value) ? value.value : value);
      } catch (error) {
        this.#counters.loadErrors++;
        loaded(slot, false, false);
        rejectSlot(slot, error);
      }
    }
  }

  /** Stores an L2 hit in L1 (unless made stale), never longer than it has left in L2. */
  #fill(k: string, flight: Flight<V>, entry: TierEntry, ttl: TtlSpec): V {
    const value = entry.value as V;
    if (this.#events.lists.hit !== undefined) this.#events.emit("hit", { key: k, tier: "l2" });
    if (
      flight.current && value !== undefined && this.#life.state !== "closed" &&
      !this.#tags.droppedSince(entry.tags, flight.mark)
    ) {
      const local = ttlFor(ttl, value, this.#defaultTtl);
      if (local !== NO_STORE) {
        this.#put(k, value, l1TtlFor(local, entry.ttlMs), entry.tags, flight.plan, local);
      }
    }
    return value;
  }

  /**
   * Stores a loaded value (or `noCache(value)`) in both tiers, unless a
   * set/delete/clear or an invalidation made it stale; returns whether L1
   * kept it. L2 first: the write announces itself to the other caches of
   * this process, and must not drop this fresh L1 copy.
   */
  #keep(k: string, flight: Flight<V>, raw: unknown, ttl: TtlSpec): boolean {
    const value = (isNoCache(raw) ? raw.value : raw) as V | undefined;
    if (value === undefined || !flight.current || this.#life.state === "closed") return false;
    const ms = ttlFor(ttl, value, this.#defaultTtl);
    if (ms === NO_STORE || value !== raw) {
      this.#counters.uncached++;
      return false;
    }
    try {
      if (flight.writeBack !== "none") {
        const ifAbsent = flight.writeBack === "absent";
        this.#remote?.write(k, value, ms, {
          tags: flight.tags,
          stamp: flight.stamp,
          ifAbsent,
          keepMs: flight.plan?.keep,
          onInvalidated: () => this.#forget(k),
        });
      }
    } catch (error) {
      this.#logger.error(`async-cache: cannot store key ${JSON.stringify(k)} in L2:`, error);
    }
    // Loaded while L2 could not be asked: early in an outage of a coherent
    // backend nothing would tell this copy it changed, so it is served, not kept.
    if (flight.writeBack === "none" && this.#remote?.keepsUnguarded() === false) return false;
    this.#put(k, value, ms, flight.tags, flight.plan, ms);
    return true;
  }

  /**
   * Sets an L1 entry and its tags; with a serving plan, also kept
   * `plan.keep` ms past its TTL (for stale reads) and marked for early
   * refresh (`full`: the entry's whole TTL, of which `ttl` is what is left).
   */
  #put(
    k: string,
    value: V,
    ttl: number | undefined,
    tags: readonly string[] | undefined,
    plan?: ServePlan,
    full?: number,
  ): void {
    if (plan === undefined || ttl === undefined || ttl === Infinity) {
      this.#store.set(k, value, ttl);
    } else {
      const refresh = plan.refreshAhead > 0 && full !== undefined && full !== Infinity
        ? Math.max(1, ttl - (1 - plan.refreshAhead) * full)
        : 0;
      this.#store.set(k, value, ttl, plan.keep, refresh);
    }
    this.#tags.set(k, tags);
  }

  /** Drops `k` from L1 (its write turned out to be invalidated already). */
  #forget(k: string): void {
    this.#store.delete(k);
    this.#tags.delete(k);
  }

  /** While a `"hit"` listener exists, L1 hits take the slow path (which emits them). */
  #observeHits(active: boolean): void {
    const slow = active || (this.#serve?.refreshAhead ?? 0) > 0;
    this.#probe = slow ? new LruStore<V>(0, this.#config.clock) : this.#store;
    for (const watch of this.#hitWatchers) watch(slow);
  }

  #breakerChanged(state: BreakerState, previous: BreakerState): void {
    if (this.#events.lists.breaker !== undefined) this.#events.emit("breaker", { state, previous });
  }

  /** Applies an invalidation reported by the L2 tier. */
  #drop(dropped: Dropped): void {
    const events = this.#events.lists.invalidate !== undefined ? this.#events : undefined;
    if (dropped.kind === "all") {
      this.#flights.invalidatePrefix("");
      this.#store.clear();
      this.#tags.clear();
      events?.emit("invalidate", { reason: "remote" });
    } else if (dropped.kind === "keys") {
      for (const k of dropped.keys) {
        this.#flights.invalidate(k);
        this.#store.delete(k);
        this.#tags.delete(k);
        events?.emit("invalidate", { key: k, reason: "remote" });
      }
    } else {
      this.#dropTags(dropped.tags);
    }
  }

  #dropTags(tags: readonly string[]): void {
    if (this.#events.lists.invalidate !== undefined) {
      this.#events.emit("invalidate", { tags, reason: "tags" });
    }
    this.#flights.invalidateTags(new Set(tags));
    for (const k of this.#tags.drop(tags)) this.#store.delete(k);
  }

  #dropByPrefix(prefix: string): number {
    if (this.#events.lists.invalidate !== undefined) {
      this.#events.emit("invalidate", { prefix, reason: "prefix" });
    }
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
