/** Shared by the build and its check: JSR's `exports` (in `deno.json`) turned into npm's. */

/** Reads and parses a JSON file. */
export async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** `{ "./agent": "./src/agent/mod.ts" }` → `{ "./agent": { types, import } }` over the built `.js`. */
export function jsrToNpmExports(
  exports: Record<string, string>,
): Record<string, { types: string; import: string }> {
  const out: Record<string, { types: string; import: string }> = {};
  for (const [subpath, file] of Object.entries(exports)) {
    if (!file.endsWith(".ts")) throw new Error(`jsr export ${subpath} is not a .ts file: ${file}`);
    const base = file.slice(0, -3);
    out[subpath] = { types: `${base}.d.ts`, import: `${base}.js` };
  }
  return out;
}
