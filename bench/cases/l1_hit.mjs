/**
 * Case 1: an L1 hit through `cache.get(key, { loader })` on 1,000 hot keys
 * (also: with a `defaultTtl`, under `policy: "tinylfu"`, with `maxBytes`),
 * against the floor of any async API (`Map.get` + `await`), lru-cache
 * (`.get` + `await`, and `.fetch`), bentocache's memory `getOrSet`, and our
 * decorator's hit path. Every call is awaited by mitata, the same for all.
 *
 * @module
 */
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { LRUCache } from "lru-cache";
import { compare } from "../_common.mjs";

const N = 1000;

export async function run(lib) {
  const { AsyncCache, AsyncLRU } = lib;
  const keys = Array.from({ length: N }, (_, i) => `user:${i}`);
  const values = keys.map((k, i) => ({ id: i, name: k }));
  const loader = () => ({ id: -1, name: "loaded" });
  const opts = { loader };

  const map = new Map(keys.map((k, i) => [k, values[i]]));
  const lru = new LRUCache({ max: 10_000, fetchMethod: loader });
  const ours = new AsyncCache({ maxsize: 10_000 });
  const oursTtl = new AsyncCache({ maxsize: 10_000, defaultTtl: "1h" });
  const tiny = new AsyncCache({ maxsize: 10_000, policy: "tinylfu" });
  const tinyTtl = new AsyncCache({ maxsize: 10_000, policy: "tinylfu", defaultTtl: "1h" });
  const bytes = new AsyncCache({ maxsize: 10_000, maxBytes: 64 << 20 });
  const bento = new BentoCache({
    default: "memory",
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  });
  for (let i = 0; i < N; i++) {
    lru.set(keys[i], values[i]);
    await ours.set(keys[i], values[i]);
    for (const c of [oursTtl, tiny, tinyTtl, bytes]) await c.set(keys[i], values[i]);
    await bento.set({ key: keys[i], value: values[i], ttl: "1h" });
  }
  const memoized = AsyncLRU({ maxsize: 10_000 })((id) => ({ id }));
  for (let i = 0; i < N; i++) await memoized(i);

  let i = 0;
  const next = () => keys[i = (i + 1) % N];
  let j = 0;
  const rows = await compare([
    ["Map.get + await (floor)", () => Promise.resolve(map.get(next()))],
    ["async-cache get(key, { loader })", () => ours.get(next(), opts)],
    ["async-cache get(key)", () => ours.get(next())],
    ["async-cache get(key), defaultTtl", () => oursTtl.get(next())],
    ['async-cache get(key), policy "tinylfu"', () => tiny.get(next())],
    ['async-cache get(key), "tinylfu" + defaultTtl', () => tinyTtl.get(next())],
    ["async-cache get(key), maxBytes", () => bytes.get(next())],
    ["lru-cache get + await", () => Promise.resolve(lru.get(next()))],
    ["lru-cache fetch", () => lru.fetch(next())],
    [
      "bentocache getOrSet (memory)",
      () => bento.getOrSet({ key: next(), factory: loader, ttl: "1h" }),
    ],
    ["async-cache AsyncLRU decorator hit", () => memoized(j = (j + 1) % N)],
  ]);

  await ours.close();
  for (const c of [oursTtl, tiny, tinyTtl, bytes]) await c.close();
  await memoized.cache.close();
  await bento.disconnect();
  return {
    title: "L1 hit (1,000 hot keys)",
    baseline: "Map.get + await (floor)",
    unit: "time",
    rows,
  };
}
