/**
 * An in-memory {@linkcode FileStore} for tests: atomic by construction (a
 * write replaces the bytes in one step), with hooks to fail or hold a write
 * and counters to check that saves never overlap.
 *
 * @example
 * ```ts
 * import { MemoryFileStore } from "./memory_file_store.ts";
 * import assert from "node:assert/strict";
 *
 * const files = new MemoryFileStore();
 * await files.writeAtomic("a.snap", new Uint8Array([1, 2]));
 * assert.deepEqual(await files.read("a.snap"), new Uint8Array([1, 2]));
 * assert.equal(files.writes, 1);
 * ```
 */
import type { FileStore } from "../../src/file_store.ts";

export class MemoryFileStore implements FileStore {
  readonly files: Map<string, Uint8Array> = new Map();
  /** Completed writes. */
  writes = 0;
  /** Reads made. */
  reads = 0;
  /** Writes running now, and the most ever at once. */
  active = 0;
  maxActive = 0;
  /** When set, the next write rejects with it (and the file is untouched). */
  failNextWrite: Error | undefined;
  /** When set, every write waits for this before it lands. */
  gate: Promise<void> | undefined;
  /** When set, reads reject with it. */
  failReads: Error | undefined;
  /** When set, every read waits for this before it answers. */
  readGate: Promise<void> | undefined;

  async read(path: string): Promise<Uint8Array | undefined> {
    this.reads++;
    if (this.readGate) await this.readGate;
    if (this.failReads) throw this.failReads;
    return this.files.get(path)?.slice();
  }

  async writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await Promise.resolve();
      if (this.gate) await this.gate;
      const failure = this.failNextWrite;
      if (failure) {
        this.failNextWrite = undefined;
        throw failure;
      }
      this.files.set(path, bytes.slice());
      this.writes++;
    } finally {
      this.active--;
    }
  }
}
