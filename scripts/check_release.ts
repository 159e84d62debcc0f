/**
 * Release checks, run by `npm test` (one step) and by the release workflow:
 *
 * 1. The npm package: `npm pack --dry-run --json` in `npm/` (built first when
 *    `npm/package.json` is missing, or with `--build`) must list exactly the
 *    built `.js` + `.d.ts` of `mod.ts`, `src/` and `runtimes/`, plus
 *    `package.json`, `README.md` and `LICENSE`: nothing missing, nothing extra
 *    (no tests, bench, sources, source maps). Its name, version and `exports`
 *    must be `deno.json`'s (the JSR package), every export target packed.
 * 2. The GitHub Actions workflows in `.github/workflows/`: each must pass
 *    `action-validator` (the workflows cannot run here; this is their check).
 * 3. With `--tag vX.Y.Z` (the release workflow passes the pushed tag): the tag
 *    must be `v` + the version of `deno.json` and of the built npm package, and
 *    `CHANGELOG.md` must have a section for it.
 *
 * Run: `deno run -A scripts/check_release.ts [--build] [--tag v0.1.0]`.
 *
 * @module
 */
import { jsrToNpmExports, readJson } from "./_exports.ts";

const OUT = "npm";
const BIN = "node_modules/.bin";
const WORKFLOWS = ".github/workflows";
/** The packed files that are not built from a source file. */
const FIXED = ["package.json", "README.md", "LICENSE"];

const args = [...Deno.args];
const build = args.includes("--build");
const tagAt = args.indexOf("--tag");
const tag = tagAt === -1 ? undefined : args[tagAt + 1];
if (tagAt !== -1 && (tag === undefined || tag.startsWith("--"))) fail(["--tag needs a value"]);

const problems: string[] = [];

function fail(lines: string[]): never {
  console.error(`check_release: ${lines.length} problem(s)\n  ${lines.join("\n  ")}`);
  Deno.exit(1);
}

async function run(cmd: string, cmdArgs: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, { args: cmdArgs, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The `.ts` sources under `dir` (recursively), as paths relative to the root. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await sources(path));
    else if (entry.isFile && path.endsWith(".ts") && !path.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

// deno.json is the JSR package: the one list of exports and the one version.
const deno = await readJson("deno.json") as {
  name: string;
  version: string;
  exports: Record<string, string>;
};

// 1. The npm package.
if (build || !(await exists(`${OUT}/package.json`))) {
  const built = await run(Deno.execPath(), ["run", "-A", "scripts/build_npm.ts"]);
  if (built.code !== 0) fail([`build failed:\n${built.stdout}${built.stderr}`]);
}
const pack = await run("npm", ["pack", "--dry-run", "--json"], OUT);
if (pack.code !== 0) fail([`npm pack --dry-run failed (${pack.code}):\n${pack.stderr}`]);
const [packed] = JSON.parse(pack.stdout) as {
  name: string;
  version: string;
  files: { path: string }[];
}[];
const files = new Set(packed.files.map((f) => f.path));

const expected = new Set(FIXED);
for (const file of ["mod.ts", ...await sources("src"), ...await sources("runtimes")]) {
  const base = file.slice(0, -3);
  expected.add(`${base}.js`);
  expected.add(`${base}.d.ts`);
}
for (const file of [...expected].sort()) {
  if (!files.has(file)) problems.push(`missing from the npm package: ${file}`);
}
for (const file of [...files].sort()) {
  if (!expected.has(file)) problems.push(`not expected in the npm package: ${file}`);
}

const pkg = await readJson(`${OUT}/package.json`) as {
  name: string;
  version: string;
  exports: Record<string, { types: string; import: string }>;
};
if (pkg.name !== deno.name) problems.push(`npm name ${pkg.name} is not deno.json's ${deno.name}`);
if (pkg.version !== deno.version) {
  problems.push(`npm version ${pkg.version} is not deno.json's ${deno.version} (rebuild?)`);
}
const wanted = jsrToNpmExports(deno.exports);
if (JSON.stringify(pkg.exports) !== JSON.stringify(wanted)) {
  problems.push(
    `npm exports ${JSON.stringify(pkg.exports)} do not mirror deno.json's ${
      JSON.stringify(wanted)
    }`,
  );
}
for (const [subpath, target] of Object.entries(pkg.exports)) {
  for (const file of [target.types, target.import]) {
    if (!files.has(file.replace(/^\.\//, ""))) {
      problems.push(`export ${subpath} points at ${file}, not packed`);
    }
  }
}

// 2. The workflows.
const workflows: string[] = [];
if (await exists(WORKFLOWS)) {
  for await (const entry of Deno.readDir(WORKFLOWS)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) workflows.push(`${WORKFLOWS}/${entry.name}`);
  }
}
workflows.sort();
for (const name of ["ci.yml", "release.yml"]) {
  if (!workflows.includes(`${WORKFLOWS}/${name}`)) problems.push(`missing ${WORKFLOWS}/${name}`);
}
for (const file of workflows) {
  const checked = await run(`${BIN}/action-validator`, [file]);
  if (checked.code !== 0) {
    problems.push(`${file} is not a valid workflow:\n${checked.stdout}${checked.stderr}`);
  }
}

// 3. The tag of a release.
if (tag !== undefined) {
  if (tag !== `v${deno.version}`) {
    problems.push(`tag ${tag} does not match deno.json's version ${deno.version}`);
  }
  if (tag !== `v${pkg.version}`) {
    problems.push(`tag ${tag} does not match the npm package's version ${pkg.version}`);
  }
  const changelog = await Deno.readTextFile("CHANGELOG.md").catch(() => "");
  const heading = new RegExp(`^## \\[?${deno.version.replaceAll(".", "\\.")}\\]?`, "m");
  if (!heading.test(changelog)) problems.push(`CHANGELOG.md has no section for ${deno.version}`);
}

if (problems.length > 0) fail(problems);
console.log(
  `check_release: ${packed.name}@${packed.version}: ${files.size} files packed, as expected; ` +
    `${workflows.length} workflows valid${tag === undefined ? "" : `; tag ${tag} matches`}`,
);
