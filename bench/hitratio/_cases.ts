/**
 * The 19 cases of issue 17 with the reference hit ratios (%) measured on the
 * JVM (`/work/shared/traces/README.md`, copied into `bench/traces/README.md`):
 * `lru` is lru-cache 11, `caffeine` is Caffeine 2.6.2 (static W-TinyLFU),
 * `opt` is Belady's optimum with bypass. Only `caffeine` cannot be measured
 * here; `lru` and `opt` are re-measured by every run and must agree.
 *
 * @module
 */

/** One trace at one capacity, with the reference numbers. */
export interface Case {
  trace: string;
  capacity: number;
  lru: number;
  caffeine: number;
  opt: number;
}

/** The cases in table order. */
export const CASES: readonly Case[] = [
  { trace: "loop", capacity: 256, lru: 0.00, caffeine: 24.72, opt: 25.27 },
  { trace: "loop", capacity: 512, lru: 0.00, caffeine: 49.91, opt: 50.54 },
  { trace: "loop", capacity: 800, lru: 0.00, caffeine: 69.86, opt: 78.97 },
  { trace: "multi1", capacity: 250, lru: 42.86, caffeine: 47.57, opt: 52.48 },
  { trace: "multi1", capacity: 800, lru: 47.77, caffeine: 63.27, opt: 66.36 },
  { trace: "sprite", capacity: 500, lru: 78.30, caffeine: 74.92, opt: 87.89 },
  { trace: "sprite", capacity: 1500, lru: 92.48, caffeine: 87.32, opt: 94.21 },
  { trace: "gli", capacity: 250, lru: 0.91, caffeine: 14.95, opt: 17.71 },
  { trace: "gli", capacity: 1000, lru: 11.21, caffeine: 39.90, opt: 53.15 },
  { trace: "ps", capacity: 300, lru: 16.33, caffeine: 51.43, opt: 54.29 },
  { trace: "ps", capacity: 1000, lru: 48.55, caffeine: 65.69, opt: 67.69 },
  { trace: "web07", capacity: 1000, lru: 50.41, caffeine: 52.28, opt: 63.59 },
  { trace: "web07", capacity: 4000, lru: 60.82, caffeine: 60.74, opt: 71.59 },
  { trace: "orm-busy", capacity: 5000, lru: 85.46, caffeine: 83.05, opt: 91.40 },
  { trace: "orm-busy", capacity: 20000, lru: 93.60, caffeine: 94.36, opt: 96.70 },
  { trace: "corda", capacity: 1000, lru: 33.33, caffeine: 1.40, opt: 33.33 },
  { trace: "corda", capacity: 10000, lru: 33.33, caffeine: 33.33, opt: 33.33 },
  { trace: "scarab", capacity: 25000, lru: 60.13, caffeine: 59.81, opt: 74.79 },
  { trace: "scarab", capacity: 100000, lru: 75.91, caffeine: 72.86, opt: 79.25 },
];

/** The cases of `--smoke`: two small traces at one capacity each. */
export const SMOKE_CASES: readonly Case[] = CASES.filter((c) =>
  (c.trace === "ps" && c.capacity === 300) || (c.trace === "gli" && c.capacity === 250)
);

/** How far a re-measured `lru` or `opt` may stray from the reference (rounding). */
export const REFERENCE_TOLERANCE = 0.01;

/**
 * The capacities of a trace's chart: a geometric grid of `points` from a
 * quarter of the smallest reference capacity to twice the largest (never
 * beyond the trace's distinct keys, where only cold misses are left), a grid
 * point within 15% of a reference capacity snapped to it, plus the reference
 * capacities themselves.
 */
export function chartCapacities(
  reference: readonly number[],
  distinct: number,
  points: number,
): number[] {
  const lo = Math.max(2, Math.floor(Math.min(...reference) / 4));
  const hi = Math.max(lo + 1, Math.min(distinct, Math.max(...reference) * 2));
  const picked = new Set(reference);
  for (let i = 0; i < points; i++) {
    const x = Math.round(lo * (hi / lo) ** (points === 1 ? 0 : i / (points - 1)));
    const near = reference.find((c) => Math.abs(Math.log(c / x)) < Math.log(1.15));
    picked.add(near ?? x);
  }
  return [...picked].sort((a, b) => a - b);
}
