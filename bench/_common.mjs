/**
 * Shared by the benchmark cases: which runtime this is, where the library
 * under test lives for it, and a thin wrapper over mitata's `measure`.
 *
 * Node cannot run TypeScript, so under Node the cases import the built
 * package (`npm/`, from `npm run build`); Deno and Bun import the sources.
 *
 * @module
 */
import process from "node:process";
import { do_not_optimize, measure } from "mitata";

/** `"deno"`, `"bun"` or `"node"`. */
export const runtime = globalThis.Deno !== undefined
  ? "deno"
  : globalThis.Bun !== undefined
  ? "bun"
  : "node";

/** The runtime's version string. */
export const runtimeVersion = runtime === "deno"
  ? globalThis.Deno.version.deno
  : runtime === "bun"
  ? globalThis.Bun.version
  : process.versions.node;

/** `--smoke` or `BENCH_SMOKE=1`: tiny iteration counts, just to prove the cases run. */
export const smoke = process.argv.includes("--smoke") || process.env.BENCH_SMOKE === "1";

/** Imports the library (sources under Deno and Bun, the built package under Node). */
export async function loadLibrary() {
  const base = runtime === "node" ? "../npm/" : "../";
  const ext = runtime === "node" ? ".js" : ".ts";
  const lib = await import(`${base}mod${ext}`);
  const runtimes = await import(`${base}runtimes/mod${ext}`);
  return { ...lib, ...runtimes };
}

/** `@async-cache/cache/otel`, from the same build as `loadLibrary`. */
export function loadOtel() {
  return runtime === "node" ? import("../npm/src/otel/mod.js") : import("../src/otel/mod.ts");
}

/** The Redis server the runner started (`BENCH_REDIS_PORT`). */
export function redisPort() {
  const port = Number(process.env.BENCH_REDIS_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error("BENCH_REDIS_PORT is not set: run the suite through bench/run.ts");
  }
  return port;
}

/** mitata's sampling budget: ~0.3 s per round of a benchmark, or almost nothing in smoke mode. */
const BUDGET = smoke
  ? { min_cpu_time: 1e6, min_samples: 2, max_samples: 4, warmup_samples: 1 }
  : { min_cpu_time: 300e6 };

/** Rounds of {@linkcode compare}. */
const ROUNDS = smoke ? 1 : 3;

/**
 * Measures competitors in interleaved rounds (A B C, A B C, ...) and keeps
 * each one's best round (lowest mean, or lowest p50 for `latency`), so a
 * burst of noise on this shared 2-core machine hits everyone alike instead
 * of whoever ran during it.
 *
 * @param entries `[name, fn, extra?]` as for {@linkcode bench}.
 * @returns One row per entry, in order.
 */
export async function compare(entries) {
  const best = new Array(entries.length);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < entries.length; i++) {
      const [name, fn, extra = {}] = entries[i];
      const row = await bench(name, fn, { ...extra, quiet: true });
      const key = extra.latency ? "p50_ns" : "avg_ns";
      if (best[i] === undefined || row[key] < best[i][key]) best[i] = row;
    }
  }
  for (let i = 0; i < entries.length; i++) print(best[i], entries[i][2]?.tag);
  return best;
}

function print(row, tag) {
  console.log(
    `  ${(tag ? `${tag}: ${row.name}` : row.name).padEnd(64)} ${
      fmtNs(row.avg_ns).padStart(10)
    }/call  p50 ${fmtNs(row.p50_ns).padStart(9)}  ${
      Math.round(row.ops_per_s).toLocaleString("en-US").padStart(12)
    } ops/s`,
  );
}

/**
 * Measures one benchmark.
 *
 * @param name The row name.
 * @param fn The function (sync or async; an async one is awaited each call).
 * @param extra `ops`: operations per call (e.g. 100 for 100 in flight);
 *   `tag`: a label for the console line;
 *   `latency`: one call per sample (no batching), so p50/p99 are per call.
 * @returns A result row: times in ns per call, and operations per second.
 */
export async function bench(name, fn, extra = {}) {
  const ops = extra.ops ?? 1;
  const opts = { ...BUDGET };
  if (extra.latency) opts.batch_threshold = 0;
  const stats = await measure(fn, opts);
  const row = {
    name,
    avg_ns: stats.avg,
    p50_ns: stats.p50,
    p99_ns: stats.p99,
    ops_per_call: ops,
    ops_per_s: (ops * 1e9) / stats.avg,
    samples: stats.samples.length,
  };
  if (!extra.quiet) print(row, extra.tag);
  return row;
}

/** Formats nanoseconds for the console. */
export function fmtNs(ns) {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

/** Forces a full garbage collection (needs `--expose-gc` under Node and Deno). */
export function gc() {
  if (runtime === "bun") globalThis.Bun.gc(true);
  else if (typeof globalThis.gc === "function") globalThis.gc();
  else throw new Error("gc() is not exposed: run with --expose-gc");
}

/** Heap in use, in bytes. */
export function heapUsed() {
  return process.memoryUsage().heapUsed;
}

export { do_not_optimize };
