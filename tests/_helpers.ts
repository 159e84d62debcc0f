/** Small shared test helpers. */
import { namespacePrefix, unwrap } from "../src/remote/_generations.ts";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AsyncCache, Logger } from "../mod.ts";

/** A logger that records what it is told. */
export class RecordingLogger implements Logger {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
  error(message: string): void {
    this.errors.push(message);
  }
  debug(): void {}
}

/**
 * The backend key (before a RedisBackend's own `prefix`) under which a cache
 * in `namespace` stores `key`: `<length>:<namespace>:<key>` (`"0::k"`).
 */
export function entryKey(key: string, namespace = ""): string {
  return namespacePrefix(namespace) + key;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it is true or `timeoutMs` passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The repository root, from the source tests or the built ones in npm/tests. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("repository root (deno.json) not found");
    dir = up;
  }
  return dir;
}

/**
 * Reads every key through `cache.get(key, { loader })` in concurrent rounds,
 * 5 ms apart, until stopped; the loader and the value expected for `k` are
 * both `v:${k}`.
 *
 * @returns `stop()`, which ends the loop after the round under way and
 *   resolves with the count of gets that resolved to the right value and
 *   every wrong value or error (`"key: ..."`).
 */
export function loadLoop(
  cache: AsyncCache<string>,
  keys: string[],
): { stop(): Promise<{ gets: number; failures: string[] }> } {
  let stop = false;
  let gets = 0;
  const failures: string[] = [];
  const load = (async () => {
    while (!stop) {
      await Promise.all(keys.map(async (k) => {
        try {
          const v = await cache.get(k, { loader: () => `v:${k}` });
          if (v !== `v:${k}`) failures.push(`${k}: ${v}`);
          gets++;
        } catch (error) {
          failures.push(`${k}: ${(error as Error).message}`);
        }
      }));
      await sleep(5);
    }
  })();
  return {
    async stop() {
      stop = true;
      await load;
      return { gets, failures };
    },
  };
}

/** The value inside an entry the cache wrote to L2 (its envelope unwrapped), as read by a backend's `get`. */
export function storedValue(stored: unknown): unknown {
  const envelope = unwrap(stored);
  return envelope ? envelope.value : stored;
}
