/**
 * A cache's link to its disk snapshot: the warm-start load (reads that miss
 * L1 wait for it; keys set, deleted or cleared meanwhile are newer than the
 * snapshot and win) and saves (one after another, never of a half-loaded
 * cache).
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { DiskBackend } from "../persist/disk_backend.ts";
import type { Clock } from "../time.ts";
import type { LruStore } from "./lru_store.ts";

/** See the module doc. */
export class BackupLink<V> {
  readonly #backup: DiskBackend;
  /** Set only while the snapshot loads: the miss path waits on it. */
  loading: Promise<void> | undefined;
  /** Resolves once the load is over (never rejects). */
  readonly ready: Promise<void>;
  #touched: Set<string> | undefined = new Set();
  #cleared = false;
  #saving: Promise<unknown> = Promise.resolve();

  constructor(
    backup: DiskBackend,
    store: LruStore<V>,
    maxsize: number,
    clock: Clock,
    logger: Logger,
    isOpen: () => boolean,
  ) {
    this.#backup = backup;
    this.ready = this.loading = this.#load(store, maxsize, clock, logger, isOpen);
  }

  /** Records that `key` changed while the snapshot loads (no-op after). */
  touch(key: string): void {
    this.#touched?.add(key);
  }

  /** Records a `clear()`: a snapshot still loading is then dropped. */
  cleared(): void {
    if (this.loading !== undefined) this.#cleared = true;
  }

  /** Saves the store's live entries, after the load and after earlier saves. */
  async save(store: LruStore<V>, clock: Clock, maxsize: number, logger: Logger): Promise<void> {
    await this.ready;
    const saving = this.#backup.save(store.entries(), clock.now(), maxsize, logger);
    this.#saving = saving.catch(() => {});
    await saving;
  }

  /** Resolves when the load and the last save started are over. */
  async idle(): Promise<void> {
    await this.ready;
    await this.#saving;
  }

  async #load(
    store: LruStore<V>,
    maxsize: number,
    clock: Clock,
    logger: Logger,
    isOpen: () => boolean,
  ): Promise<void> {
    try {
      const now = clock.now();
      await undefined; // so that `loading` is set before this can finish
      const entries = await this.#backup.load(now, logger);
      if (this.#cleared || !isOpen()) return;
      const touched = this.#touched!;
      // Oldest first, so the snapshot's most recently used entries end up so again.
      const n = Math.min(entries.length, maxsize);
      for (let i = n - 1; i >= 0; i--) {
        const { key, value, ttlMs } = entries[i];
        if (value === undefined || touched.has(key) || store.peek(key) !== undefined) continue;
        store.set(key, value as V, ttlMs);
      }
    } catch (error) {
      logger.error("async-cache: cannot load the backup; starting empty:", error);
    } finally {
      this.loading = undefined;
      this.#touched = undefined;
    }
  }
}
