/**
 * Replays a trace through each contender and counts hits. One request is a
 * get; a miss inserts the key. `AsyncCache` is driven through its public API
 * only (`get`, then `set` on a miss, each awaited), as an application would.
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import { AsyncCache, type AsyncCacheOptions, InvalidOptionError } from "../../mod.ts";

/** The eviction policies of issue 17's `policy` option. */
export type Policy = "lru" | "tinylfu";

function createCache(capacity: number, policy: Policy | undefined): AsyncCache<number> {
  const options: AsyncCacheOptions = { maxsize: capacity };
  if (policy !== undefined) options.policy = policy;
  return new AsyncCache<number>(options);
}

/**
 * Whether this build of `AsyncCache` accepts `policy` (one from before issue
 * 17 refuses it as an unknown option, and the bench reports n/a; any other
 * error is a real failure).
 *
 * @throws {Error} Whatever the constructor throws for any other reason.
 */
export async function policyAvailable(policy: Policy): Promise<boolean> {
  let cache: AsyncCache<number>;
  try {
    cache = createCache(8, policy);
  } catch (error) {
    if (error instanceof InvalidOptionError && error.option === "policy") return false;
    throw error;
  }
  await cache.close();
  return true;
}

/**
 * Hits of one fresh `AsyncCache` (a "tinylfu" one draws its own hash seed).
 *
 * @param policy `undefined` passes no `policy` option (the default store, LRU).
 */
export async function replayAsyncCache(
  keys: Uint32Array,
  capacity: number,
  policy: Policy | undefined,
): Promise<number> {
  const cache = createCache(capacity, policy);
  let hits = 0;
  try {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const v = await cache.get(key);
      if (v === undefined) await cache.set(key, 1);
      else hits++;
    }
  } finally {
    await cache.close();
  }
  return hits;
}

/** Hits of lru-cache 11 (`max` = capacity), the npm baseline. */
export function replayLruCache(keys: Uint32Array, capacity: number): number {
  const cache = new LRUCache<number, number>({ max: capacity });
  let hits = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (cache.get(key) === undefined) cache.set(key, 1);
    else hits++;
  }
  return hits;
}
