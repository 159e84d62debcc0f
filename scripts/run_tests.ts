/**
 * `npm test`: every check, in order, stopping at the first failure; then one
 * summary line per runtime and a total.
 *
 *   deno fmt --check, deno lint, deno check, deno doc --lint,
 *   deno publish --dry-run (slow types), deno test (+ JSDoc examples),
 *   bun test, npm build (tsc) + node --test on the built package on Node 24
 *   (the newest LTS), then the smoke file (`tests/node_smoke_test.ts`) on Node 22
 *   and Node 26 (the other supported lines),
 *   a smoke run of the benchmarks (`bench/run.ts --smoke`) and of the hit-ratio
 *   bench (`bench/hitratio.ts --smoke`: two small traces, checked against the
 *   reference table), the release check (`scripts/check_release.ts`: what
 *   `npm pack` of the build holds, the workflows), then the short
 *   fault run (`scripts/chaos.ts --short`: Deno, Bun and Node against a Redis
 *   that is killed, paused, filled, re-passworded...) and the short load run
 *   of the example service (`scripts/load_service.ts --short`).
 *
 * Run: `deno run -A scripts/run_tests.ts [--quick] [--matrix]` (`--quick` skips the static
 * checks; `--matrix`, `npm run test:matrix`, runs the full Node suite on every line, 22, 24
 * and 26, after Deno and Bun, and none of the bench, chaos and load runs).
 *
 * Every child sees Node 24 as `node` on its PATH, so what the bench, chaos and load runs
 * start (and tsc) is Node 24 too. Node 20 (end of life) is not run.
 */

const BIN = "node_modules/.bin";
const quick = Deno.args.includes("--quick");
const matrix = Deno.args.includes("--matrix");
/** Node lines (package.json's `nodeNN` aliases): the newest LTS runs everything, the others a smoke. */
const NODE_LTS = 24;
const NODE_SMOKE = [22, 26];
const nodeBin = (line: number) => `node_modules/node${line}/bin/node`;
const PATH = `${Deno.cwd()}/node_modules/node${NODE_LTS}/bin:${Deno.env.get("PATH") ?? ""}`;

interface Counts {
  passed: number;
  failed: number;
}
const summary: [string, Counts][] = [];

async function step(
  title: string,
  cmd: string,
  args: string[],
  parse?: (output: string) => Counts,
): Promise<void> {
  console.log(`\n=== ${title}: ${cmd} ${args.join(" ")}`);
  const child = new Deno.Command(cmd, {
    args,
    stdout: parse ? "piped" : "inherit",
    stderr: parse ? "piped" : "inherit",
    env: { NO_COLOR: "1", FORCE_COLOR: "0", PATH },
  }).spawn();
  let output = "";
  if (parse) {
    const decoder = new TextDecoder();
    const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
      for await (const chunk of stream) {
        output += decoder.decode(chunk, { stream: true });
        await sink.write(chunk);
      }
    };
    await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  }
  const { code } = await child.status;
  // deno-lint-ignore no-control-regex
  const counts = parse?.(output.replace(/\x1b\[[0-9;]*m/g, ""));
  if (counts) summary.push([title, counts]);
  if (code !== 0 || (counts && (counts.failed > 0 || counts.passed === 0))) {
    printSummary();
    console.error(`\nFAILED at step "${title}" (exit code ${code})`);
    Deno.exit(1);
  }
}

function num(output: string, re: RegExp): number {
  let last = 0;
  for (const m of output.matchAll(re)) last = Number(m[1]);
  return last;
}

/** Deno counts a `describe` as a test and each inner `test` as a step: report both. */
function parseDeno(out: string): Counts {
  const line = [...out.matchAll(/^(?:ok|FAILED) \|.*$/gm)].at(-1)?.[0] ?? "";
  const count = (word: string) => {
    const m = new RegExp(`(\\d+) ${word}(?: \\((\\d+) steps?\\))?`).exec(line);
    return m ? Number(m[1]) + Number(m[2] ?? 0) : 0;
  };
  return { passed: count("passed"), failed: count("failed") };
}
const parseBun = (out: string): Counts => ({
  passed: num(out, /^\s*(\d+) pass\b/gm),
  failed: num(out, /^\s*(\d+) fail\b/gm),
});
const parseNode = (out: string): Counts => ({
  passed: num(out, /^# pass (\d+)/gm),
  failed: num(out, /^# fail (\d+)/gm),
});

function printSummary(): void {
  if (summary.length === 0) return;
  console.log("\n=== summary");
  let passed = 0;
  let failed = 0;
  for (const [title, c] of summary) {
    console.log(`${title}: ${c.passed} passed, ${c.failed} failed`);
    passed += c.passed;
    failed += c.failed;
  }
  console.log(`${passed} passed, ${failed} failed`);
}

async function testFiles(dir: string, suffix: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(suffix)) files.push(`${dir}/${entry.name}`);
  }
  return files.sort();
}

if (!quick) {
  await step("format", `${BIN}/deno`, ["fmt", "--check"]);
  await step("lint", `${BIN}/deno`, ["lint"]);
  await step("type check (deno)", `${BIN}/deno`, [
    "check",
    "mod.ts",
    "runtimes/",
    "tests/",
    "scripts/",
  ]);
  await step("doc lint", `${BIN}/deno`, [
    "doc",
    "--lint",
    "mod.ts",
    "src/agent/mod.ts",
    "src/testing/mod.ts",
    "src/otel/mod.ts",
  ]);
  await step("publish dry run", `${BIN}/deno`, [
    "publish",
    "--dry-run",
    "--allow-dirty",
  ]);
}
await step(
  "deno",
  `${BIN}/deno`,
  ["test", "-A", "--doc", "--no-check=remote", "mod.ts", "src/", "tests/"],
  parseDeno,
);
await step("bun", `${BIN}/bun`, [
  "test",
  "--timeout",
  "60000",
  ...(await testFiles("tests", "_test.ts")),
], parseBun);
await step("build (tsc → npm/)", `${BIN}/deno`, ["run", "-A", "scripts/build_npm.ts"]);
async function nodeVersion(line: number): Promise<string> {
  const { stdout } = await new Deno.Command(nodeBin(line), { args: ["--version"] }).output();
  return new TextDecoder().decode(stdout).trim();
}
const nodeTests = await testFiles("npm/tests", "_test.js");
for (const line of matrix ? [...NODE_SMOKE, NODE_LTS].sort((a, b) => a - b) : [NODE_LTS]) {
  await step(`node ${await nodeVersion(line)}`, nodeBin(line), [
    "--test",
    "--test-reporter=tap",
    ...nodeTests,
  ], parseNode);
}
if (matrix) {
  printSummary();
  Deno.exit(0);
}
for (const line of NODE_SMOKE) {
  await step(`node ${await nodeVersion(line)} (smoke)`, nodeBin(line), [
    "--test",
    "--test-reporter=tap",
    "npm/tests/node_smoke_test.js",
  ], parseNode);
}
await step("bench smoke (tiny iterations, all runtimes)", `${BIN}/deno`, [
  "run",
  "-A",
  "bench/run.ts",
  "--smoke",
]);
await step("hit-ratio bench smoke (two small traces vs the reference)", `${BIN}/deno`, [
  "run",
  "-A",
  "bench/hitratio.ts",
  "--smoke",
]);
await step("release check (npm pack of the build, workflows)", `${BIN}/deno`, [
  "run",
  "-A",
  "scripts/check_release.ts",
]);
await step("chaos --short (Redis faults, all runtimes)", `${BIN}/deno`, [
  "run",
  "-A",
  "scripts/chaos.ts",
  "--short",
]);
await step("load --short (example service, Redis killed)", `${BIN}/deno`, [
  "run",
  "-A",
  "scripts/load_service.ts",
  "--short",
]);
printSummary();
