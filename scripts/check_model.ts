/**
 * `npm run check:model`: the model-based consistency checker (see
 * `tests/_model.ts` for the model and the window) over many seeds, on a
 * throwaway redis-server. On a failure it shrinks (halves the op count, then
 * drops ops one at a time, keeping a step only while the first failure's
 * shape still shows) and prints a replayable command.
 *
 *   deno run -A scripts/check_model.ts [--seed N] [--seeds 200] [--ops 100]
 *     [--instances 2] [--tracking false] [--profile default|kill|restart|calm|writes|reconnect]
 *     [--lib /path/to/mod.ts] [--keep 2,50,88] [--no-shrink]
 *
 * Timing matters (the program runs concurrently on real sockets), so a
 * shrunk case is retried up to 3 times per step and a replay may need a
 * few runs.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Lib, type Profile, type RunConfig, runOnce } from "../tests/_model.ts";
import { startRedisServer } from "../tests/_redis_server.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    seeds: { type: "string", default: "200" },
    ops: { type: "string", default: "100" },
    instances: { type: "string", default: "2" },
    tracking: { type: "string", default: "true" },
    profile: { type: "string", default: "default" },
    lib: { type: "string" },
    keep: { type: "string" },
    "no-shrink": { type: "boolean", default: false },
  },
});
const libPath = a.lib ? pathToFileURL(resolve(a.lib)).href : "../mod.ts";
const lib = await import(libPath) as Lib;
if (Deno.env.get("MODEL_VERBOSE")) (globalThis as { MODEL_VERBOSE?: boolean }).MODEL_VERBOSE = true;
const server = await startRedisServer();
const base = {
  ops: Number(a.ops),
  instances: Number(a.instances),
  tracking: a.tracking !== "false",
  profile: a.profile as Profile,
};
const first = a.seed !== undefined ? Number(a.seed) : 1;
const count = a.seed !== undefined ? 1 : Number(a.seeds);
const run = (c: RunConfig) => runOnce(lib, server.port, c, server);
/** `--keep 2,50,88`: replay only these ops of the program (a shrunk case). */
const keepOnly = (ops: number, keep: string) => {
  const kept = new Set(keep.split(",").map(Number));
  return new Set([...Array(ops).keys()].filter((i) => !kept.has(i)));
};

/**
 * A failure's shape: what kind of value was read (`w`rite, `l`oad,
 * `undefined`) and what kind of change had ended it ("read w:14 ... ended by
 * inv#16" is `w/inv`). The shrinker keeps a step only if the failure it
 * started from still shows in this shape, so it does not wander off to
 * another bug that a smaller program happens to show.
 */
const shape = (failure: string) =>
  `${failure.match(/ read (undefined|[a-z]+)/)?.[1]}/${
    failure.match(/ended by (\w+)#/)?.[1] ?? (failure.includes("never a candidate") ? "never" : "?")
  }`;

/** Fails at least once in `tries` runs, in `want`'s shape (timing makes some failures flaky). */
async function fails(c: RunConfig, want: string, tries = 3): Promise<string[] | undefined> {
  for (let i = 0; i < tries; i++) {
    const r = await run(c);
    if (r.failures.some((f) => shape(f) === want)) return r.failures;
  }
  return undefined;
}

let failed = 0;
try {
  for (let seed = first; seed < first + count; seed++) {
    const drop0 = a.keep ? keepOnly(base.ops, a.keep) : undefined;
    const result = await run({ ...base, seed, drop: drop0 });
    if (result.failures.length === 0) {
      if (count === 1) console.log(`seed ${seed}: ok (${result.reads} reads)`);
      continue;
    }
    failed++;
    console.log(`seed ${seed}: FAILED\n  ${result.failures.slice(0, 5).join("\n  ")}`);
    if (a["no-shrink"] || a.keep) continue;
    let ops = base.ops;
    let last = result.failures;
    const want = shape(result.failures[0]);
    while (ops > 4) {
      const f = await fails({ ...base, seed, ops: Math.floor(ops / 2) }, want);
      if (!f) break;
      ops = Math.floor(ops / 2);
      last = f;
    }
    const drop = new Set<number>();
    for (let id = ops - 1; id >= 0; id--) {
      drop.add(id);
      const f = await fails({ ...base, seed, ops, drop }, want, 2);
      if (f) last = f;
      else drop.delete(id);
    }
    const flags = `--seed ${seed} --ops ${ops}` +
      (base.tracking ? "" : " --tracking false") +
      (base.profile === "default" ? "" : ` --profile ${base.profile}`) +
      (a.lib ? ` --lib ${a.lib}` : "");
    const kept = [...Array(ops).keys()].filter((i) => !drop.has(i)).join(",");
    console.log(
      `  shrunk (${want}): npm run check:model -- ${flags} --keep ${kept}\n  ${
        last.filter((f) => shape(f) === want).slice(0, 3).join("\n  ")
      }`,
    );
  }
} finally {
  await server.stop();
}
console.log(`${count - failed}/${count} seeds passed`);
if (failed) Deno.exit(1);
