/**
 * The {@linkcode FileStore} over Deno's own file APIs.
 *
 * @module
 */
import type { FileStore } from "../src/file_store.ts";
import { tempPathFor } from "./_temp_name.ts";

/** The members of a `Deno.FsFile` used here. */
interface DenoFile {
  write(p: Uint8Array): Promise<number>;
  syncData(): Promise<void>;
  close(): void;
}

/** The members of the `Deno` namespace used here (no dependency on Deno's ambient types). */
interface DenoFs {
  readFile(path: string): Promise<Uint8Array>;
  open(
    path: string,
    options: { write: true; createNew: true; mode?: number },
  ): Promise<DenoFile>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
}

function deno(): DenoFs {
  return (globalThis as unknown as { Deno: DenoFs }).Deno;
}

/**
 * Reads with `Deno.readFile`; writes a temp file beside the target
 * (`Deno.open` with `createNew`, `write`, `syncData`), then `Deno.rename`s it
 * over the target. Only callable in Deno (the global is read on call).
 *
 * @example Reading a file that is not there
 * ```ts ignore
 * import { denoFileStore } from "./file_store_deno.ts";
 * console.assert((await denoFileStore.read("/nonexistent/async-cache.snap")) === undefined);
 * ```
 */
export const denoFileStore: FileStore = {
  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await deno().readFile(path);
    } catch (error) {
      if ((error as Error)?.name === "NotFound") return undefined;
      throw error;
    }
  },

  async writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
    const d = deno();
    const tmp = tempPathFor(path);
    let file: DenoFile | undefined;
    try {
      file = await d.open(tmp, { write: true, createNew: true, mode: 0o644 });
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.syncData();
      file.close();
      file = undefined;
      await d.rename(tmp, path);
    } catch (error) {
      try {
        file?.close();
      } catch { /* already closed */ }
      await d.remove(tmp).catch(() => {});
      throw error;
    }
  },
};
