/**
 * Writes waiting to go out on a socket, joined into one chunk per flush so a
 * tick's worth of commands costs one system call. Small batches are copied
 * into one reused 64 KiB scratch buffer (no allocation); a single write goes
 * out as it is; a large batch gets one buffer of its size. Used by the Deno
 * and Bun transports (node:net has `cork`/`uncork` for this).
 *
 * @module
 */

const SCRATCH_MAX = 64 * 1024;

/** See the module doc. */
export class WriteQueue {
  #queue: Uint8Array[] = [];
  #scratch = new Uint8Array(0);
  /** Whether the last chunk from {@linkcode WriteQueue.take} lives in the reused scratch buffer. */
  fromScratch = false;

  /** Writes waiting. */
  get length(): number {
    return this.#queue.length;
  }

  /** Queues bytes (not copied: the caller must not change them). */
  push(bytes: Uint8Array): void {
    this.#queue.push(bytes);
  }

  /** Puts bytes back at the front (the unsent rest of a partial write). */
  unshift(bytes: Uint8Array): void {
    this.#queue.unshift(bytes);
  }

  /** Drops everything queued. */
  clear(): void {
    this.#queue.length = 0;
  }

  /**
   * Takes everything queued as one chunk. A chunk in the scratch buffer
   * (`fromScratch`) is valid until the next `take`: copy what must outlive it.
   */
  take(): Uint8Array {
    const batch = this.#queue;
    this.fromScratch = false;
    if (batch.length === 1) return batch.pop()!;
    let total = 0;
    for (let i = 0; i < batch.length; i++) total += batch[i].length;
    let chunk: Uint8Array;
    if (total > SCRATCH_MAX) chunk = new Uint8Array(total);
    else {
      if (this.#scratch.length === 0) this.#scratch = new Uint8Array(SCRATCH_MAX);
      chunk = this.#scratch.subarray(0, total);
      this.fromScratch = true;
    }
    let at = 0;
    for (let i = 0; i < batch.length; i++) {
      chunk.set(batch[i], at);
      at += batch[i].length;
    }
    batch.length = 0;
    return chunk;
  }
}
