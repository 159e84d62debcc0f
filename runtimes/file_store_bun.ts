/**
 * The {@linkcode FileStore} over `Bun.file` / `Bun.write`. Bun has no rename
 * or fsync of its own, so those two steps use its native `node:fs`.
 *
 * @module
 */
import { open, rename, unlink } from "node:fs/promises";
import type { FileStore } from "../src/file_store.ts";
import { tempPathFor } from "./_temp_name.ts";

/** The members of a `BunFile` used here. */
interface BunFile {
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The members of the `Bun` namespace used here (no dependency on Bun's ambient types). */
interface BunFs {
  file(path: string): BunFile;
  write(path: string, data: Uint8Array): Promise<number>;
}

function bun(): BunFs {
  return (globalThis as unknown as { Bun: BunFs }).Bun;
}

/**
 * Reads with `Bun.file(path).arrayBuffer()`; writes a temp file beside the
 * target with `Bun.write`, flushes it (`fsync`), then renames it over the
 * target. Only callable in Bun (the global is read on call).
 *
 * @example Reading a file that is not there
 * ```ts ignore
 * import { bunFileStore } from "./file_store_bun.ts";
 * console.assert((await bunFileStore.read("/nonexistent/async-cache.snap")) === undefined);
 * ```
 */
export const bunFileStore: FileStore = {
  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await bun().file(path).arrayBuffer());
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    }
  },

  async writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
    const tmp = tempPathFor(path);
    try {
      await bun().write(tmp, bytes);
      const handle = await open(tmp, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw error;
    }
  },
};
