/**
 * The {@linkcode FileStore} over `node:fs/promises`. Also works in Deno and
 * Bun through their Node compatibility layers.
 *
 * @module
 */
import { open, readFile, rename, unlink } from "node:fs/promises";
import type { FileStore } from "../src/file_store.ts";
import { tempPathFor } from "./_temp_name.ts";

/**
 * Reads with `readFile`; writes a temp file beside the target (`open` with
 * `wx`, `write`, `fsync`), then `rename`s it over the target.
 *
 * @example Reading a file that is not there
 * ```ts
 * import { nodeFileStore } from "./file_store_node.ts";
 * console.assert((await nodeFileStore.read("/nonexistent/async-cache.snap")) === undefined);
 * ```
 */
export const nodeFileStore: FileStore = {
  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      const buf = await readFile(path);
      // A plain Uint8Array: Buffer's slice() shares memory, Uint8Array's copies.
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    }
  },

  async writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
    const tmp = tempPathFor(path);
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(tmp, "wx", 0o644);
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(tmp, path);
    } catch (error) {
      await handle?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw error;
    }
  },
};
