/**
 * Spawned by `disk_backend_test.ts` (always with Deno) and killed with
 * SIGKILL in the middle of a large save: it writes big snapshots to the path
 * in argv[2], one generation after another, announcing each on stdout
 * ("saving N" before, "saved N" after).
 *
 * Run: `deno run -A tests/_save_child.ts <path> <entries>`
 */
import process from "node:process";
import { AsyncCache } from "../src/cache/async_cache.ts";
import { DiskBackend } from "../src/persist/disk_backend.ts";

const [path, entriesArg] = process.argv.slice(2);
const entries = Number(entriesArg ?? "20000");
const pad = "x".repeat(2000);
const quiet = { warn() {}, error() {} };
const cache = new AsyncCache<{ gen: number; i: number; pad: string }>({
  maxsize: Infinity,
  backup: new DiskBackend(path, { logger: quiet }),
  logger: quiet,
});
await cache.ready;
for (let gen = 0; gen < 100; gen++) {
  for (let i = 0; i < entries; i++) await cache.set(`k${i}`, { gen, i, pad });
  process.stdout.write(`saving ${gen}\n`);
  await cache.saveToBackup();
  process.stdout.write(`saved ${gen}\n`);
}
await cache.close();
