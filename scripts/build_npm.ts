/**
 * Builds the npm package into `npm/`, the job dnt would do: `tsc` compiles the
 * TypeScript source (and the tests, so `node --test` runs them against the
 * built code), then a `package.json` is written whose name, version and
 * `exports` mirror `deno.json`'s (the JSR package), so the two registries offer
 * the same entry points.
 *
 * Run: `deno run -A scripts/build_npm.ts` (or `npm run build`).
 */
import { jsrToNpmExports, readJson } from "./_exports.ts";

const OUT = "npm";

async function run(cmd: string, args: string[]): Promise<void> {
  const { code } = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" })
    .output();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${code}`);
}

await Deno.remove(OUT, { recursive: true }).catch(() => {});
await run("node_modules/.bin/tsc", ["-p", "tsconfig.build.json"]);

const jsr = await readJson("deno.json") as {
  name: string;
  version: string;
  exports: Record<string, string>;
};
// `engines` says what `npm test` and `npm run test:matrix` run, read from our devDependencies
// (Node lines are aliases `"node22": "npm:node@22.23.3"`): the oldest Node line and up (each line is
// tested at its newest release), and Deno and Bun from the tested minor within their major.
const dev = ((await readJson("package.json")) as { devDependencies: Record<string, string> })
  .devDependencies;
const nodeLines = Object.keys(dev).filter((k) => /^node\d+$/.test(k)).map((k) =>
  Number(k.slice(4))
);
if (nodeLines.length === 0) throw new Error("package.json has no nodeNN devDependency");
const minor = (name: string) => {
  const m = /^(\d+)\.(\d+)\.\d+$/.exec(dev[name] ?? "");
  if (!m) throw new Error(`package.json: ${name} is not pinned to x.y.z: ${dev[name]}`);
  return `^${m[1]}.${m[2]}`;
};
const engines = { node: `>=${Math.min(...nodeLines)}`, deno: minor("deno"), bun: minor("bun") };

const pkg = {
  name: jsr.name,
  version: jsr.version,
  description:
    "A two-tier async cache (in-process LRU + TTL, shared Redis) for Deno, Bun and Node, with no runtime dependency.",
  license: "MIT",
  type: "module",
  sideEffects: false,
  engines,
  exports: jsrToNpmExports(jsr.exports),
  types: "./mod.d.ts",
  files: ["mod.js", "mod.d.ts", "src/", "runtimes/", "README.md", "LICENSE"],
  keywords: ["cache", "lru", "ttl", "redis", "async", "deno", "bun", "memoize"],
  dependencies: {},
};
await Deno.writeTextFile(`${OUT}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
await Deno.copyFile("README.md", `${OUT}/README.md`);
await Deno.copyFile("LICENSE", `${OUT}/LICENSE`);
console.log(`built ${pkg.name}@${pkg.version} into ${OUT}/`);
