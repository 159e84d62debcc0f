/**
 * The {@linkcode FileStore} over Deno's own file APIs.
 *
 * @module
 */
import type { FileInfo, FileStore } from "../src/file_store.ts";
import { folderOf, removeStaleTemps, type SweepFs, tempPathFor } from "./_temp_name.ts";

/** The members of a `Deno.FsFile` used here. */
export interface DenoFile {
  /** Writes some of `p`; returns how many bytes. */
  write(p: Uint8Array): Promise<number>;
  /** `fsync`. */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/** The members of the `Deno` namespace used here (no dependency on Deno's ambient types). */
export interface DenoFs {
  /** `Deno.build.os`. */
  readonly build: { readonly os: string };
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Opens a file (or, read-only, a folder). */
  open(
    path: string,
    options: { read: true } | { write: true; createNew: true; mode: number },
  ): Promise<DenoFile>;
  /** Renames, replacing the target. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
  /** The entries of a folder. */
  readDir(path: string): AsyncIterable<{ name: string }>;
  /** Stats without following a link. */
  lstat(path: string): Promise<
    { isFile: boolean; mtime: Date | null; uid?: number | null; mode?: number | null }
  >;
  /** `Deno.uid()`: the process user (absent in fakes; `null` on Windows). */
  uid?(): number | null;
}

function deno(): DenoFs {
  return (globalThis as unknown as { Deno: DenoFs }).Deno;
}

/** Snapshots hold cached tokens and personal data: owner read/write only. */
const FILE_MODE = 0o600;

function sweepFs(d: DenoFs): SweepFs {
  return {
    list: async (folder) => {
      const names: string[] = [];
      for await (const entry of d.readDir(folder)) names.push(entry.name);
      return names;
    },
    fileModifiedMs: async (path) => {
      const stat = await d.lstat(path);
      return stat.isFile ? stat.mtime?.getTime() : undefined;
    },
    remove: (path) => d.remove(path),
  };
}

/**
 * A {@linkcode FileStore} over the given Deno namespace. Reads with
 * `Deno.readFile`. Writes: removes stale temp files of earlier, killed saves
 * of `path`; creates a new temp file beside the target (`Deno.open` with
 * `createNew`, mode 0600), writes and `sync`s it, `Deno.rename`s it over the
 * target, then `sync`s the folder so the rename survives a crash.
 *
 * @param getDeno The `Deno` namespace, read on each call (a recording wrapper in tests).
 * @returns The file store.
 */
export function createDenoFileStore(getDeno: () => DenoFs = deno): FileStore {
  return {
    async inspect(path: string): Promise<FileInfo | undefined> {
      const d = getDeno();
      try {
        const st = await d.lstat(path);
        const uid = typeof d.uid === "function" ? d.uid() : null;
        return { isFile: st.isFile, uid: st.uid ?? null, processUid: uid, mode: st.mode ?? null };
      } catch (error) {
        if ((error as { name?: string }).name === "NotFound") return undefined;
        throw error;
      }
    },
    async read(path: string): Promise<Uint8Array | undefined> {
      try {
        return await getDeno().readFile(path);
      } catch (error) {
        if ((error as Error)?.name === "NotFound") return undefined;
        throw error;
      }
    },

    async writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
      const d = getDeno();
      await removeStaleTemps(path, sweepFs(d));
      const tmp = tempPathFor(path);
      let file: DenoFile | undefined;
      try {
        file = await d.open(tmp, { write: true, createNew: true, mode: FILE_MODE });
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
        await file.sync();
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
      // Windows cannot open a folder as a file; NTFS journals the rename itself.
      if (d.build.os === "windows") return;
      const folder = await d.open(folderOf(path), { read: true });
      try {
        await folder.sync();
      } finally {
        folder.close();
      }
    },
  };
}

/**
 * The file store over Deno's file APIs; see {@linkcode createDenoFileStore}.
 * Only callable in Deno (the global is read on call).
 *
 * @example Reading a file that is not there
 * ```ts ignore
 * import { denoFileStore } from "./file_store_deno.ts";
 * console.assert((await denoFileStore.read("/nonexistent/async-cache.snap")) === undefined);
 * ```
 */
export const denoFileStore: FileStore = createDenoFileStore();
