/**
 * Case 2: L1 churn: 10,000 keys cycled through a 1,000-entry cache with a
 * trivial sync loader, so every read misses, loads, stores and evicts.
 *
 * @module
 */
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { LRUCache } from "lru-cache";
import { compare } from "../_common.mjs";

const KEYS = 10_000;
const MAX = 1000;

export async function run(lib) {
  const { AsyncCache } = lib;
  const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
  const value = { ok: true };
  const loader = () => value;
  const opts = { loader };

  const ours = new AsyncCache({ maxsize: MAX });
  const tiny = new AsyncCache({ maxsize: MAX, policy: "tinylfu" });
  const lruFetch = new LRUCache({ max: MAX, fetchMethod: loader });
  const lru = new LRUCache({ max: MAX });
  const bento = new BentoCache({
    default: "memory",
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: MAX })) },
  });

  let i = 0;
  const next = () => keys[i = (i + 1) % KEYS];
  const rows = await compare([
    ["async-cache get(key, { loader })", () => ours.get(next(), opts)],
    ['async-cache get(key, { loader }), policy "tinylfu"', () => tiny.get(next(), opts)],
    ["lru-cache fetch", () => lruFetch.fetch(next())],
    ["lru-cache get ?? set + await", () => {
      const k = next();
      let v = lru.get(k);
      if (v === undefined) lru.set(k, v = loader());
      return Promise.resolve(v);
    }],
    [
      "bentocache getOrSet (memory)",
      () => bento.getOrSet({ key: next(), factory: loader, ttl: "1h" }),
    ],
  ]);
  await ours.close();
  await tiny.close();
  await bento.disconnect();
  return {
    title: "L1 churn (10,000 keys through 1,000 entries, sync loader)",
    baseline: "async-cache get(key, { loader })",
    unit: "time",
    rows,
  };
}
