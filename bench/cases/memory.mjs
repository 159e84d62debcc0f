/**
 * Case 5: heap per L1 entry at 100,000 small entries, against lru-cache.
 * Keys and values are allocated before the measurement and kept alive, so
 * the delta is what the cache itself adds per entry.
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import { gc, heapUsed, smoke } from "../_common.mjs";

const N = smoke ? 10_000 : 100_000;

function perEntry(make, fill) {
  gc();
  gc();
  const before = heapUsed();
  const cache = make();
  fill(cache);
  gc();
  gc();
  const after = heapUsed();
  return { cache, bytes: (after - before) / N };
}

export function run(lib) {
  const { AsyncCache } = lib;
  const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
  const values = Array.from({ length: N }, (_, i) => i * 2 + 0.5);
  const rows = [];
  const keep = [];
  for (let round = 0; round < 2; round++) {
    const ours = perEntry(() => new AsyncCache({ maxsize: N }), (c) => {
      for (let i = 0; i < N; i++) void c.set(keys[i], values[i]);
    });
    const tiny = perEntry(() => new AsyncCache({ maxsize: N, policy: "tinylfu" }), (c) => {
      for (let i = 0; i < N; i++) void c.set(keys[i], values[i]);
    });
    const lru = perEntry(() => new LRUCache({ max: N }), (c) => {
      for (let i = 0; i < N; i++) c.set(keys[i], values[i]);
    });
    keep.push(ours.cache, tiny.cache, lru.cache);
    if (round === 1) {
      rows.push({ name: "async-cache AsyncCache", bytes_per_entry: ours.bytes });
      rows.push({ name: 'async-cache AsyncCache, policy "tinylfu"', bytes_per_entry: tiny.bytes });
      rows.push({ name: "lru-cache", bytes_per_entry: lru.bytes });
    }
  }
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(58)} ${r.bytes_per_entry.toFixed(1)} B/entry`);
  }
  return {
    id: "memory",
    title: `Memory: heap per L1 entry at ${N.toLocaleString("en-US")} small entries`,
    baseline: "lru-cache",
    unit: "bytes",
    rows,
    keepAlive: keep.length,
  };
}
