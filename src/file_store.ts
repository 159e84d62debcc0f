/**
 * The file seam of `DiskBackend`: read a whole file, replace a whole file
 * atomically. `runtimes/` implements it for Deno, Bun and Node; tests inject
 * an in-memory fake through the same `fileStore` option users would.
 *
 * @module
 */

/**
 * Whole-file reads and atomic whole-file writes.
 *
 * @example An in-memory store (as a test fake would be written)
 * ```ts
 * import type { FileStore } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const files = new Map<string, Uint8Array>();
 * const store: FileStore = {
 *   read: (path) => Promise.resolve(files.get(path)),
 *   writeAtomic: (path, bytes) => Promise.resolve(void files.set(path, bytes.slice())),
 * };
 * await store.writeAtomic("/tmp/x", new Uint8Array([1]));
 * assertEquals(await store.read("/tmp/x"), new Uint8Array([1]));
 * ```
 */
export interface FileStore {
  /** The file's bytes, or `undefined` when it does not exist. Rejects on any other I/O error. */
  read(path: string): Promise<Uint8Array | undefined>;
  /**
   * Replaces the file with `bytes` so that a reader (or a crash, or a kill)
   * sees the old content or the new one, never a mix: write a temp file in
   * the same folder, flush it, then rename it over `path`. On failure the
   * temp file is removed and `path` is untouched.
   *
   * The runtimes' stores also create the file with mode 0600 (a snapshot
   * holds cached tokens and personal data), fsync the folder after the rename
   * (so the rename survives a power loss), and remove the temp files of `path`
   * that an earlier save, killed before its rename, left behind.
   */
  writeAtomic(path: string, bytes: Uint8Array): Promise<void>;
  /**
   * Describes `path` without following a symlink (`lstat`), or `undefined`
   * when it does not exist. `DiskBackend` refuses to load a snapshot that is
   * not a regular file, is not owned by the process user, or is group- or
   * world-writable. Optional: a store without it is trusted as is.
   */
  inspect?(path: string): Promise<FileInfo | undefined>;
}

/** What {@linkcode FileStore.inspect} reports; `null` where the platform has no such notion (Windows). */
export interface FileInfo {
  /** A regular file (not a symlink, folder, FIFO or device). */
  readonly isFile: boolean;
  /** The owner's user id. */
  readonly uid: number | null;
  /** The process's effective user id. */
  readonly processUid: number | null;
  /** The permission bits (`0o666` is group- and world-writable). */
  readonly mode: number | null;
}

/**
 * Why a snapshot file must not be trusted, or `undefined` when it may be.
 *
 * @param info What {@linkcode FileStore.inspect} reported.
 * @returns A reason for the log line, or `undefined`.
 */
export function untrustedReason(info: FileInfo): string | undefined {
  if (!info.isFile) return "is not a regular file (a symlink, folder or device is never followed)";
  if (info.uid !== null && info.processUid !== null && info.uid !== info.processUid) {
    return `is owned by uid ${info.uid}, not by this process (uid ${info.processUid})`;
  }
  if (info.mode !== null && (info.mode & 0o022) !== 0) {
    return `is group- or world-writable (mode 0${(info.mode & 0o777).toString(8)})`;
  }
  return undefined;
}
