/**
 * The {@linkcode FileStore} over `Bun.file` / `Bun.write`. Bun has no
 * exclusive create with a mode, rename, fsync or folder listing of its own, so
 * those steps use its native `node:fs`.
 *
 * @module
 */
import * as fsp from "node:fs/promises";
import type { FileStore } from "../src/file_store.ts";
import { inspectNode, type NodeFs, nodeSweepFs, writeAtomicNode } from "./file_store_node.ts";

/** The members of a `BunFile` used here. */
export interface BunFile {
  /** The whole file. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The members of the `Bun` namespace used here (no dependency on Bun's ambient types). */
export interface BunFs {
  /** A lazy file reference, by path or by open file descriptor. */
  file(pathOrFd: string | number): BunFile;
  /** Writes `data` to the file (for a descriptor: from the start, leaving it open). */
  write(destination: BunFile, data: Uint8Array): Promise<number>;
}

function bun(): BunFs {
  return (globalThis as unknown as { Bun: BunFs }).Bun;
}

/**
 * A {@linkcode FileStore} over Bun's file API and the given `node:fs` members.
 * Reads with `Bun.file(path).arrayBuffer()`. Writes: removes stale temp files
 * of earlier, killed saves of `path`; creates a new temp file beside the
 * target (`open` with `wx`, mode 0600), fills it with `Bun.write`, `fsync`s
 * it, renames it over the target, then `fsync`s the folder.
 *
 * @param getBun The `Bun` namespace, read on each call.
 * @param fs The node:fs operations (a recording wrapper in tests).
 * @returns The file store.
 */
export function createBunFileStore(getBun: () => BunFs = bun, fs: NodeFs = fsp): FileStore {
  const sweep = nodeSweepFs(fs);
  return {
    inspect: inspectNode,
    async read(path: string): Promise<Uint8Array | undefined> {
      try {
        return new Uint8Array(await getBun().file(path).arrayBuffer());
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") return undefined;
        throw error;
      }
    },

    writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
      return writeAtomicNode(fs, sweep, path, async (handle) => {
        const b = getBun();
        await b.write(b.file(handle.fd), bytes);
      });
    },
  };
}

/**
 * The file store over Bun's file API; see {@linkcode createBunFileStore}.
 * Only callable in Bun (the global is read on call).
 *
 * @example Reading a file that is not there
 * ```ts ignore
 * import { bunFileStore } from "./file_store_bun.ts";
 * console.assert((await bunFileStore.read("/nonexistent/async-cache.snap")) === undefined);
 * ```
 */
export const bunFileStore: FileStore = createBunFileStore();
