/**
 * `AsyncCache`: the two-tier cache. L1 is an in-process LRU + TTL store; L2
 * is an optional shared `RemoteCacheBackend` (Redis by default).
 *
 * Hot path: an L1 hit is one `Map` lookup and two typed-array writes in
 * `LruStore.get`, then `Promise.resolve(value)`: no closure, no clock read
 * unless TTLs are in use. This file is the public API; everything else
 * lives in modules of one concern each: the state and the drops
 * (`_cache_state.ts`), the miss path (`_miss_path.ts`: serving, loads,
 * batches, the lease), the tag index (`_tag_index.ts`), load tracking
 * (`_flights.ts`), batching (`_batcher.ts`), the L2 tier
 * (`../remote/_remote_tier.ts`), the disk snapshot (`_backup_link.ts`),
 * counters (`_metrics.ts`), lifecycle (`_lifecycle.ts`), option checks
 * (`_options.ts`) and the option types (`cache_options.ts`). Events
 * (`_events.ts`) cost nothing until someone listens.
 *
 * @module
 */
import type { Probes } from "./_probe.ts";
import type { RemoteTier } from "../remote/_remote_tier.ts";
import { BackupError, CacheClosedError, InvalidOptionError } from "../errors.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import { parseDuration } from "../time.ts";
import type { Loader } from "./_flights.ts";
import type { CacheEventName, CacheListener } from "./_events.ts";
import type { TtlSpec } from "./_serve.ts";
import type { Lifecycle } from "./_lifecycle.ts";
import type { CacheMetrics, Counters } from "./_metrics.ts";
import { checkReservedNamespace, claimNamespace, releaseNamespace } from "./_namespaces.ts";
import {
  type CacheConfig,
  checkRefreshOptionNames,
  checkSetOptionNames,
  checkWarmupOptionNames,
  resolveCacheOptions,
} from "./_options.ts";
import { normalizeKey } from "./keys.ts";
import type { L1Store } from "./_l1_store.ts";
import { checkTags } from "./_tag_index.ts";
import { MissPath } from "./_miss_path.ts";
import type {
  AsyncCacheOptions,
  CacheKey,
  GetOptions,
  RefreshOptions,
  SetOptions,
  WarmupOptions,
} from "./cache_options.ts";

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
export type {
  AsyncCacheOptions,
  CacheKey,
  EvictionPolicy,
  GetOptions,
  RefreshOptions,
  SetOptions,
  WarmupOptions,
} from "./cache_options.ts";

/** What the memoizers and AgentCache reach inside a cache (not exported from `mod.ts`). */
export interface CacheInternals<V> {
  readonly store: L1Store<V>;
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
  /** The miss path's instrumentation hooks (`@async-cache/cache/otel`). */
  readonly probes: Probes;
  /** The L2 tier now (bound at creation, or later by a memoizer), if any. */
  remote(): RemoteTier | undefined;
  /** Listens to the cache's events. */
  on: AsyncCache<V>["on"];
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
  /** The state and the miss path (`_cache_state.ts`, `_miss_path.ts`). */
  readonly #core: MissPath<V>;
  /** The core's counters and lifecycle, held here too for the L1 hit path. */
  readonly #counters: Counters;
  readonly #life: Lifecycle;
  #claim: { backend: RemoteCacheBackend; namespace: string } | undefined;

  /**
   * Creates a cache; nothing is allocated per entry until entries arrive.
   *
   * @param options See {@linkcode AsyncCacheOptions}.
   * @throws {InvalidOptionError} When an option is out of range or of the wrong type.
   */
  constructor(options: AsyncCacheOptions = {}) {
    const config = resolveCacheOptions(WHAT, options);
    if (config.remote !== undefined) {
      checkReservedNamespace(WHAT, "namespace", config.remote, config.namespace);
    }
    const core = new MissPath<V>(config);
    this.#core = core;
    this.#counters = core.counters;
    this.#life = core.life;
    this.ready = core.ready;
    internals.set(this, {
      store: this.#core.store,
      counters: this.#counters,
      life: this.#life,
      bindRemote: (what, backend, namespace) => {
        claimNamespace(what, backend, namespace, this);
        this.#claim = { backend, namespace };
        this.#core.bindRemote(backend, namespace);
      },
      dropByPrefix: (prefix) => this.#core.dropByPrefix(prefix),
      slowHits: (watch) => {
        this.#core.hitWatchers.push(watch);
        return this.#core.probe !== this.#core.store || (this.#core.serve?.refreshAhead ?? 0) > 0;
      },
      setLease: (lease) => {
        this.#core.lease = lease;
      },
      probes: this.#core.probes,
      remote: () => this.#core.remote,
      on: (name, listener) => this.on(name, listener),
    } as CacheInternals<V> as CacheInternals<unknown>);
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
    const value = this.#core.probe.get(k);
    if (value !== undefined && options === undefined && this.#life.open) {
      this.#counters.l1Hits++;
      return Promise.resolve(value);
    }
    return this.#core.checked(key, k, value, options);
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
    return this.#core.events.on(WHAT, name, listener);
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
        ? this.#core.defaultTtl
        : parseDuration(options.ttl, "AsyncCache.set", "ttl");
      const tags = checkTags("AsyncCache.set", options?.tags);
      // First: a refused value must not reach L1 (and the write announces
      // itself to the other caches of this process, dropping their copies).
      this.#core.remote?.write(k, value, ttl, {
        tags,
        keepMs: this.#core.serve?.keep,
        onInvalidated: () => this.#core.forget(k),
      });
      this.#core.backup?.touch(k);
      this.#core.flights.invalidate(k);
      this.#core.put(k, value, ttl, tags, this.#core.serve, ttl);
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
    this.#core.backup?.touch(k);
    this.#core.flights.invalidate(k);
    const had = this.#core.store.delete(k);
    if (this.#core.events.lists.invalidate !== undefined) {
      this.#core.events.emit("invalidate", { key: k, reason: "delete" });
    }
    this.#core.tags.delete(k);
    await this.#core.remote?.delete(k);
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
    this.#core.dropTags(list);
    await this.#core.remote?.invalidateTags(list);
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
    this.#core.backup?.cleared();
    this.#core.flights.invalidatePrefix("");
    this.#core.store.clear();
    this.#core.tags.clear();
    this.#counters.reset();
    const store = this.#core.store;
    store.evictions =
      store.expirations =
      store.byteEvictions =
      store.rejections =
        0;
    this.#core.remote?.resetCounters();
    if (this.#core.events.lists.invalidate !== undefined) {
      this.#core.events.emit("invalidate", { reason: "clear" });
    }
    await this.#core.remote?.clear();
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
      ? this.#core.defaultTtl
      : typeof options.ttl === "function"
      ? options.ttl as TtlSpec
      : parseDuration(options.ttl, "AsyncCache.refresh", "ttl");
    const tags = checkTags("AsyncCache.refresh", options.tags);
    if (this.#core.backup?.loading !== undefined) {
      await this.#core.backup.loading;
      this.#life.check();
    }
    this.#core.flights.invalidate(k);
    const flight = this.#core.flights.start(
      k,
      options.loader,
      undefined,
      ttl,
      tags,
      this.#core.serve,
    );
    flight.writeBack = "force";
    const run = () => this.#core.load(k, flight, options.loader);
    const probe = this.#core.probes.active;
    flight.promise = probe === undefined ? run() : probe.flight(k, flight, run);
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
    if (this.#core.backup === undefined) {
      throw new BackupError(
        "AsyncCache.saveToBackup: this cache has no backup: create it with { backup: new DiskBackend(path) }",
      );
    }
    const { clock, maxsize } = this.#core.config;
    await this.#core.backup.save(this.#core.store, clock, maxsize, this.#core.logger);
  }

  /** Waits for every background L2 write started so far. Never rejects for L2 failures. */
  async flush(): Promise<void> {
    await this.#core.remote?.flush();
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
      this.#core.cancels.abortAll(new CacheClosedError());
      await this.#core.backup?.idle();
      this.#core.store.clear();
      this.#core.batcher.flushAll();
      await this.#core.flights.settled();
      await this.#core.remote?.flush();
      this.#core.remote?.dispose();
      this.#core.store.clear();
      this.#core.tags.clear();
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
    const remote = this.#core.remote;
    return this.#counters.snapshot(
      this.#core.store,
      remote?.counters,
      remote?.state ?? "none",
      remote?.coherence ?? "none",
    );
  }
}
