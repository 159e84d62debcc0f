/**
 * A two-tier async cache for Deno, Bun and Node: an in-process LRU + TTL
 * (L1) in front of an optional shared tier (L2, e.g. Redis), with
 * single-flight loaders, DataLoader-style batching, memoizing decorators and
 * metrics. No runtime dependency.
 *
 * @example
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import assert from "node:assert/strict";
 *
 * const cache = new AsyncCache<{ name: string }>({ maxsize: 1000, defaultTtl: "300s" });
 * const user = await cache.get("user:1", { loader: () => ({ name: "Ada" }) });
 * assert.equal(user?.name, "Ada");
 * await cache.close();
 * ```
 *
 * @module
 */
export {
  AsyncCache,
  type AsyncCacheOptions,
  type CacheEventName,
  type CacheEvents,
  type CacheKey,
  type CacheListener,
  type CacheMetrics,
  type CacheServingOptions,
  type EvictionPolicy,
  type GetOptions,
  type LeaseOptions,
  type Loader,
  type LoaderContext,
  type LoaderResult,
  type RefreshOptions,
  type ServingOptions,
  type SetOptions,
  type TtlFunction,
  type WarmupOptions,
} from "./src/cache/async_cache.ts";
export { type NoCache, noCache, type Unwrapped } from "./src/cache/_serve.ts";
export {
  AsyncLRU,
  type AsyncLRUOptions,
  AsyncTTL,
  type AsyncTTLOptions,
  type CachedFunction,
  type MemoizeOptions,
  type Memoizer,
} from "./src/cache/decorators.ts";
export { type Clock, type Duration, parseDuration } from "./src/time.ts";
export { canonicalKey, normalizeKey } from "./src/cache/keys.ts";
export {
  type CoherenceMode,
  type InvalidationListener,
  RemoteCacheBackend,
  type RemoteEntry,
  type RemoteSetOptions,
} from "./src/remote/remote_backend.ts";
export { RedisBackend } from "./src/remote/redis_backend.ts";
export type { RedisBackendOptions } from "./src/remote/redis_options.ts";
export type { BreakerState } from "./src/remote/circuit_breaker.ts";
export { encodeValue } from "./src/codec/encode.ts";
export { decodeValue, isEnvelope } from "./src/codec/decode.ts";
export type { DecodeOptions } from "./src/codec/decode.ts";
export { MAX_DEPTH } from "./src/codec/format.ts";
export {
  type ClientStatus,
  RedisClient,
  RedisClientEvent,
  type RedisClientOptions,
} from "./src/resp/client.ts";
export {
  RedisClusterClient,
  type RedisClusterClientOptions,
} from "./src/resp/cluster/cluster_client.ts";
export type { NodeAddress } from "./src/resp/cluster/topology.ts";
export type { NatMap } from "./src/resp/announced.ts";
export { keySlot } from "./src/resp/cluster/crc16.ts";
export { SentinelConnector, type SentinelOptions } from "./src/resp/sentinel.ts";
export type { Command, CommandArg } from "./src/resp/encoder.ts";
export { PushReply, type Reply } from "./src/resp/parser.ts";
export type { Backoff } from "./src/resp/backoff.ts";
export type { ParserLimits } from "./src/resp/parser.ts";
export type {
  Connect,
  ConnectOptions,
  TlsOptions,
  Transport,
  TransportHandlers,
} from "./src/transport.ts";
export type { Logger } from "./src/logger.ts";
export {
  type BackupEntry,
  DiskBackend,
  type DiskBackendOptions,
  type SaveResult,
} from "./src/persist/disk_backend.ts";
export type { FileInfo, FileStore } from "./src/file_store.ts";
export {
  BackupError,
  CacheClosedError,
  InvalidKeyError,
  InvalidOptionError,
  LoaderTimeoutError,
  RedisAuthError,
  RedisClusterError,
  RedisConnectionError,
  RedisError,
  RedisProtocolError,
  RedisReplyError,
  RedisTimeoutError,
  SerializationError,
} from "./src/errors.ts";
