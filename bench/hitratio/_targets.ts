/**
 * Issue 17's hit-ratio targets for `policy: "tinylfu"`, computed from one
 * run's results. Pure.
 *
 * @module
 */

/** The results of one case, in percent. */
export interface CaseResult {
  trace: string;
  capacity: number;
  /** lru-cache 11, measured. */
  lruCache: number;
  /** `AsyncCache` with `policy: "lru"`, measured. */
  lru: number;
  /** `AsyncCache` with `policy: "tinylfu"`, one per instance (seed); empty when not available. */
  tinylfu: number[];
  /** Caffeine 2.6.2: the reference number, not measured here. */
  caffeine: number;
  /** Belady's optimum with bypass, measured. */
  opt: number;
  /** The reference table's lru-cache and optimum, to check the measured ones against. */
  refLru: number;
  refOpt: number;
}

/** One target with its verdict; `pass` is `undefined` when it cannot be judged. */
export interface Target {
  label: string;
  measured: string;
  pass: boolean | undefined;
}

/** The mean of the seeds, or `NaN` when there are none. */
export const mean = (xs: number[]): number =>
  xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;

const avg = (rows: CaseResult[], f: (r: CaseResult) => number) => mean(rows.map(f));
const best = (r: CaseResult) => Math.max(r.lruCache, r.caffeine);

/**
 * Targets (a) within 1 point of the better of lru-cache and Caffeine in all
 * cases but one, (b) within 2 points in all, (c) mean regret against the
 * optimum ≤ 5.0 points. Judged on the mean over seeds; the worst seed is
 * shown beside.
 */
export function computeTargets(rows: CaseResult[]): Target[] {
  const have = rows.length > 0 && rows.every((r) => r.tinylfu.length > 0);
  const n = rows.length;
  const allowedMisses = n >= 19 ? 1 : Math.floor(n / 19);
  const within = (d: number, f: (xs: number[]) => number) =>
    rows.filter((r) => f(r.tinylfu) >= best(r) - d).length;
  const worst = (xs: number[]) => Math.min(...xs);
  const regret = avg(rows, (r) => r.opt - mean(r.tinylfu));
  const a = within(1, mean);
  const b = within(2, mean);
  const targets: Target[] = [
    {
      label: `(a) tinylfu within 1 point of the better of lru-cache and Caffeine 2.6.2 in ≥ ${
        n - allowedMisses
      } of ${n} cases`,
      measured: have ? `${a} of ${n} (worst seed: ${within(1, worst)})` : "n/a",
      pass: have ? a >= n - allowedMisses : undefined,
    },
    {
      label: `(b) tinylfu within 2 points of that in all ${n} cases`,
      measured: have ? `${b} of ${n} (worst seed: ${within(2, worst)})` : "n/a",
      pass: have ? b === n : undefined,
    },
    {
      label: "(c) tinylfu mean regret vs opt ≤ 5.0 points",
      measured: have ? regret.toFixed(2) : "n/a",
      pass: have ? regret <= 5.0 : undefined,
    },
  ];
  return targets;
}

/** Mean regret (points below the optimum) of the anchors, for comparison. */
export function anchorRegrets(rows: CaseResult[]): { label: string; regret: number }[] {
  return [
    { label: "lru-cache (measured)", regret: avg(rows, (r) => r.opt - r.lruCache) },
    { label: "our lru (measured)", regret: avg(rows, (r) => r.opt - r.lru) },
    { label: "Caffeine 2.6.2 (reference)", regret: avg(rows, (r) => r.opt - r.caffeine) },
    { label: "better of lru-cache and Caffeine", regret: avg(rows, (r) => r.opt - best(r)) },
  ];
}

/**
 * Cases whose measured lru-cache, our lru or optimum disagree with the
 * reference table by more than `tolerance` points.
 */
export function referenceMismatches(rows: CaseResult[], tolerance: number): string[] {
  const bad: string[] = [];
  for (const r of rows) {
    const check = (what: string, got: number, want: number) => {
      if (Math.abs(got - want) > tolerance + 1e-9) {
        bad.push(`${r.trace} @ ${r.capacity}: ${what} ${got.toFixed(2)}, reference ${want}`);
      }
    };
    check("lru-cache", r.lruCache, r.refLru);
    check("our lru", r.lru, r.refLru);
    check("opt", r.opt, r.refOpt);
  }
  return bad;
}
