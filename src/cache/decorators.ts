/**
 * `AsyncLRU` and `AsyncTTL`: memoize an async function, as a wrapper
 * (`AsyncLRU(opts)(fn)`) or as a standard (TC39) method decorator
 * (`@AsyncTTL(opts) async method() {}`). Both are thin layers over one
 * `AsyncCache` per decorated function; the key is the canonical encoding of
 * the arguments (after `skipArgs`), or what the `key` option returns, so it
 * is stable across processes and runtimes and can be shared through
 * `remoteCache`.
 *
 * Namespaces: with a `remoteCache`, each memoized function owns a namespace
 * in it: `name` when given, else `Class.method` for a method (`Class.method`
 * for a static one too) or the function's own name. Two functions claiming
 * one namespace on one backend in one process is an `InvalidOptionError`
 * asking for a distinct `name`, raised when the function is wrapped (for an
 * instance method: when its class gets its first instance).
 *
 * Serving options (`staleWhileRevalidate`, `grace`, `softTimeout`,
 * `hardTimeout`, `refreshAhead`, `lease`) are the cache's; the hit path
 * probes L1 directly unless early refresh or a `"hit"` listener needs the
 * cache's own `get` (see `slowHits`).
 *
 * @module
 */
import { registerFacade } from "./_probe.ts";
import { InvalidOptionError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import { type Clock, type Duration, parseDuration, systemClock } from "../time.ts";
import {
  AsyncCache,
  type CacheEventName,
  cacheInternals,
  type CacheListener,
  type CacheMetrics,
} from "./async_cache.ts";
import { LruStore } from "./lru_store.ts";
import type { CacheServingOptions, TtlFunction, Unwrapped } from "./_serve.ts";
import type { EvictionPolicy } from "./cache_options.ts";
import { canonicalKey } from "./keys.ts";
import { type Fn, memoizer, type Site } from "./_memoize.ts";
import { resolveCacheOptions } from "./_options.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";

const MEMOIZE_NAMES = {
  maxsize: true,
  skipArgs: true,
  remoteCache: true,
  name: true,
  key: true,
  logger: true,
  clock: true,
  staleWhileRevalidate: true,
  grace: true,
  softTimeout: true,
  hardTimeout: true,
  refreshAhead: true,
  lease: true,
  maxBytes: true,
  sizeOf: true,
} as const satisfies Record<keyof MemoizeOptions, true>;
const LRU_NAMES = optionNames<AsyncLRUOptions>(MEMOIZE_NAMES);
const TTL_NAMES = optionNames<AsyncTTLOptions>({
  ...MEMOIZE_NAMES,
  timeToLive: true,
  policy: true,
});

/** Options shared by {@linkcode AsyncLRU} and {@linkcode AsyncTTL} (serving options: see {@linkcode CacheServingOptions}). */
export interface MemoizeOptions extends CacheServingOptions {
  /** Most results kept in L1. */
  maxsize?: number;
  /** Leading arguments left out of the key (e.g. a database handle). Default 0. */
  skipArgs?: number;
  /** A shared L2 tier (never closed by the cache: its creator closes it). */
  remoteCache?: RemoteCacheBackend;
  /**
   * The function's namespace in the L2 tier, unique per backend. Default:
   * `Class.method` for a method, the function's name for a function.
   */
  name?: string;
  /**
   * Makes the cache key from the arguments (after `skipArgs`), e.g. for
   * class instances, which the default canonical key refuses. Default:
   * the canonical encoding of the arguments.
   */
  // deno-lint-ignore no-explicit-any
  key?: (...args: any[]) => string;
  /** Where background failures are reported. Default `console`. */
  logger?: Logger;
  /** Time source for TTLs (for tests). */
  clock?: Clock;
  /** A budget for L1 in bytes, beside `maxsize` (see `AsyncCacheOptions.maxBytes`). Default: none. */
  maxBytes?: number;
  /** The size in bytes of a result, for `maxBytes`. Default: its encoded length. */
  sizeOf?(value: unknown, key: string): number;
}

/** Options for {@linkcode AsyncLRU}. */
export interface AsyncLRUOptions extends MemoizeOptions {
  /** Most results kept in L1. Default 128. */
  maxsize?: number;
}

/** Options for {@linkcode AsyncTTL}. */
export interface AsyncTTLOptions extends MemoizeOptions {
  /**
   * How long a result stays cached: ms, or `"60s"`-style; or a function of
   * the result returning one (`0`: do not cache it). Required.
   */
  // deno-lint-ignore no-explicit-any
  timeToLive: Duration | TtlFunction<any>;
  /** Most results kept in L1. Default 1024. */
  maxsize?: number;
  /** Which results L1 keeps when full: `"lru"` (default) or `"tinylfu"` (see `AsyncCacheOptions.policy`). */
  policy?: EvictionPolicy;
}

/** A memoized function: the original's signature, plus cache controls. */
export interface CachedFunction<A extends unknown[], R> {
  /** Calls through the cache. */
  (...args: A): Promise<R>;
  /** Drops the cached result for these arguments (both tiers). */
  invalidateCache(...args: A): Promise<boolean>;
  /** Drops every cached result of this function (in L2: its namespace only) and resets its metrics. */
  clearCache(): Promise<void>;
  /** The function's cache metrics. */
  getMetrics(): CacheMetrics;
  /** Calls the original now, caches and returns its result (Python's `use_cache=False`). */
  refresh(...args: A): Promise<R>;
  /** The underlying cache (e.g. to `close()` it, which frees its namespace). */
  readonly cache: AsyncCache<R>;
  /** Listens to the cache's events (see `AsyncCache.on`); returns the unsubscribe function. */
  on<N extends CacheEventName>(name: N, listener: CacheListener<N>): () => void;
}

/** What `AsyncLRU(opts)` and `AsyncTTL(opts)` return: a wrapper that is also a method decorator. */
export interface Memoizer {
  /** Wraps a function (a `noCache(value)` result is returned as `value`, not cached). */
  <A extends unknown[], R>(fn: (...args: A) => R): CachedFunction<A, Unwrapped<Awaited<R>>>;
  /** Decorates an async class method (the cache is shared by all instances). */
  <This, A extends unknown[], R>(
    method: (this: This, ...args: A) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
  ): (this: This, ...args: A) => Promise<R>;
}

/**
 * Memoizes with an LRU bound and no expiry.
 *
 * @param options `maxsize` (default 128), `skipArgs`, `remoteCache`, `name`.
 * @throws {InvalidOptionError} When an option is invalid.
 *
 * @example Wrapping a function
 * ```ts
 * import { AsyncLRU } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * let calls = 0;
 * const getProduct = AsyncLRU({ maxsize: 128 })(async (id: number) => {
 *   calls++;
 *   return { id, name: `product ${id}` };
 * });
 * await getProduct(7);
 * await getProduct(7);
 * assertEquals(calls, 1);
 * assertEquals(getProduct.getMetrics().hits, 1);
 * await getProduct.invalidateCache(7);
 * await getProduct(7);
 * assertEquals(calls, 2);
 * ```
 */
export function AsyncLRU(options: AsyncLRUOptions = {}): Memoizer {
  return memoize("AsyncLRU", options, 128, undefined);
}

/**
 * Memoizes with a time to live (and an LRU bound).
 *
 * @param options `timeToLive` (required), `maxsize` (default 1024), `skipArgs`, `remoteCache`, `name`.
 * @throws {InvalidOptionError} When an option is invalid or `timeToLive` is missing.
 *
 * @example As a method decorator
 * ```ts
 * import { AsyncTTL } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * class Sessions {
 *   loads = 0;
 *   @AsyncTTL({ timeToLive: "60s" })
 *   async get(id: string) {
 *     this.loads++;
 *     return { id };
 *   }
 * }
 * const sessions = new Sessions();
 * await sessions.get("a");
 * await sessions.get("a");
 * assertEquals(sessions.loads, 1);
 * ```
 */
export function AsyncTTL(options: AsyncTTLOptions): Memoizer {
  if (options !== null && typeof options === "object") {
    checkOptionNames("AsyncTTL", options, TTL_NAMES);
  }
  if (options?.timeToLive === undefined) {
    throw new InvalidOptionError("AsyncTTL", "timeToLive", 'a duration such as "60s"', undefined);
  }
  const ttl = options.timeToLive;
  return memoize(
    "AsyncTTL",
    options,
    1024,
    typeof ttl === "function" ? ttl : parseDuration(ttl, "AsyncTTL", "timeToLive"),
  );
}

function memoize(
  what: string,
  options: MemoizeOptions,
  defaultMaxsize: number,
  // deno-lint-ignore no-explicit-any
  ttl: number | TtlFunction<any> | undefined,
): Memoizer {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(what, "options", "an object", options);
  }
  if (what === "AsyncLRU") checkOptionNames(what, options, LRU_NAMES);
  const skipArgs = options.skipArgs ?? 0;
  if (!(Number.isInteger(skipArgs) && skipArgs >= 0)) {
    throw new InvalidOptionError(what, "skipArgs", "an integer >= 0", skipArgs);
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new InvalidOptionError(what, "name", "a non-empty string", options.name);
  }
  const customKey = options.key;
  if (customKey !== undefined && typeof customKey !== "function") {
    throw new InvalidOptionError(what, "key", "a function returning a string", customKey);
  }
  const remote = options.remoteCache;
  // Checked now, so a bad option fails where it is written.
  const ttlFn = typeof ttl === "function" ? ttl : undefined;
  const config = {
    maxsize: options.maxsize,
    defaultTtl: ttlFn === undefined ? ttl as number | undefined : undefined,
    remoteCache: remote,
    logger: options.logger,
    clock: options.clock,
    staleWhileRevalidate: options.staleWhileRevalidate,
    grace: options.grace,
    softTimeout: options.softTimeout,
    hardTimeout: options.hardTimeout,
    refreshAhead: options.refreshAhead,
    policy: (options as AsyncTTLOptions).policy,
    maxBytes: options.maxBytes,
    sizeOf: options.sizeOf,
  };
  const { lease } = resolveCacheOptions(what, { ...config, lease: options.lease }, defaultMaxsize);
  const keyOf = customKey !== undefined
    ? (args: unknown[]) => checkKey(what, customKey(...args.slice(skipArgs)))
    : skipArgs === 0
    ? (args: unknown[]) => canonicalKey(args)
    : (args: unknown[]) => canonicalKey(args.slice(skipArgs));

  const wrap = (fn: Fn, site: Site) => {
    const cache = new AsyncCache<unknown>({
      ...config,
      maxsize: options.maxsize ?? defaultMaxsize,
      remoteCache: undefined,
    });
    const { store, counters, life, bindRemote, slowHits, setLease } = cacheInternals(cache);
    const never = new LruStore<unknown>(0, options.clock ?? systemClock);
    let probe = store;
    if (slowHits((slow) => probe = slow ? never : store)) probe = never;
    let bind: ((namespace: string) => void) | undefined;
    if (remote !== undefined) {
      bind = (namespace: string) => {
        if (namespace === "" || namespace.startsWith(".")) {
          throw new InvalidOptionError(
            what,
            "name",
            "given for an anonymous function or class with a remoteCache (its L2 namespace)",
            undefined,
          );
        }
        bindRemote(what, remote, namespace);
        setLease(lease);
      };
      if (options.name !== undefined) bind(options.name);
      else if (!site.method) bind(site.name);
      if (options.name !== undefined || !site.method) bind = undefined;
    }
    // Hit path: one key, one L1 probe; the loader closure only on a miss.
    const cached = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      let key: string;
      try {
        key = keyOf(args);
      } catch (error) {
        return Promise.reject(error);
      }
      const hit = probe.get(key);
      if (hit !== undefined && life.open) {
        counters.l1Hits++;
        return Promise.resolve(hit);
      }
      const loader = () => fn.apply(this, args);
      return cache.get(key, ttlFn === undefined ? { loader } : { loader, ttl: ttlFn });
    } as CachedFunction<unknown[], unknown>;
    registerFacade(cached, cache);
    Object.defineProperties(cached, {
      name: { value: site.name },
      cache: { value: cache },
      invalidateCache: {
        value: (...args: unknown[]) => {
          try {
            return cache.delete(keyOf(args));
          } catch (error) {
            return Promise.reject(error);
          }
        },
      },
      clearCache: { value: () => cache.clear() },
      getMetrics: { value: () => cache.getMetrics() },
      on: {
        value: <N extends CacheEventName>(name: N, listener: CacheListener<N>) =>
          cache.on(name, listener),
      },
      refresh: {
        value: function (this: unknown, ...args: unknown[]) {
          const self = this === cached ? undefined : this;
          try {
            return cache.refresh(keyOf(args), {
              loader: () => fn.apply(self, args),
              ttl: ttlFn,
            });
          } catch (error) {
            return Promise.reject(error);
          }
        },
      },
    });
    return { fn: cached, bind };
  };
  return memoizer(what, wrap) as Memoizer;
}

function checkKey(what: string, key: unknown): string {
  if (typeof key !== "string") {
    throw new InvalidOptionError(what, "key", "a function returning a string", key);
  }
  return key;
}
