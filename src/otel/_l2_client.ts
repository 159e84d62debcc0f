/**
 * The Redis client behind a cache's L2 tier (a `RedisBackend`'s, standalone,
 * Sentinel or Cluster), for command metrics and spans; undefined for any
 * other backend.
 *
 * @module
 */
import type { CacheInternals } from "../cache/async_cache.ts";
import { commandObservers, RedisClient } from "../resp/client.ts";
import { clusterCommandObservers, RedisClusterClient } from "../resp/cluster/cluster_client.ts";
import type { CommandObservers } from "../resp/_observer.ts";

/** The command observers of the cache's Redis client, if its backend has one. */
export function l2Observers(
  internals: CacheInternals<unknown> | undefined,
): CommandObservers | undefined {
  const backend = internals?.remote()?.backend as { client?: unknown } | undefined;
  const client = backend?.client;
  if (client instanceof RedisClient) return commandObservers(client);
  if (client instanceof RedisClusterClient) return clusterCommandObservers(client);
  return undefined;
}

const UPPER = new Map<string, string>();

/** The command's name, upper case (`GET`, `EVALSHA`, ...). */
export function commandName(first: unknown): string {
  if (typeof first === "string") {
    // The backend's commands are upper case already: no new string per command.
    let upper = UPPER.get(first);
    if (upper === undefined) {
      upper = first.toUpperCase();
      if (UPPER.size < 256) UPPER.set(first, upper);
    }
    return upper;
  }
  if (first instanceof Uint8Array) {
    let s = "";
    for (let i = 0; i < first.length && i < 32; i++) s += String.fromCharCode(first[i]);
    return s.toUpperCase();
  }
  return String(first);
}
