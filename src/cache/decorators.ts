/**
 * `AsyncLRU` and `AsyncTTL`: memoize an async function, as a wrapper
 * (`AsyncLRU(opts)(fn)`) or as a standard (TC39) method decorator
 * (`@AsyncTTL(opts) async method() {}`). Both are thin layers over one
 * `AsyncCache` per decorated function; the key is the canonical encoding of
 * the arguments (after `skipArgs`), so it is stable across processes and
 * runtimes and can be shared through `remoteCache`.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import { AsyncCache, type CacheMetrics, l1Hit } from "./async_cache.ts";
import { type Duration, parseDuration } from "../time.ts";
import { canonicalKey } from "./keys.ts";
import { checkMaxsize } from "./lru_store.ts";
import type { Clock } from "../time.ts";

/** Options shared by {@linkcode AsyncLRU} and {@linkcode AsyncTTL}. */
export interface MemoizeOptions {
  /** Most results kept in L1. */
  maxsize?: number;
  /** Leading arguments left out of the key (e.g. a database handle). Default 0. */
  skipArgs?: number;
  /** A shared L2 tier; requires a name (the function's own, or `name`). */
  remoteCache?: RemoteCacheBackend;
  /** Key namespace in the L2 tier. Default: the function's (or method's) name. */
  name?: string;
  /** Where background failures are reported. Default `console`. */
  logger?: Logger;
  /** Time source for TTLs (for tests). */
  clock?: Clock;
}

/** Options for {@linkcode AsyncLRU}. */
export interface AsyncLRUOptions extends MemoizeOptions {
  /** Most results kept in L1. Default 128. */
  maxsize?: number;
}

/** Options for {@linkcode AsyncTTL}. */
export interface AsyncTTLOptions extends MemoizeOptions {
  /** How long a result stays cached: ms, or `"60s"`-style. Required. */
  timeToLive: Duration;
  /** Most results kept in L1. Default 1024. */
  maxsize?: number;
}

/** A memoized function: the original's signature, plus cache controls. */
export interface CachedFunction<A extends unknown[], R> {
  /** Calls through the cache. */
  (...args: A): Promise<R>;
  /** Drops the cached result for these arguments (both tiers). */
  invalidateCache(...args: A): Promise<boolean>;
  /** Drops every cached result of this function and resets its metrics. */
  clearCache(): Promise<void>;
  /** The function's cache metrics. */
  getMetrics(): CacheMetrics;
  /** Calls the original now, caches and returns its result (Python's `use_cache=False`). */
  refresh(...args: A): Promise<R>;
  /** The underlying cache (e.g. to `close()` it). */
  readonly cache: AsyncCache<R>;
}

/** What `AsyncLRU(opts)` and `AsyncTTL(opts)` return: a wrapper that is also a method decorator. */
export interface Memoizer {
  /** Wraps a function. */
  <A extends unknown[], R>(fn: (...args: A) => R): CachedFunction<A, Awaited<R>>;
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
  return memoizer("AsyncLRU", options, 128, undefined);
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
  if (options?.timeToLive === undefined) {
    throw new InvalidOptionError("AsyncTTL", "timeToLive", 'a duration such as "60s"', undefined);
  }
  return memoizer(
    "AsyncTTL",
    options,
    1024,
    parseDuration(options.timeToLive, "AsyncTTL", "timeToLive"),
  );
}

function memoizer(
  what: string,
  options: MemoizeOptions,
  defaultMaxsize: number,
  ttl: Duration | undefined,
): Memoizer {
  const skipArgs = options.skipArgs ?? 0;
  if (!(Number.isInteger(skipArgs) && skipArgs >= 0)) {
    throw new InvalidOptionError(what, "skipArgs", "an integer >= 0", skipArgs);
  }
  const maxsize = checkMaxsize(what, options.maxsize ?? defaultMaxsize);
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new InvalidOptionError(what, "name", "a non-empty string", options.name);
  }
  // Validate the rest now, so bad options fail where they are written.
  const make = (name: string) => {
    const namespace = options.name ?? name;
    if (options.remoteCache !== undefined && namespace === "") {
      throw new InvalidOptionError(
        what,
        "name",
        "given for an anonymous function with a remoteCache (its L2 key namespace)",
        undefined,
      );
    }
    return new AsyncCache<unknown>({
      maxsize,
      defaultTtl: ttl,
      remoteCache: options.remoteCache,
      namespace,
      logger: options.logger,
      clock: options.clock,
    });
  };
  if (options.remoteCache === undefined) make("check");

  // deno-lint-ignore no-explicit-any
  type Fn = (this: any, ...args: any[]) => any;
  const keyOf = skipArgs === 0
    ? (args: unknown[]) => canonicalKey(args)
    : (args: unknown[]) => canonicalKey(args.slice(skipArgs));

  function wrap(fn: Fn, name: string): CachedFunction<unknown[], unknown> {
    const cache = make(name);
    // Hit path: one canonical key, one L1 probe; the loader closure only on a miss.
    const cached = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const key = keyOf(args);
      const hit = l1Hit(cache, key);
      if (hit !== undefined) return Promise.resolve(hit);
      return cache.get(key, { loader: () => fn.apply(this, args) });
    } as CachedFunction<unknown[], unknown>;
    Object.defineProperties(cached, {
      name: { value: name },
      cache: { value: cache },
      invalidateCache: { value: (...args: unknown[]) => cache.delete(keyOf(args)) },
      clearCache: { value: () => cache.clear() },
      getMetrics: { value: () => cache.getMetrics() },
      refresh: {
        value: function (this: unknown, ...args: unknown[]) {
          const self = this === cached ? undefined : this;
          return cache.refresh(keyOf(args), { loader: () => fn.apply(self, args) });
        },
      },
    });
    return cached;
  }

  return function decorate(target: Fn, context?: ClassMethodDecoratorContext): unknown {
    if (typeof target !== "function") {
      throw new InvalidOptionError(what, "target", "a function or a class method", target);
    }
    if (context === undefined) return wrap(target, target.name);
    if (context.kind !== "method") {
      throw new TypeError(
        `${what} decorates functions and class methods: received a ${context.kind}`,
      );
    }
    const cached = wrap(target, String(context.name));
    if (!context.private && !context.static) {
      // Give each instance its own bound copy, so `obj.method.refresh(id)` runs with `this === obj`.
      const key = context.name;
      context.addInitializer(function (this: unknown) {
        // deno-lint-ignore no-this-alias
        const instance = this;
        const bound = (...args: unknown[]) => cached.apply(instance, args);
        Object.defineProperties(bound, {
          name: { value: cached.name },
          cache: { value: cached.cache },
          invalidateCache: { value: cached.invalidateCache },
          clearCache: { value: cached.clearCache },
          getMetrics: { value: cached.getMetrics },
          refresh: { value: (...args: unknown[]) => cached.refresh.apply(instance, args) },
        });
        Object.defineProperty(instance, key, { value: bound, writable: true, configurable: true });
      });
    }
    return cached;
  } as Memoizer;
}
