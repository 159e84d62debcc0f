/**
 * Shared by the scripts that start child processes (`chaos.ts`,
 * `load_service.ts`): flags, the repository's paths, a private Node build in
 * `.tmp/`, stopping a child by PID, and Ctrl-C handling.
 *
 * @module
 */

/** `--name=value` gives `"value"`, a bare `--name` gives `"true"`, none gives `undefined`. */
export function flag(name: string): string | undefined {
  const hit = Deno.args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (hit === undefined) return undefined;
  return hit.includes("=") ? hit.slice(hit.indexOf("=") + 1) : "true";
}

/** The repository root, without a trailing slash. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The project's `node_modules/.bin`. */
export const BIN = `${ROOT}/node_modules/.bin`;
/**
 * The Node the scripts run: the newest LTS line from the `node24` devDependency, as `npm test`
 * does; the `node` on PATH only when that is not installed.
 */
export const NODE = (() => {
  const lts = `${ROOT}/node_modules/node24/bin/node`;
  try {
    return Deno.statSync(lts).isFile ? lts : "node";
  } catch {
    return "node";
  }
})();

/** The last 20 lines of a log file, or `"(no log)"`. */
export async function tail(file: string): Promise<string> {
  try {
    return (await Deno.readTextFile(file)).split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

/** SIGTERM by PID, SIGKILL after 3 s; waits for the exit. */
export async function stopChild(pid: number, status: Promise<Deno.CommandStatus>): Promise<void> {
  const signal = (sig: Deno.Signal) => {
    try {
      Deno.kill(pid, sig);
    } catch { /* already gone */ }
  };
  signal("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 3000)));
  if (await Promise.race([status, late]) === "late") {
    signal("SIGKILL");
    await status;
  }
  clearTimeout(timer);
}

/** On Ctrl-C (SIGINT) or SIGTERM: runs `cleanup`, then exits 130. */
export function onInterrupt(cleanup: () => Promise<void>): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      console.error(`\n${sig}: stopping every process started here`);
      cleanup().finally(() => Deno.exit(130));
    });
  }
}

/**
 * Compiles `include` (and what it imports) for Node, as the npm package is
 * built, into `.tmp/<dir>/out`. Type errors are reported and the emitted JS
 * is used anyway.
 *
 * @param dir The build's folder under `.tmp/`, emptied first.
 * @param include The entry points, relative to the repository root.
 * @param entry The emitted file to run, relative to the repository root.
 * @returns The path of the emitted `entry`.
 * @throws {Error} If tsc emitted no `entry`.
 */
export async function buildForNode(dir: string, include: string[], entry: string): Promise<string> {
  const build = `${ROOT}/.tmp/${dir}`;
  await Deno.remove(build, { recursive: true }).catch(() => {});
  await Deno.mkdir(build, { recursive: true });
  await Deno.writeTextFile(
    `${build}/tsconfig.json`,
    JSON.stringify({
      extends: "../../tsconfig.build.json",
      compilerOptions: { rootDir: "../..", outDir: "out", declaration: false },
      include: include.map((file) => `../../${file}`),
    }),
  );
  const { code, stdout } = await new Deno.Command(`${BIN}/tsc`, {
    args: ["-p", `${build}/tsconfig.json`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  await Deno.writeTextFile(`${build}/out/package.json`, '{ "type": "module" }\n');
  const emitted = `${build}/out/${entry}`;
  if (!(await Deno.stat(emitted).then(() => true, () => false))) {
    throw new Error(`tsc produced no ${emitted}:\n${new TextDecoder().decode(stdout)}`);
  }
  if (code !== 0) {
    const errors = new TextDecoder().decode(stdout).split("\n").filter((l) => /error TS/.test(l));
    console.warn(`  tsc reported ${errors.length} type error(s); running the emitted JS anyway:`);
    for (const e of errors.slice(0, 5)) console.warn(`    ${e}`);
  }
  return emitted;
}
