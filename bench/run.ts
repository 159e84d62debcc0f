/**
 * `npm run bench`: builds the npm package if the sources changed, starts a
 * throwaway redis-server on a free loopback port, runs `bench/suite.mjs`
 * under Node, Deno and Bun (each also runs `redis-benchmark -c 1 -P 1` and
 * `-P 100`, the physical reference, next to its RESP cases), stores
 * `bench/results/<runtime>.json`, and writes `BENCHMARKS.md` with one table
 * per case (ratios measured in the same run) and the targets of issue 5.
 *
 * Run: `deno run -A bench/run.ts [--smoke] [--runtimes=node,deno,bun] [--only=resp,...]`
 *
 * `--report`: rewrites `BENCHMARKS.md` from `bench/results/*.json` (the last
 * full run) without running anything, e.g. after the targets changed.
 *
 * `--smoke` (or `BENCH_SMOKE=1`): tiny iteration counts, results in a temp
 * dir, `BENCHMARKS.md` untouched: proves the benchmarks still run.
 *
 * @module
 */
import { WHY_MISSED } from "./_explanations.ts";
import { execFileSync } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { startRedisServer } from "../tests/_redis_server.ts";
import { NODE } from "../scripts/_processes.ts";
import { type RedisCluster, startRedisCluster } from "../tests/_redis_cluster.ts";

const BIN = "node_modules/.bin";
const smoke = Deno.args.includes("--smoke") || Deno.env.get("BENCH_SMOKE") === "1";
const arg = (name: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const runtimes = (arg("runtimes") ?? "node,deno,bun").split(",");
const only = arg("only");
const started = performance.now();

// ---------------------------------------------------------------- types

interface Row {
  name: string;
  avg_ns?: number;
  p50_ns?: number;
  p99_ns?: number;
  ops_per_s?: number;
  bytes_per_entry?: number;
  ratio?: number;
}
interface Table {
  id: string;
  title: string;
  baseline: string;
  unit: "time" | "latency" | "ops" | "bytes" | "ratio";
  rows: Row[];
}
interface RuntimeResult {
  runtime: string;
  version: string;
  smoke: boolean;
  seconds: number;
  tables: Table[];
}

// ---------------------------------------------------------------- build

function newestMtime(path: string): number {
  let newest = 0;
  const stat = Deno.statSync(path);
  if (stat.isFile) return stat.mtime?.getTime() ?? 0;
  for (const entry of Deno.readDirSync(path)) {
    newest = Math.max(newest, newestMtime(`${path}/${entry.name}`));
  }
  return newest;
}

function buildIfStale(): void {
  let built = 0;
  try {
    built = Deno.statSync("npm/mod.js").mtime?.getTime() ?? 0;
  } catch { /* not built */ }
  const sources = Math.max(
    ...["mod.ts", "src", "runtimes", "tests"].map(newestMtime),
  );
  if (built > sources) return;
  console.log("building npm/ (the sources changed)...");
  run(`${BIN}/deno`, ["run", "-A", "scripts/build_npm.ts"]);
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): void {
  const { code } = new Deno.Command(cmd, {
    args,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).outputSync();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${code}`);
}

// ---------------------------------------------------------------- suite

function runSuite(
  runtime: string,
  port: number,
  out: string,
  clusterSeeds: string,
): RuntimeResult {
  const script = "bench/suite.mjs";
  const extra = [...(smoke ? ["--smoke"] : []), ...(only ? [`--only=${only}`] : [])];
  const [cmd, args] = runtime === "node"
    ? [NODE, ["--expose-gc", script, ...extra]]
    : runtime === "deno"
    ? [`${BIN}/deno`, ["run", "-A", "--v8-flags=--expose-gc", script, ...extra]]
    : [`${BIN}/bun`, ["run", script, ...extra]];
  run(cmd, args as string[], {
    BENCH_REDIS_PORT: String(port),
    BENCH_OUT: out,
    BENCH_CLUSTER_SEEDS: clusterSeeds,
  });
  return JSON.parse(Deno.readTextFileSync(out));
}

// ---------------------------------------------------------------- report

const fmtNs = (ns: number) =>
  ns < 1e3
    ? `${ns.toFixed(0)} ns`
    : ns < 1e6
    ? `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`
    : `${(ns / 1e6).toFixed(2)} ms`;
const fmtOps = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtX = (r: number) => `${r.toFixed(r < 10 ? 2 : r < 100 ? 1 : 0)}×`;

function find(table: Table | undefined, name: string): Row | undefined {
  return table?.rows.find((r) => r.name === name);
}

const REF_P1 = "redis-benchmark -c 1 -P 1 (C, reference)";

function markdownTable(t: Table): string {
  const base = find(t, t.baseline)!;
  const lines: string[] = [];
  const push = (cells: string[]) => lines.push(`| ${cells.join(" | ")} |`);
  if (t.unit === "ratio") {
    push(["", "ratio"]);
    push(["---", "---:"]);
    for (const r of t.rows) push([r.name, fmtX(r.ratio!)]);
  } else if (t.unit === "bytes") {
    push(["", "bytes / entry", `÷ ${t.baseline}`]);
    push(["---", "---:", "---:"]);
    for (const r of t.rows) {
      push([
        r.name,
        r.bytes_per_entry!.toFixed(1),
        fmtX(r.bytes_per_entry! / base.bytes_per_entry!),
      ]);
    }
  } else if (t.unit === "latency") {
    push(["", "p50", "p99", "mean", `p50 ÷ ${t.baseline}`]);
    push(["---", "---:", "---:", "---:", "---:"]);
    for (const r of t.rows) {
      push([
        r.name,
        fmtNs(r.p50_ns!),
        fmtNs(r.p99_ns!),
        fmtNs(r.avg_ns!),
        fmtX(r.p50_ns! / base.p50_ns!),
      ]);
    }
  } else if (t.unit === "ops") {
    push(["", "ops/s", "time / 100 ops", `throughput ÷ ${t.baseline}`]);
    push(["---", "---:", "---:", "---:"]);
    for (const r of t.rows) {
      push([r.name, fmtOps(r.ops_per_s!), fmtNs(r.avg_ns!), fmtX(r.ops_per_s! / base.ops_per_s!)]);
    }
  } else {
    push(["", "mean / call", "p50", "ops/s", `time ÷ ${t.baseline}`]);
    push(["---", "---:", "---:", "---:", "---:"]);
    for (const r of t.rows) {
      push([
        r.name,
        fmtNs(r.avg_ns!),
        fmtNs(r.p50_ns!),
        fmtOps(r.ops_per_s!),
        fmtX(r.avg_ns! / base.avg_ns!),
      ]);
    }
  }
  return lines.join("\n");
}

interface Check {
  runtime: string;
  target: string;
  measured: string;
  met: boolean;
}

const OURS_CLIENT = (rt: string) => `async-cache RedisClient (${rt} transport)`;
const OURS_TIER = "async-cache (AsyncCache + RedisBackend)";

function checks(results: RuntimeResult[]): Check[] {
  const out: Check[] = [];
  const add = (
    runtime: string,
    target: string,
    ratio: number | undefined,
    ok: (r: number) => boolean,
    what: string,
  ) => {
    if (ratio === undefined || !Number.isFinite(ratio)) return;
    out.push({ runtime, target, measured: `${fmtX(ratio)} ${what}`, met: ok(ratio) });
  };
  for (const res of results) {
    const rt = res.runtime;
    const t = (id: string) => res.tables.find((x) => x.id === id);
    const hit = t("l1_hit");
    const floor = find(hit, "Map.get + await (floor)");
    const ours = find(hit, "async-cache get(key, { loader })");
    if (floor && ours) {
      add(
        rt,
        "L1 hit ≤ 1.3× the Map.get + await floor",
        ours.avg_ns! / floor.avg_ns!,
        (r) => r <= 1.3,
        "the floor's time",
      );
      const plain = find(hit, "async-cache get(key)");
      const lru = find(hit, "lru-cache get + await");
      if (plain && lru) {
        add(
          rt,
          "L1 hit get(key) ≤ lru-cache get + await",
          plain.avg_ns! / lru.avg_ns!,
          (r) => r <= 1,
          "lru-cache's time",
        );
      }
      const bento = find(hit, "bentocache getOrSet (memory)");
      if (bento && rt === "node") {
        add(
          rt,
          "L1 hit ≥ 30× faster than bentocache",
          bento.avg_ns! / ours.avg_ns!,
          (r) => r >= 30,
          "faster",
        );
      }
    }
    // Issue 17: what the policy, the TTL clock and the byte budget cost.
    const plainHit = find(hit, "async-cache get(key)");
    const ratioOf = (table: Table | undefined, name: string, base: Row | undefined) => {
      const row = find(table, name);
      return row && base ? row.avg_ns! / base.avg_ns! : undefined;
    };
    add(
      rt,
      'L1 hit, policy "tinylfu" ≤ 1.3× "lru"',
      ratioOf(hit, 'async-cache get(key), policy "tinylfu"', plainHit),
      (r) => r <= 1.3,
      '"lru"\'s time',
    );
    add(
      rt,
      "L1 hit with a defaultTtl ≤ 1.1× without",
      ratioOf(hit, "async-cache get(key), defaultTtl", plainHit),
      (r) => r <= 1.1,
      "the time without",
    );
    const churn = t("l1_churn");
    add(
      rt,
      'L1 miss and insert, policy "tinylfu" ≤ 1.5× "lru"',
      ratioOf(
        churn,
        'async-cache get(key, { loader }), policy "tinylfu"',
        find(churn, "async-cache get(key, { loader })"),
      ),
      (r) => r <= 1.5,
      '"lru"\'s time',
    );
    const tinyMem = find(t("memory"), 'async-cache AsyncCache, policy "tinylfu"');
    const lruMem = find(t("memory"), "lru-cache");
    if (tinyMem && lruMem) {
      add(
        rt,
        'Memory per entry, policy "tinylfu" ≤ 1.5× lru-cache',
        tinyMem.bytes_per_entry! / lruMem.bytes_per_entry!,
        (r) => r <= 1.5,
        "lru-cache's",
      );
    }
    const budget = find(t("byte_budget"), "heap growth ÷ maxBytes");
    if (budget) {
      add(
        rt,
        "Heap growth ≤ 1.2× maxBytes (values of 1 KB to 1 MB churning)",
        budget.ratio!,
        (r) => r <= 1.2,
        "the budget",
      );
    }
    // Issue 18: what instrument() costs.
    add(
      rt,
      "Instrumented L1 hit ≤ 1.1× uninstrumented",
      ratioOf(
        t("otel_hit"),
        "async-cache get(key), instrumented",
        find(t("otel_hit"), "async-cache get(key)"),
      ),
      (r) => r <= 1.1,
      "the uninstrumented time",
    );
    add(
      rt,
      "Instrumented miss path ≤ 1.2× uninstrumented",
      ratioOf(
        t("otel_miss"),
        "async-cache full miss, instrumented",
        find(t("otel_miss"), "async-cache full miss"),
      ),
      (r) => r <= 1.2,
      "the uninstrumented time",
    );
    const auto = "ioredis (enableAutoPipelining)";
    const g100 = t("resp_get100");
    const og = find(g100, OURS_CLIENT(rt));
    if (og) {
      if (rt === "node") {
        add(
          rt,
          "100 GETs in flight ≥ 1.5× ioredis (auto-pipelining)",
          og.ops_per_s! / find(g100, auto)!.ops_per_s!,
          (r) => r >= 1.5,
          "ioredis' throughput",
        );
      }
      const bun = find(g100, "Bun.redis");
      if (bun) {
        add(
          rt,
          "100 GETs in flight ≥ Bun.redis",
          og.ops_per_s! / bun.ops_per_s!,
          (r) => r >= 1,
          "Bun.redis' throughput",
        );
      }
      const nodeNet = find(g100, "async-cache RedisClient (node:net transport)");
      if (nodeNet && rt === "deno") {
        add(
          rt,
          "Deno transport ≥ node:net under Deno (100 in flight)",
          og.ops_per_s! / nodeNet.ops_per_s!,
          (r) => r >= 1,
          "node:net's throughput",
        );
      }
    }
    const seq = t("resp_seq");
    const os_ = find(seq, OURS_CLIENT(rt));
    const ref = find(seq, REF_P1);
    if (os_ && ref && rt === "node") {
      add(
        rt,
        "Sequential GET p50 ≤ 1.1× redis-benchmark -c 1 -P 1",
        os_.p50_ns! / ref.p50_ns!,
        (r) => r <= 1.1,
        "redis-benchmark's p50",
      );
    }
    if (os_) {
      const bun = find(seq, "Bun.redis");
      if (bun) {
        add(
          rt,
          "Sequential GET p50 ≤ Bun.redis'",
          os_.p50_ns! / bun.p50_ns!,
          (r) => r <= 1,
          "Bun.redis' p50",
        );
      }
      const nodeNet = find(seq, "async-cache RedisClient (node:net transport)");
      if (nodeNet && rt === "deno") {
        add(
          rt,
          "Deno transport sequential GET p50 ≤ node:net's under Deno",
          os_.p50_ns! / nodeNet.p50_ns!,
          (r) => r <= 1,
          "node:net's p50",
        );
      }
    }
    const mget = t("resp_mget");
    const om = find(mget, OURS_CLIENT(rt));
    if (om && rt === "node") {
      const best = Math.min(find(mget, auto)!.avg_ns!, find(mget, "ioredis")!.avg_ns!);
      add(
        rt,
        "MGET 100 at least as fast as ioredis",
        om.avg_ns! / best,
        (r) => r <= 1,
        "ioredis' time (best of both modes)",
      );
    }
    const par = t("tier_par");
    const op = find(par, OURS_TIER);
    if (op) {
      add(
        rt,
        "Two tiers, L2 hit ×100 in flight ≥ 5× bentocache",
        op.ops_per_s! / find(par, "bentocache (memory + redis)")!.ops_per_s!,
        (r) => r >= 5,
        "bentocache's throughput",
      );
      add(
        rt,
        "Two tiers, L2 hit ×100 in flight ≥ 1.5× lru-cache + ioredis",
        op.ops_per_s! / find(par, "lru-cache + ioredis (hand-rolled)")!.ops_per_s!,
        (r) => r >= 1.5,
        "the hand-rolled pair's throughput",
      );
    }
    const cl = find(t("cluster_par"), "async-cache (AsyncCache + RedisBackend cluster)");
    if (cl) {
      add(
        rt,
        "Cluster, L2 hit ×100 in flight ≥ 1.5× lru-cache + ioredis Cluster",
        cl.ops_per_s! / find(t("cluster_par"), "lru-cache + ioredis Cluster")!.ops_per_s!,
        (r) => r >= 1.5,
        "ioredis Cluster's throughput",
      );
    }
    const stale = t("stale_reads");
    for (const row of stale?.rows ?? []) {
      const r = row as Row & { stale_reads?: number; window_ms?: number };
      if (r.stale_reads === undefined) continue;
      out.push({
        runtime: rt,
        target: `0 stale reads (window ${r.window_ms} ms), ${r.name.split(":")[0]}`,
        measured: `${r.stale_reads} of ${r.name.split(" of ")[1] ?? "?"}`,
        met: r.stale_reads === 0,
      });
    }
    const mem = t("memory");
    const a = find(mem, "async-cache AsyncCache");
    const b = find(mem, "lru-cache");
    if (a && b) {
      add(
        rt,
        "Memory per L1 entry ≤ 1.5× lru-cache",
        a.bytes_per_entry! / b.bytes_per_entry!,
        (r) => r <= 1.5,
        "lru-cache's bytes",
      );
    }
  }
  return out;
}

function machine(): string[] {
  const cpus = os.cpus();
  const redis = execFileSync("redis-server", ["--version"], { encoding: "utf8" }).trim();
  return [
    `- CPU: ${cpus[0]?.model ?? "unknown"} × ${cpus.length}`,
    `- Memory: ${
      (os.totalmem() / 2 ** 30).toFixed(1)
    } GiB; OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- ${redis.split(" sha=")[0]}`,
  ];
}

/** For each missed target, the measured ratio's explanation (bench/_explanations.ts). */
function whyMissed(results: RuntimeResult[]): string[] {
  const missed = checks(results).filter((c) => !c.met);
  if (missed.length === 0) return [];
  const out = ["", "### Missed targets: why, and what would close them", ""];
  for (const c of missed) {
    out.push(
      `- **${c.runtime}, ${c.target}** (${c.measured}): ${
        WHY_MISSED[c.target] ?? "not yet explained."
      }`,
    );
  }
  return out;
}

function report(results: RuntimeResult[], seconds: number): string {
  const versions = results.map((r) => `${r.runtime} ${r.version}`).join(", ");
  const peers = ["mitata", "lru-cache", "ioredis", "redis", "bentocache"].map((p) => {
    const pkg = JSON.parse(Deno.readTextFileSync(`node_modules/${p}/package.json`));
    return `${p} ${pkg.version}`;
  });
  const parts = [
    "# Benchmarks",
    "",
    "Generated by `npm run bench` (`deno run -A bench/run.ts`); do not edit by hand. Each runtime runs the",
    "whole suite in one process against one throwaway `redis-server` on loopback, so the **ratios** in a",
    "table were measured in the same run (absolute numbers move on a noisy machine; ratios hold).",
    "",
    ...machine(),
    `- Runtimes: ${versions}`,
    `- Peers: ${peers.join(", ")}`,
    `- Command: \`npm run bench\`, ${seconds.toFixed(0)} s in all`,
    "",
    "## Targets (issues 5, 8, 10 and 12)",
    "",
    "| runtime | target | measured | |",
    "| --- | --- | --- | --- |",
    ...checks(results).map((c) =>
      `| ${c.runtime} | ${c.target} | ${c.measured} | ${c.met ? "met" : "**missed**"} |`
    ),
    ...whyMissed(results),
    "",
    "The physical reference, `redis-benchmark -c 1 -P 1` and `-P 100` (C, `-t get -d 100`), runs",
    "inside each runtime's suite right next to the measurements it is compared with (the sequential",
    "one just before and just after the clients' sequential GETs, averaged).",
  ];
  const ids = results[0]?.tables.map((t) => t.id) ?? [];
  for (const id of ids) {
    const title = results[0].tables.find((t) => t.id === id)!.title;
    parts.push("", `## ${title}`);
    for (const res of results) {
      const t = res.tables.find((x) => x.id === id);
      if (!t) continue;
      parts.push("", `### ${res.runtime} ${res.version}`, "", markdownTable(t));
    }
  }
  return parts.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

if (Deno.args.includes("--report")) {
  const saved = runtimes.map((rt) =>
    JSON.parse(Deno.readTextFileSync(`bench/results/${rt}.json`)) as RuntimeResult
  );
  const total = saved.reduce((n, r) => n + r.seconds, 0);
  Deno.writeTextFileSync("BENCHMARKS.md", report(saved, total));
  run(`${BIN}/deno`, ["fmt", "-q", "BENCHMARKS.md"]);
  console.log("rewrote BENCHMARKS.md from bench/results/*.json");
  Deno.exit(0);
}

buildIfStale();
const outDir = smoke ? Deno.makeTempDirSync({ prefix: "async-cache-bench-" }) : "bench/results";
Deno.mkdirSync(outDir, { recursive: true });
const server = await startRedisServer();
// The cluster case needs a 3+3 cluster (about 3 s to start): only when it runs.
let cluster: RedisCluster | undefined;
const results: RuntimeResult[] = [];
try {
  console.log(`redis-server on 127.0.0.1:${server.port}`);
  if (!only || only.split(",").includes("cluster")) {
    cluster = await startRedisCluster();
    console.log(`redis cluster on ${cluster.seeds.map((s) => s.port).join(", ")}`);
  }
  const seeds = cluster?.seeds.map((s) => `${s.host}:${s.port}`).join(",") ?? "";
  for (const rt of runtimes) {
    results.push(runSuite(rt, server.port, `${outDir}/${rt}.json`, seeds));
  }
} finally {
  await server.stop();
  await cluster?.stop();
}
const seconds = (performance.now() - started) / 1000;
const md = report(results, seconds);
if (smoke) {
  Deno.removeSync(outDir, { recursive: true });
  const tables = results.reduce((n, r) => n + r.tables.length, 0);
  console.log(
    `\nbench smoke: ${results.length} runtimes, ${tables} tables, ${seconds.toFixed(1)} s: ok`,
  );
} else {
  Deno.writeTextFileSync("BENCHMARKS.md", md);
  run(`${BIN}/deno`, ["fmt", "-q", "BENCHMARKS.md", outDir]);
  console.log("\n" + md);
  console.log(`wrote BENCHMARKS.md and ${outDir}/*.json in ${seconds.toFixed(0)} s`);
}
process.exitCode = 0;
