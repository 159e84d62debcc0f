/**
 * Runs every benchmark case in this runtime and writes the results as JSON.
 * Started by `bench/run.ts` once per runtime (Node, Deno, Bun), with
 * `BENCH_REDIS_PORT` (the server) and `BENCH_OUT` (the JSON file) set.
 * `--only=l1_hit,resp` runs a subset (handy with `node --cpu-prof`).
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import process from "node:process";
import { loadLibrary, redisPort, runtime, runtimeVersion, smoke } from "./_common.mjs";
import * as l1Hit from "./cases/l1_hit.mjs";
import * as l1Churn from "./cases/l1_churn.mjs";
import * as resp from "./cases/resp.mjs";
import * as twoTier from "./cases/two_tier.mjs";
import * as memory from "./cases/memory.mjs";
import * as staleReads from "./cases/stale_reads.mjs";
import * as cluster from "./cases/cluster.mjs";
import * as byteBudget from "./cases/byte_budget.mjs";
import * as otel from "./cases/otel.mjs";

const CASES = {
  memory,
  byte_budget: byteBudget,
  l1_hit: l1Hit,
  l1_churn: l1Churn,
  resp,
  two_tier: twoTier,
  stale_reads: staleReads,
  cluster,
  otel,
};
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");

const lib = await loadLibrary();
const port = redisPort();
const tables = [];
const started = performance.now();
console.log(`\n### ${runtime} ${runtimeVersion}${smoke ? " (smoke)" : ""}`);
for (const [id, mod] of Object.entries(CASES)) {
  if (only && !only.includes(id)) continue;
  console.log(`\n[${id}]`);
  const out = await mod.run(lib, port);
  for (const table of Array.isArray(out) ? out : [{ id, ...out }]) tables.push(table);
}
const result = {
  runtime,
  version: runtimeVersion,
  smoke,
  seconds: Math.round((performance.now() - started) / 100) / 10,
  tables,
};
const file = process.env.BENCH_OUT;
if (file) writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
console.log(`\n${runtime}: ${tables.length} tables in ${result.seconds} s`);
process.exit(0);
