/**
 * Case 8 (issue 17): the byte budget holds. Values of 1 KB to 1 MB (one-byte
 * strings, so their heap size is their length) churn through an AsyncCache
 * with `maxBytes` (and no `maxsize` bound), about 16× the budget in all;
 * the heap's growth after a full GC, divided by the budget, is the ratio.
 * The values are made as they go (as loads would), and only the cache keeps
 * any.
 *
 * @module
 */
import { gc, heapUsed, smoke } from "../_common.mjs";

const BUDGET = smoke ? 4 << 20 : 64 << 20;

function growth(AsyncCache, policy) {
  gc();
  gc();
  const before = heapUsed();
  const cache = new AsyncCache({ maxsize: Infinity, maxBytes: BUDGET, policy });
  let seed = 7;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let total = 0;
  for (let i = 0; total < 16 * BUDGET; i++) {
    // Log-uniform from 1 KB to 1 MB, with a few keys read back (so entries are hit, too).
    const size = Math.round(1024 * 2 ** (10 * rand()));
    total += size;
    void cache.set(`v${i}`, String.fromCharCode(97 + (i % 26)).repeat(size));
    if (i % 4 === 0) void cache.get(`v${i >> 1}`);
  }
  gc();
  gc();
  const ratio = (heapUsed() - before) / BUDGET;
  const held = cache.getMetrics().bytes;
  void cache.close();
  return { ratio, held };
}

export function run(lib) {
  const rows = [];
  for (const policy of ["lru", "tinylfu"]) {
    const { ratio, held } = growth(lib.AsyncCache, policy);
    const name = policy === "lru"
      ? "heap growth ÷ maxBytes"
      : 'heap growth ÷ maxBytes, policy "tinylfu"';
    console.log(
      `  ${name.padEnd(58)} ${ratio.toFixed(2)}× (L1 holds ${(held / 2 ** 20).toFixed(1)} MiB)`,
    );
    rows.push({ name, ratio });
  }
  return {
    id: "byte_budget",
    title: `Byte budget: heap growth with maxBytes ${
      BUDGET >> 20
    } MiB, values of 1 KB to 1 MB churning`,
    baseline: "heap growth ÷ maxBytes",
    unit: "ratio",
    rows,
  };
}
