/**
 * Validation of cache options, shared by `AsyncCache` and the memoizers (so a
 * bad option fails where it is written, with no throwaway cache).
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";
import { type Logger, resolveLogger } from "../logger.ts";
import type { DiskBackend } from "../persist/disk_backend.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import {
  type LeasePlan,
  resolveLease,
  resolveServing,
  type ServePlan,
  type TtlSpec,
} from "./_serve.ts";
import type {
  AsyncCacheOptions,
  GetOptions,
  RefreshOptions,
  SetOptions,
  WarmupOptions,
} from "./async_cache.ts";
import type { EvictionPolicy } from "./cache_options.ts";
import { type Clock, parseDuration, parseOptionalDuration, systemClock } from "../time.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";
import type { LeaseOptions, ServingOptions } from "./_serve.ts";

/** The options every cache understands, before validation: `AsyncCache`'s. */
export type CacheOptionsInput = AsyncCacheOptions;

/** The options after defaults and validation. */
export interface CacheConfig {
  maxsize: number;
  policy: EvictionPolicy;
  /** `Infinity` without a budget. */
  maxBytes: number;
  sizeOf: ((value: unknown, key: string) => number) | undefined;
  defaultTtl: number | undefined;
  batchWindowMs: number;
  maxBatchSize: number;
  remote: RemoteCacheBackend | undefined;
  namespace: string;
  logger: Logger;
  clock: Clock;
  backup: DiskBackend | undefined;
  /** Serving through trouble; `undefined` when every such option is off. */
  serve: ServePlan | undefined;
  lease: LeasePlan | undefined;
}

/**
 * Validates a capacity option: an integer >= 0 (0 stores nothing), or `Infinity`.
 *
 * @throws {InvalidOptionError} Naming `what` and `maxsize`.
 */
export function checkMaxsize(what: string, maxsize: unknown): number {
  if (!(maxsize === Infinity || (Number.isInteger(maxsize) && (maxsize as number) >= 0))) {
    throw new InvalidOptionError(what, "maxsize", "an integer >= 0 or Infinity", maxsize);
  }
  return maxsize as number;
}

/** The L1 options every cache takes: `policy`, `maxBytes`, `sizeOf`, checked. */
export interface StoreOptions {
  policy: EvictionPolicy;
  maxBytes: number;
  sizeOf: ((value: unknown, key: string) => number) | undefined;
}

/**
 * Validates `policy`, `maxBytes` and `sizeOf` (the caches, the memoizers and AgentCache share them).
 *
 * @throws {InvalidOptionError} Naming the bad option.
 */
export function checkStoreOptions(
  what: string,
  options: { policy?: unknown; maxBytes?: unknown; sizeOf?: unknown },
): StoreOptions {
  const policy = options.policy ?? "lru";
  if (policy !== "lru" && policy !== "tinylfu") {
    throw new InvalidOptionError(what, "policy", '"lru" or "tinylfu"', policy);
  }
  const maxBytes = options.maxBytes ?? Infinity;
  if (!(maxBytes === Infinity || (Number.isInteger(maxBytes) && (maxBytes as number) > 0))) {
    throw new InvalidOptionError(what, "maxBytes", "an integer > 0 or Infinity", maxBytes);
  }
  const sizeOf = options.sizeOf;
  if (sizeOf !== undefined && typeof sizeOf !== "function") {
    throw new InvalidOptionError(what, "sizeOf", "a function (value, key) => bytes", sizeOf);
  }
  return {
    policy,
    maxBytes: maxBytes as number,
    sizeOf: sizeOf as StoreOptions["sizeOf"],
  };
}

const SERVING_NAMES = {
  staleWhileRevalidate: true,
  grace: true,
  softTimeout: true,
  hardTimeout: true,
} as const satisfies Record<keyof ServingOptions, true>;

const CACHE_NAMES = optionNames<AsyncCacheOptions>({
  maxsize: true,
  policy: true,
  maxBytes: true,
  sizeOf: true,
  defaultTtl: true,
  batchWindowMs: true,
  maxBatchSize: true,
  remoteCache: true,
  namespace: true,
  logger: true,
  clock: true,
  backup: true,
  refreshAhead: true,
  lease: true,
  ...SERVING_NAMES,
});
const LEASE_NAMES = optionNames<LeaseOptions>({ ttl: true, wait: true, poll: true });

/**
 * Checks the names of a `lease` option (the caches, the memoizers and AgentCache share it).
 *
 * @throws {InvalidOptionError} For an unknown name.
 */
export function checkLeaseNames(what: string, lease: unknown): void {
  if (lease !== null && typeof lease === "object") {
    checkOptionNames(what, lease, LEASE_NAMES, "lease.");
  }
}

/**
 * Applies defaults and checks every option.
 *
 * @throws {InvalidOptionError} Naming the first bad option.
 */
export function resolveCacheOptions(
  what: string,
  options: CacheOptionsInput,
  defaultMaxsize = 128,
): CacheConfig {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(what, "options", "an object", options);
  }
  checkOptionNames(what, options, CACHE_NAMES);
  checkLeaseNames(what, options.lease);
  const maxsize = checkMaxsize(what, options.maxsize ?? defaultMaxsize);
  const { policy, maxBytes, sizeOf } = checkStoreOptions(what, options);
  const defaultTtl = parseOptionalDuration(options.defaultTtl, what, "defaultTtl");
  const batchWindowMs = options.batchWindowMs ?? 5;
  if (typeof batchWindowMs !== "number" || !(batchWindowMs >= 0 && batchWindowMs <= 60_000)) {
    throw new InvalidOptionError(
      what,
      "batchWindowMs",
      "a number of ms from 0 to 60000",
      batchWindowMs,
    );
  }
  const maxBatchSize = options.maxBatchSize ?? 100;
  if (!(Number.isInteger(maxBatchSize) && maxBatchSize >= 1)) {
    throw new InvalidOptionError(what, "maxBatchSize", "an integer >= 1", maxBatchSize);
  }
  const logger = resolveLogger(what, options.logger);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== "function") {
    throw new InvalidOptionError(what, "clock", "an object with now()", clock);
  }
  const remote = options.remoteCache;
  if (remote !== undefined && typeof remote?.getManyWithTtl !== "function") {
    throw new InvalidOptionError(what, "remoteCache", "a RemoteCacheBackend", remote);
  }
  const namespace = options.namespace ?? "";
  if (typeof namespace !== "string") {
    throw new InvalidOptionError(what, "namespace", "a string", namespace);
  }
  const backup = options.backup;
  if (
    backup !== undefined &&
    (typeof backup?.load !== "function" || typeof backup.save !== "function")
  ) {
    throw new InvalidOptionError(what, "backup", "a DiskBackend", backup);
  }
  const serve = resolveServing(what, options);
  const lease = resolveLease(what, options.lease, remote !== undefined);
  return {
    serve,
    lease,
    maxsize,
    policy,
    maxBytes,
    sizeOf,
    defaultTtl,
    batchWindowMs,
    maxBatchSize,
    remote,
    namespace,
    logger,
    clock,
    backup,
  };
}

/** What one `get` may carry. */
export interface GetOptionsInput {
  loader?: unknown;
  batchLoader?: unknown;
  ttl?: unknown;
}

const GET_NAMES = optionNames<GetOptions<unknown>>({
  loader: true,
  batchLoader: true,
  ttl: true,
  tags: true,
  ...SERVING_NAMES,
});
const SET_NAMES = optionNames<SetOptions>({ ttl: true, tags: true });
const REFRESH_NAMES = optionNames<RefreshOptions<unknown>>({ loader: true, ttl: true, tags: true });
const WARMUP_NAMES = optionNames<WarmupOptions>({ ttl: true, tags: true, force: true });

/**
 * Checks the names in `AsyncCache.set`'s options (call it only when options are given).
 *
 * @throws {InvalidOptionError} For an unknown name, with the closest known one.
 */
export function checkSetOptionNames(options: object): void {
  checkOptionNames("AsyncCache.set", options, SET_NAMES);
}

/**
 * Checks the names in `AsyncCache.refresh`'s options.
 *
 * @throws {InvalidOptionError} For an unknown name, with the closest known one.
 */
export function checkRefreshOptionNames(options: object): void {
  checkOptionNames("AsyncCache.refresh", options, REFRESH_NAMES);
}

/**
 * Checks the names in `AsyncCache.warmup`'s options (call it only when options are given).
 *
 * @throws {InvalidOptionError} For an unknown name, with the closest known one.
 */
export function checkWarmupOptionNames(options: object): void {
  checkOptionNames("AsyncCache.warmup", options, WARMUP_NAMES);
}

/**
 * Checks a `get`'s options and returns its TTL (the cache's default when it
 * gives none). Run on hits too, so a bad option never depends on the cache's
 * contents.
 *
 * @throws {InvalidOptionError} Naming the bad option.
 */
export function checkGetOptions(
  options: GetOptionsInput,
  defaultTtl: number | undefined,
): TtlSpec {
  checkOptionNames("AsyncCache.get", options, GET_NAMES);
  const { loader, batchLoader, ttl } = options;
  if (loader !== undefined && typeof loader !== "function") {
    throw new InvalidOptionError("AsyncCache.get", "loader", "a function", loader);
  }
  if (batchLoader !== undefined && typeof batchLoader !== "function") {
    throw new InvalidOptionError("AsyncCache.get", "batchLoader", "a function", batchLoader);
  }
  if (ttl === undefined) return defaultTtl;
  return typeof ttl === "function" ? ttl as TtlSpec : parseDuration(ttl, "AsyncCache.get", "ttl");
}
