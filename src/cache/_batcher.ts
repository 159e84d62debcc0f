/**
 * DataLoader-style batching: keys requested within `windowMs` with the same
 * `batchLoader` function are collected and loaded by one call (flushed early
 * when `maxSize` keys are waiting). The batch itself is run by the cache
 * (`run`), which looks the keys up in L2 first and loads only the misses.
 *
 * @module
 */

/** One key waiting in a batch. */
export interface BatchItem {
  /** The key as the caller passed it (what the batchLoader receives). */
  original: string | number;
  /** The normalised string key. */
  key: string;
  /** The cache's bookkeeping for this key's load (opaque here). */
  flight: unknown;
  /** TTL for the loaded value, in ms. */
  ttl: number | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** A user-supplied batch loader. */
// deno-lint-ignore no-explicit-any
export type AnyBatchLoader = (keys: any[]) => unknown;

interface Pending {
  items: BatchItem[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Groups batch gets per loader function; see the module doc. */
export class Batcher {
  readonly #windowMs: number;
  readonly #maxSize: number;
  readonly #run: (loader: AnyBatchLoader, items: BatchItem[]) => void;
  readonly #pending = new Map<AnyBatchLoader, Pending>();

  constructor(
    windowMs: number,
    maxSize: number,
    run: (loader: AnyBatchLoader, items: BatchItem[]) => void,
  ) {
    this.#windowMs = windowMs;
    this.#maxSize = maxSize;
    this.#run = run;
  }

  /** Queues a key for `loader`; the returned promise settles with its value. */
  add(loader: AnyBatchLoader, request: Omit<BatchItem, "resolve" | "reject">): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let batch = this.#pending.get(loader);
      if (batch === undefined) {
        batch = { items: [], timer: undefined };
        this.#pending.set(loader, batch);
        // Not unref'd: a caller is awaiting this batch, and the window is short.
        batch.timer = setTimeout(() => this.#flush(loader), this.#windowMs);
      }
      batch.items.push({ ...request, resolve, reject });
      if (batch.items.length >= this.#maxSize) this.#flush(loader);
    });
  }

  /** Runs every waiting batch now (used by `close()`). */
  flushAll(): void {
    for (const loader of [...this.#pending.keys()]) this.#flush(loader);
  }

  #flush(loader: AnyBatchLoader): void {
    const batch = this.#pending.get(loader);
    if (batch === undefined) return;
    this.#pending.delete(loader);
    clearTimeout(batch.timer);
    this.#run(loader, batch.items);
  }
}

/**
 * Reads a batchLoader's result for one key: a `Map` (by original or string
 * key), a plain object (by string key), or an array in key order.
 */
export function pickResult(result: unknown, item: BatchItem, index: number): unknown {
  if (result instanceof Map) {
    return result.has(item.original) ? result.get(item.original) : result.get(item.key);
  }
  if (Array.isArray(result)) return result[index];
  return Object.hasOwn(result as object, item.key)
    ? (result as Record<string, unknown>)[item.key]
    : undefined;
}
