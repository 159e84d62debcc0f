/**
 * A cache's link to its disk snapshot: the warm-start load (reads that miss
 * L1 wait for it; keys set, deleted or cleared meanwhile are newer than the
 * snapshot and win) and saves (one after another, never of a half-loaded
 * cache).
 *
 * With a shared L2 tier, the snapshot may be older than what other
 * instances did while this one was down, so its entries are held aside, not
 * put in L1: each is validated against L2 on first use (L2's answer, a value
 * or a miss, wins) and served only when L2 cannot answer.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { DiskBackend } from "../persist/disk_backend.ts";
import type { Clock } from "../time.ts";
import type { L1Store } from "./_l1_store.ts";

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
  /** Snapshot entries awaiting validation against L2: value and absolute expiry (0: none). */
  readonly #held: Map<string, [value: V, expiresAt: number]> | undefined;
  readonly #clock: Clock;

  constructor(
    backup: DiskBackend,
    store: L1Store<V>,
    maxsize: number,
    clock: Clock,
    logger: Logger,
    isOpen: () => boolean,
    holdForValidation: boolean,
    sizeOf: (key: string, value: V) => number,
  ) {
    this.#backup = backup;
    this.#clock = clock;
    if (holdForValidation) this.#held = new Map();
    this.ready = this.loading = this.#load(store, maxsize, clock, logger, isOpen, sizeOf);
  }

  /** Records that `key` changed (a snapshot entry for it is then out of date). */
  touch(key: string): void {
    this.#touched?.add(key);
    this.#held?.delete(key);
  }

  /**
   * The held snapshot entry for `key` (once: validation consumes it), with
   * its remaining TTL; `undefined` when there is none or it expired.
   */
  take(key: string): [value: V, ttlMs: number | undefined] | undefined {
    const held = this.#held?.get(key);
    if (held === undefined) return undefined;
    this.#held!.delete(key);
    const [value, expiresAt] = held;
    if (expiresAt === 0) return [value, undefined];
    const left = expiresAt - this.#clock.now();
    return left > 0 ? [value, left] : undefined;
  }

  /** Records a `clear()`: a snapshot still loading is then dropped. */
  cleared(): void {
    if (this.loading !== undefined) this.#cleared = true;
    this.#held?.clear();
  }

  /** Saves the store's live entries, after the load and after earlier saves. */
  async save(store: L1Store<V>, clock: Clock, maxsize: number, logger: Logger): Promise<void> {
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
    store: L1Store<V>,
    maxsize: number,
    clock: Clock,
    logger: Logger,
    isOpen: () => boolean,
    sizeOf: (key: string, value: V) => number,
  ): Promise<void> {
    try {
      const now = clock.now();
      await undefined; // so that `loading` is set before this can finish
      const entries = await this.#backup.load(now, logger);
      if (this.#cleared || !isOpen()) return;
      const touched = this.#touched!;
      // Oldest first, so the snapshot's most recently used entries end up so again.
      const n = Math.min(entries.length, maxsize);
      const held = this.#held;
      for (let i = n - 1; i >= 0; i--) {
        const { key, value, ttlMs } = entries[i];
        if (value === undefined || touched.has(key) || store.peek(key) !== undefined) continue;
        if (held === undefined) store.set(key, value as V, ttlMs, 0, 0, sizeOf(key, value as V));
        else held.set(key, [value as V, ttlMs === Infinity ? 0 : now + ttlMs]);
      }
    } catch (error) {
      logger.error("async-cache: cannot load the backup; starting empty:", error);
    } finally {
      this.loading = undefined;
      this.#touched = undefined;
    }
  }
}
