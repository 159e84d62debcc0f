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
}
