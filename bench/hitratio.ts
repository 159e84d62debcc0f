/**
 * `npm run bench:hitratio`: replays the bundled traces (`bench/traces/`)
 * through `AsyncCache` with `policy: "lru"` and `"tinylfu"`, lru-cache 11 and
 * Belady's optimum with bypass; prints the 19 cases of issue 17 next to the
 * reference Caffeine 2.6.2 numbers, with the targets; writes
 * `bench/HITRATIO.md` and one chart per trace (`docs/charts/<trace>.svg`).
 *
 * Run: `deno run -A bench/hitratio.ts [--only=loop,ps] [--seeds N] [--smoke] [--json path]`
 *
 * `--seeds N`: tinylfu instances per point (each draws its own hash seed), default 5.
 * `--only`: some traces; writes their charts, leaves `HITRATIO.md` alone.
 * `--smoke`: two small cases at one capacity, 1 seed, nothing written: for
 * `npm test`. Every run exits 1 if the measured lru-cache, our lru or the
 * optimum stray from the reference table.
 *
 * @module
 */
import { CASES, chartCapacities, REFERENCE_TOLERANCE, SMOKE_CASES } from "./hitratio/_cases.ts";
import { renderChart } from "./hitratio/_chart.ts";
import { nextUses, optimumHits } from "./hitratio/_optimum.ts";
import { policyAvailable, replayAsyncCache, replayLruCache } from "./hitratio/_replay.ts";
import { consoleReport, markdownReport } from "./hitratio/_report.ts";
import { type CaseResult, mean, referenceMismatches } from "./hitratio/_targets.ts";
import { loadTrace, TRACES } from "./hitratio/_traces.ts";

const started = performance.now();
const args = Deno.args;
/** `--name=value` or `--name value`. */
function option(name: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return args[i].includes("=") ? args[i].slice(name.length + 3) : args[i + 1];
}
const smoke = args.includes("--smoke");
const only = option("only")?.split(",").filter(Boolean);
const seeds = smoke ? 1 : Number(option("seeds") ?? 5);
const jsonPath = option("json");
if (!(Number.isInteger(seeds) && seeds >= 1)) {
  console.error(`--seeds must be an integer >= 1: received ${option("seeds")}`);
  Deno.exit(2);
}
const unknown = only?.filter((t) => !TRACES.some((info) => info.name === t));
if (unknown?.length) {
  console.error(`unknown trace(s) ${unknown.join(", ")}: expected ${TRACES.map((t) => t.name)}`);
  Deno.exit(2);
}
const cases = (smoke ? SMOKE_CASES : CASES).filter((c) => !only || only.includes(c.trace));
const traces = TRACES.map((t) => t.name).filter((t) => cases.some((c) => c.trace === t));
// The 5M- and 1.2M-request traces get fewer chart points, to keep the run near 2 minutes.
const CHART_POINTS: Record<string, number> = { "orm-busy": 3, scarab: 6 };

const lruOption = await policyAvailable("lru");
const tinylfuAvailable = await policyAvailable("tinylfu");
console.log(
  `policy "lru": ${lruOption ? "available" : "refused (measuring the default store, LRU)"}; ` +
    `policy "tinylfu": ${tinylfuAvailable ? "available" : "refused (n/a)"}`,
);

/** One trace at one capacity, in percent. */
interface Point {
  capacity: number;
  lruCache: number;
  lru: number;
  tinylfu: number[];
  opt: number;
}
const points = new Map<string, Point[]>();
const distinctOf = new Map<string, { requests: number; distinct: number }>();

for (const trace of traces) {
  const t0 = performance.now();
  const { keys, distinct } = await loadTrace(trace);
  distinctOf.set(trace, { requests: keys.length, distinct });
  const next = nextUses(keys, distinct);
  const reference = CASES.filter((c) => c.trace === trace).map((c) => c.capacity);
  const capacities = smoke
    ? cases.filter((c) => c.trace === trace).map((c) => c.capacity)
    : chartCapacities(reference, distinct, CHART_POINTS[trace] ?? 8);
  const pct = (hits: number) => (100 * hits) / keys.length;
  const results: Point[] = [];
  for (const capacity of capacities) {
    const tinylfu: number[] = [];
    if (tinylfuAvailable) {
      for (let s = 0; s < seeds; s++) {
        tinylfu.push(pct(await replayAsyncCache(keys, capacity, "tinylfu")));
      }
    }
    results.push({
      capacity,
      lruCache: pct(replayLruCache(keys, capacity)),
      lru: pct(await replayAsyncCache(keys, capacity, lruOption ? "lru" : undefined)),
      tinylfu,
      opt: pct(optimumHits(keys, distinct, capacity, next)),
    });
  }
  points.set(trace, results);
  console.log(
    `${trace}: ${keys.length} requests, ${distinct} keys, capacities ${capacities.join(" ")}: ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
}

const rows: CaseResult[] = cases.map((c) => {
  const p = points.get(c.trace)!.find((p) => p.capacity === c.capacity)!;
  return {
    trace: c.trace,
    capacity: c.capacity,
    lruCache: p.lruCache,
    lru: p.lru,
    tinylfu: p.tinylfu,
    caffeine: c.caffeine,
    opt: p.opt,
    refLru: c.lru,
    refOpt: c.opt,
  };
});
console.log("\n" + consoleReport(rows, seeds));
const mismatches = referenceMismatches(rows, REFERENCE_TOLERANCE);
console.log(
  mismatches.length
    ? `\nMISMATCH with the reference table:\n  ${mismatches.join("\n  ")}`
    : `\nlru-cache, our lru and opt agree with the reference table (±${REFERENCE_TOLERANCE}) in all ${rows.length} cases`,
);

const seconds = (performance.now() - started) / 1000;
if (!smoke) {
  await Deno.mkdir("docs/charts", { recursive: true });
  for (const trace of traces) {
    const pts = points.get(trace)!;
    const { requests, distinct } = distinctOf.get(trace)!;
    const series = [
      { name: "lru-cache 11", color: "#8c8c8c", points: pts.map((p) => [p.capacity, p.lruCache]) },
      {
        name: "ours lru",
        color: "#1f6fd1",
        dash: "6 4",
        points: pts.map((p) => [p.capacity, p.lru]),
      },
      ...(tinylfuAvailable
        ? [{
          name: `ours tinylfu (mean of ${seeds})`,
          color: "#d62728",
          points: pts.map((p) => [p.capacity, mean(p.tinylfu)]),
        }]
        : []),
      {
        name: "opt (Belady, bypass)",
        color: "#111",
        dash: "2 3",
        points: pts.map((p) => [p.capacity, p.opt]),
      },
    ] as { name: string; color: string; dash?: string; points: [number, number][] }[];
    const reference = CASES.filter((c) => c.trace === trace);
    const svg = renderChart({
      title: `${trace}: hit ratio vs capacity`,
      subtitle: `${requests.toLocaleString("en")} requests, ${distinct.toLocaleString("en")} keys${
        tinylfuAvailable ? "" : "; tinylfu n/a in this build"
      }`,
      series,
      markers: [{
        name: "Caffeine 2.6.2 (ref.)",
        color: "#2ca02c",
        points: reference.map((c) => [c.capacity, c.caffeine]),
      }],
      highlight: reference.map((c) => c.capacity),
    });
    await Deno.writeTextFile(`docs/charts/${trace}.svg`, svg);
  }
  const written = traces.map((t) => `docs/charts/${t}.svg`);
  if (!only) {
    await Deno.writeTextFile(
      "bench/HITRATIO.md",
      markdownReport(rows, {
        seeds,
        seconds,
        runtime: `Deno ${Deno.version.deno}`,
        date: new Date().toISOString().slice(0, 10),
        tinylfuAvailable,
        lruOption,
        traces,
      }),
    );
    written.push("bench/HITRATIO.md");
  }
  // In deno fmt's layout (it formats .md and .svg), so `npm test`'s fmt --check passes.
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", ...written] }).output();
  if (!fmt.success) console.error(new TextDecoder().decode(fmt.stderr));
  console.log(`\nwrote ${written.join(", ")}`);
}
if (jsonPath) {
  const json = {
    seeds,
    smoke,
    seconds,
    tinylfuAvailable,
    lruOption,
    cases: rows,
    points: Object.fromEntries(points),
  };
  await Deno.writeTextFile(jsonPath, JSON.stringify(json, null, 2) + "\n");
  console.log(`wrote ${jsonPath}`);
}
console.log(`total runtime: ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (mismatches.length) Deno.exit(1);
