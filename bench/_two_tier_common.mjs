/**
 * Shared by the two-tier cases (`cases/two_tier.mjs`, `cases/cluster.mjs`): a
 * writer fills L2 and a reader whose small L1 cycles through many more keys,
 * so every read misses L1 and hits L2. Here: the sizes, the keys and values,
 * our writer + reader pair, the hand-rolled lru-cache + ioredis baseline, the
 * L2-hit check and the "100 in flight" measurement.
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import { compare, smoke } from "./_common.mjs";

/** How many keys the reader cycles through. */
export const KEYS = smoke ? 300 : 2000;
/** The reader's L1 size: far fewer entries than {@linkcode KEYS}. */
export const L1 = 100;
/** Every entry's TTL, in ms: longer than any run. */
export const TTL = 3_600_000;

/** `user:0` to `user:<KEYS - 1>`. */
export function userKeys() {
  return Array.from({ length: KEYS }, (_, i) => `user:${i}`);
}

/** The value stored under `user:<i>`. */
export const userValue = (i) => ({ id: i, name: `user ${i}`, active: true });

/** A trivial loader: what a miss in both tiers loads. */
export const loader = () => ({ id: -1, name: "loaded", active: false });

/**
 * Our writer and reader, each an `AsyncCache` (L1 of {@linkcode L1} entries)
 * on its own backend from `newBackend`; the writer has set every key and
 * flushed.
 *
 * @param AsyncCache The library's `AsyncCache`.
 * @param newBackend Makes one backend (called twice: writer, then reader).
 * @param keys The keys to fill, `keys[i]` with `userValue(i)`.
 * @returns `{ writer, reader, close }`; `close` closes both and their backends.
 */
export async function ourPair(AsyncCache, newBackend, keys) {
  const backends = [];
  const opts = () => ({
    maxsize: L1,
    defaultTtl: TTL,
    remoteCache: backends[backends.push(newBackend()) - 1],
  });
  const writer = new AsyncCache(opts());
  const reader = new AsyncCache(opts());
  for (let i = 0; i < keys.length; i++) await writer.set(keys[i], userValue(i));
  await writer.flush();
  return {
    writer,
    reader,
    async close() {
      await reader.close();
      await writer.close();
      for (const backend of backends) await backend.close();
    },
  };
}

/**
 * The hand-rolled baseline: an lru-cache of {@linkcode L1} entries over
 * `redis` (an ioredis client or `Cluster`), JSON values, L2 written in the
 * background on a miss.
 */
export function lruOverIoredis(redis) {
  const lru = new LRUCache({ max: L1 });
  return {
    redis,
    async get(key, loader) {
      let v = lru.get(key);
      if (v !== undefined) return v;
      const s = await redis.get(key);
      if (s !== null) {
        v = JSON.parse(s);
        lru.set(key, v);
        return v;
      }
      v = await loader();
      lru.set(key, v);
      redis.set(key, JSON.stringify(v), "PX", TTL).catch(() => {});
      return v;
    },
    set: (key, v) => redis.set(key, JSON.stringify(v), "PX", TTL),
    close: () => redis.quit(),
  };
}

/**
 * Checks that each candidate's read of its `keys[1]` is an L2 hit (and warms up).
 *
 * @throws {Error} If a read did not return `userValue(1)`.
 */
export async function checkL2Hits(candidates) {
  for (const c of candidates) {
    const v = await c.get(c.keys[1]);
    if (v?.id !== 1) throw new Error(`${c.name}: expected an L2 hit, got ${JSON.stringify(v)}`);
  }
}

/**
 * Compares the candidates on 100 reads in flight per call, cycling through
 * their keys.
 *
 * @param candidates `{ name, get(key), keys }` each.
 * @param tag The label for the console lines.
 * @returns One row per candidate, as {@linkcode compare}.
 */
export function compareInFlight(candidates, tag) {
  let b = 0;
  return compare(candidates.map((c) => [c.name, () => {
    const ps = new Array(100);
    for (let j = 0; j < 100; j++) ps[j] = c.get(c.keys[(b + j) % KEYS]);
    b = (b + 100) % KEYS;
    return Promise.all(ps);
  }, { ops: 100, tag }]));
}
