/**
 * The {@linkcode FileStore} over `node:fs/promises`. Also works in Deno and
 * Bun through their Node compatibility layers.
 *
 * @module
 */
import * as fsp from "node:fs/promises";
import process from "node:process";
import type { FileInfo, FileStore } from "../src/file_store.ts";
import { folderOf, removeStaleTemps, type SweepFs, tempPathFor } from "./_temp_name.ts";

/** The members of a `FileHandle` used here. */
export interface NodeFileHandle {
  /** The file descriptor. */
  readonly fd: number;
  /** Writes `length` bytes of `buffer` from `offset`. */
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  /** `fsync`. */
  sync(): Promise<void>;
  /** Closes the handle. */
  close(): Promise<void>;
}

/** The members of `node:fs/promises` used here: tests pass a recording wrapper. */
export interface NodeFs {
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Opens a file (or, read-only, a folder). */
  open(path: string, flags: string, mode?: number): Promise<NodeFileHandle>;
  /** Renames, replacing the target. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. */
  unlink(path: string): Promise<void>;
  /** The names in a folder. */
  readdir(path: string): Promise<string[]>;
  /** Stats without following a link. */
  lstat(path: string): Promise<{ isFile(): boolean; mtimeMs: number }>;
}

/** Snapshots hold cached tokens and personal data: owner read/write only. */
const FILE_MODE = 0o600;

/** The sweep of stale temp files over node:fs. */
export function nodeSweepFs(fs: NodeFs): SweepFs {
  return {
    list: (folder) => fs.readdir(folder),
    fileModifiedMs: async (path) => {
      const stat = await fs.lstat(path);
      return stat.isFile() ? stat.mtimeMs : undefined;
    },
    remove: (path) => fs.unlink(path),
  };
}

/**
 * Flushes a folder's entries (the rename that just happened) to disk. Windows
 * cannot open a folder as a file; NTFS journals the rename itself.
 */
/**
 * The atomic replace both node:fs-based stores share: a new temp file
 * (mode 0600, exclusive), filled by `fill`, fsynced, renamed over `path`,
 * then the folder fsynced; on failure the temp file is removed. Stale temp
 * files of earlier, killed saves of `path` are swept first.
 */
export async function writeAtomicNode(
  fs: NodeFs,
  sweep: SweepFs,
  path: string,
  fill: (handle: NodeFileHandle) => Promise<void>,
): Promise<void> {
  await removeStaleTemps(path, sweep);
  const tmp = tempPathFor(path);
  let handle: NodeFileHandle | undefined;
  try {
    handle = await fs.open(tmp, "wx", FILE_MODE);
    await fill(handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    throw error;
  }
  await syncFolderNode(fs, path);
}

export async function syncFolderNode(fs: NodeFs, path: string): Promise<void> {
  if (process.platform === "win32") return;
  const folder = await fs.open(folderOf(path), "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/**
 * A {@linkcode FileStore} over the given `node:fs/promises` members (the
 * module itself by default). Reads with `readFile`. Writes: removes stale temp
 * files of earlier, killed saves of `path`; creates a new temp file beside the
 * target (`open` with `wx`, mode 0600), writes and `fsync`s it, `rename`s it
 * over the target, then `fsync`s the folder so the rename survives a crash.
 *
 * @param fs The file operations (a recording wrapper in tests).
 * @returns The file store.
 */
export function createNodeFileStore(fs: NodeFs = fsp): FileStore {
  const sweep = nodeSweepFs(fs);
  return {
    inspect: inspectNode,
    async read(path: string): Promise<Uint8Array | undefined> {
      try {
        const buf = await fs.readFile(path);
        // A plain Uint8Array: Buffer's slice() shares memory, Uint8Array's copies.
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") return undefined;
        throw error;
      }
    },

    writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
      return writeAtomicNode(fs, sweep, path, async (handle) => {
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
          written += bytesWritten;
        }
      });
    },
  };
}

/**
 * The file store over `node:fs/promises`; see {@linkcode createNodeFileStore}.
 *
 * @example Reading a file that is not there
 * ```ts
 * import { nodeFileStore } from "./file_store_node.ts";
 * console.assert((await nodeFileStore.read("/nonexistent/async-cache.snap")) === undefined);
 * ```
 */
export const nodeFileStore: FileStore = createNodeFileStore();

/** `lstat` of `path` as a {@linkcode FileInfo} (a symlink is not followed); `undefined` if absent. */
export async function inspectNode(path: string): Promise<FileInfo | undefined> {
  try {
    const st = await fsp.lstat(path);
    const uid = typeof process.getuid === "function" ? process.getuid() : null;
    return {
      isFile: st.isFile(),
      uid: uid === null ? null : st.uid,
      processUid: uid,
      mode: st.mode,
    };
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
}
