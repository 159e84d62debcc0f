/**
 * Serving through trouble: the options (stale-while-revalidate, grace,
 * timeouts, early refresh, lease), their validation, TTLs computed from a
 * value, and `noCache`.
 *
 * How stale entries are kept: an entry is stored in L1 with its logical TTL
 * and a *keep* time of `max(staleWhileRevalidate, grace)` past it (see
 * `LruStore.set`). A plain read treats it as expired, so the hit path does
 * not change; the miss path asks the store for the stale value and its age,
 * and decides: within `staleWhileRevalidate` it answers at once and refreshes
 * in the background; within `grace` it waits for the load (up to
 * `softTimeout`) and answers the stale value if the load fails or is slow.
 * L2 entries keep their logical TTL: an instance that never saw the key has
 * nothing stale to serve.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";
import { type Duration, parseDuration, parseOptionalDuration } from "../time.ts";

/** One loader per fleet: see {@linkcode ServingOptions.lease}. */
export interface LeaseOptions {
  /**
   * How long a lease lasts: the longest a crashed holder can make others
   * wait. Give it a little more than a normal load takes. Required.
   */
  ttl: Duration;
  /**
   * How long a caller waits for another instance's value before loading
   * itself. Default: twice `ttl` (so when a holder dies, its lease expires
   * first and one waiter takes it over: still one load). A caller's
   * `hardTimeout` ends the wait sooner (`LoaderTimeoutError` or its graced
   * value, and no load), and so does `close()` (`CacheClosedError`).
   */
  wait?: Duration;
  /** How often a waiter looks for the value in L2. Default: 50 ms (at most `wait`). */
  poll?: Duration;
}

/** Options for serving through a slow or failing data source (on the cache; most also per `get`). */
export interface ServingOptions {
  /**
   * How long past its TTL an entry is still answered at once while one
   * background load refreshes it. Default: none.
   */
  staleWhileRevalidate?: Duration;
  /**
   * How long past its TTL an entry is kept to answer when the loader fails or
   * times out (the failure is counted, logged and emitted, not thrown). Default: none.
   */
  grace?: Duration;
  /**
   * Past this, a caller holding a graced value gets it while the load goes on
   * in the background to refresh the entry. Default: none.
   */
  softTimeout?: Duration;
  /**
   * Past this, the load is abandoned: its `signal` aborts and waiting callers
   * get a `LoaderTimeoutError` (or their graced value). It bounds every wait
   * of the caller that gives it: a get that joins a load in flight stops
   * waiting at its own `hardTimeout` (the load goes on for the others); a
   * `batchLoader` get stops waiting at it, and the batch loader's `signal`
   * aborts once the longest `hardTimeout` of its callers has passed; a lease
   * wait ends at it without loading, and a load after a lease wait gets
   * only what is left of it. Default: none.
   */
  hardTimeout?: Duration;
}

/**
 * Cache-wide serving options: {@linkcode ServingOptions} plus early refresh and the lease.
 *
 * @example A stale value while the source is down
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import { FakeClock } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const clock = new FakeClock();
 * const quiet = { warn() {}, error() {} };
 * const cache = new AsyncCache<string>({ clock, logger: quiet, defaultTtl: "1m", grace: "1h" });
 * await cache.get("price", { loader: () => "42 EUR" });
 * clock.advance(5 * 60_000); // expired, but within grace
 * const down = () => Promise.reject(new Error("source down"));
 * assertEquals(await cache.get("price", { loader: down }), "42 EUR");
 * assertEquals(cache.getMetrics().stale, 1);
 * await cache.close();
 * ```
 */
export interface CacheServingOptions extends ServingOptions {
  /**
   * A fraction of the TTL (0 < f < 1, e.g. `0.8`): a hit with a loader after
   * this much of the entry's TTL starts one background refresh. Default: none.
   */
  refreshAhead?: number;
  /**
   * One loader per fleet: on an L2 miss, take a lease in L2 (`SET NX PX` on
   * Redis) before loading; instances that do not get it wait for the value to
   * appear in L2 (polling), up to `wait` (or the caller's `hardTimeout`, or
   * `close()`), then load themselves. A backend
   * without leases (the default of `RemoteCacheBackend`) turns it off.
   * Needs `remoteCache`. Default: none.
   */
  lease?: LeaseOptions;
}

/** What a load or a read does with staleness and time, resolved to ms (0: off). */
export interface ServePlan {
  swr: number;
  grace: number;
  /** `max(swr, grace)`: how long an entry stays in L1 past its TTL. */
  keep: number;
  soft: number;
  hard: number;
  /** The early-refresh fraction (0: off). */
  refreshAhead: number;
}

/** The lease, resolved to ms. */
export interface LeasePlan {
  ttl: number;
  wait: number;
  poll: number;
}

/** The plan with everything off (the base of a `get`'s own options on a cache without any). */
export const NO_PLAN: ServePlan = { swr: 0, grace: 0, keep: 0, soft: 0, hard: 0, refreshAhead: 0 };

function ms(value: unknown, what: string, option: string): number {
  return parseOptionalDuration(value, what, option) ?? 0;
}

/**
 * The cache-wide plan, or `undefined` when every serving option is off (the
 * cache then runs exactly as before).
 *
 * @throws {InvalidOptionError} Naming the bad option.
 */
export function resolveServing(
  what: string,
  options: CacheServingOptions,
): ServePlan | undefined {
  const { refreshAhead } = options;
  if (
    refreshAhead !== undefined &&
    !(typeof refreshAhead === "number" && refreshAhead > 0 && refreshAhead < 1)
  ) {
    throw new InvalidOptionError(
      what,
      "refreshAhead",
      "a fraction of the TTL between 0 and 1 (e.g. 0.8)",
      refreshAhead,
    );
  }
  const plan = planOf(what, options, NO_PLAN);
  plan.refreshAhead = refreshAhead ?? 0;
  if (plan.keep === 0 && plan.soft === 0 && plan.hard === 0 && plan.refreshAhead === 0) {
    return undefined;
  }
  return plan;
}

/**
 * The plan of one `get` with its own serving options over the cache's (`base`).
 *
 * @throws {InvalidOptionError} Naming the bad option.
 */
export function planOf(what: string, options: ServingOptions, base: ServePlan): ServePlan {
  const swr = options.staleWhileRevalidate === undefined
    ? base.swr
    : ms(options.staleWhileRevalidate, what, "staleWhileRevalidate");
  const grace = options.grace === undefined ? base.grace : ms(options.grace, what, "grace");
  const soft = options.softTimeout === undefined
    ? base.soft
    : ms(options.softTimeout, what, "softTimeout");
  const hard = options.hardTimeout === undefined
    ? base.hard
    : ms(options.hardTimeout, what, "hardTimeout");
  if (soft !== 0 && hard !== 0 && soft >= hard) {
    throw new InvalidOptionError(
      what,
      "softTimeout",
      `shorter than hardTimeout (${hard} ms)`,
      soft,
    );
  }
  const keep = Math.max(swr, grace);
  if (!Number.isFinite(keep)) {
    throw new InvalidOptionError(
      what,
      swr === keep ? "staleWhileRevalidate" : "grace",
      "a finite duration",
      keep,
    );
  }
  return { swr, grace, keep, soft, hard, refreshAhead: base.refreshAhead };
}

/** Whether a `get`'s options carry any serving option of their own. */
export function hasServingOptions(options: ServingOptions): boolean {
  return options.staleWhileRevalidate !== undefined || options.grace !== undefined ||
    options.softTimeout !== undefined || options.hardTimeout !== undefined;
}

/**
 * Checks the `lease` option.
 *
 * @throws {InvalidOptionError} Naming the bad field.
 */
export function resolveLease(
  what: string,
  lease: LeaseOptions | undefined,
  hasRemote: boolean,
): LeasePlan | undefined {
  if (lease === undefined) return undefined;
  if (lease === null || typeof lease !== "object") {
    throw new InvalidOptionError(what, "lease", "an object { ttl, wait?, poll? }", lease);
  }
  if (!hasRemote) {
    throw new InvalidOptionError(
      what,
      "lease",
      "given only with a remoteCache (the lease lives in L2)",
      lease,
    );
  }
  const ttl = parseDuration(lease.ttl, what, "lease.ttl");
  const wait = lease.wait === undefined ? 2 * ttl : parseDuration(lease.wait, what, "lease.wait");
  const poll = lease.poll === undefined
    ? Math.min(50, wait)
    : parseDuration(lease.poll, what, "lease.poll");
  if (!Number.isFinite(ttl) || !Number.isFinite(wait)) {
    throw new InvalidOptionError(what, "lease", "finite ttl and wait", lease);
  }
  return { ttl, wait, poll };
}

// ---- TTL from the value, and "do not cache" ---------------------------

/**
 * A TTL computed from the loaded value: a duration, `0` for "do not cache
 * this value", or `undefined` for the cache's `defaultTtl`.
 */
export type TtlFunction<V> = (value: V) => Duration | 0 | undefined;

/** A TTL as the cache carries it: ms, a function of the value, or none. */
export type TtlSpec = number | TtlFunction<never> | undefined;

/** What a `TtlFunction` returned: ms, `undefined` (no expiry) or `NO_STORE`. */
export const NO_STORE = -1;

/**
 * The TTL for `value`: a fixed TTL as is; a function's result parsed
 * (`0` → `NO_STORE`, `undefined` → `fallback`).
 *
 * @throws {InvalidOptionError} When the function returns something else.
 */
export function ttlFor(
  spec: TtlSpec,
  value: unknown,
  fallback: number | undefined,
): number | undefined {
  if (typeof spec !== "function") return spec;
  const out = (spec as (v: unknown) => unknown)(value);
  if (out === undefined) return fallback;
  if (out === 0) return NO_STORE;
  return parseDuration(out, "AsyncCache.get", "ttl (the value returned by the ttl function)");
}

const NO_CACHE_BRAND = Symbol("async-cache.noCache");

/** A loaded value the cache must return but not store; made by {@linkcode noCache}. */
export interface NoCache<V> {
  /** The value to return. */
  readonly value: V;
  /** @ignore */
  readonly [NO_CACHE_BRAND]: true;
}

/** `R` with {@linkcode NoCache} wrappers removed (what callers of a memoized function get). */
export type Unwrapped<R> = R extends NoCache<infer T> ? T : R;

/**
 * Marks a loader's result "do not cache": the callers waiting for this load
 * get `value`, and neither tier stores it (e.g. an error page, a partial
 * result, `Cache-Control: no-store`). A TTL function returning `0` does the
 * same, decided from the value.
 *
 * @param value The value to return.
 * @returns A wrapper only the cache unwraps.
 *
 * @example
 * ```ts
 * import { AsyncCache, noCache } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const cache = new AsyncCache<string>();
 * let calls = 0;
 * const loader = () => { calls++; return noCache("partial"); };
 * assertEquals(await cache.get("k", { loader }), "partial");
 * assertEquals(await cache.get("k", { loader }), "partial");
 * assertEquals(calls, 2);
 * ```
 */
export function noCache<V>(value: V): NoCache<V> {
  return { value, [NO_CACHE_BRAND]: true } as NoCache<V>;
}

/** Whether `x` came from {@linkcode noCache}. */
export function isNoCache(x: unknown): x is NoCache<unknown> {
  return typeof x === "object" && x !== null &&
    (x as Record<symbol, unknown>)[NO_CACHE_BRAND] === true;
}
