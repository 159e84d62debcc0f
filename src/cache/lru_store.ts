/**
 * The L1 store under `policy: "lru"` (the default): least recently used
 * out first, with optional per-entry expiry and a byte budget.
 *
 * Hot-path design (after lru-cache and mnemonist): entries live in parallel
 * arrays indexed by a slot number (see `_slot_store.ts`); the recency list is
 * doubly linked through two `Int32Array`s (`next`, `prev`), so there is no
 * object per entry and no allocation on a hit. A cache without TTLs never
 * reads the clock. A store of `maxsize` 0 holds nothing.
 *
 * @module
 */

import type { Clock } from "../time.ts";
import { NONE, SlotStore } from "./_slot_store.ts";

/** An LRU + TTL map from string keys to values. `undefined` is never stored. */
export class LruStore<V> extends SlotStore<V> {
  #next: Int32Array;
  #prev: Int32Array;
  #head = NONE; // most recently used
  #tail = NONE; // least recently used

  /**
   * @param maxsize Maximum entries (an integer >= 0, or `Infinity`).
   * @param clock Time source for expiry.
   * @param maxBytes Maximum sum of entry sizes, as passed to `set` (`Infinity`: no budget).
   */
  constructor(maxsize: number, clock: Clock, maxBytes = Infinity) {
    super(maxsize, clock, maxBytes);
    this.#next = new Int32Array(this.capacity);
    this.#prev = new Int32Array(this.capacity);
  }

  /** The value for `key`, marking it most recently used; `undefined` if absent or expired. */
  get(key: string): V | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) return undefined;
    if (this.expires !== undefined && this.isExpired(slot)) return this.expired(key, slot);
    const head = this.#head;
    if (slot !== head) {
      // The hit path: `#moveToHead` inlined by hand, with the two branches it
      // cannot skip. `slot` is not the head, so it has a predecessor and the
      // list is not empty. (About a third of the store's cost in JSC.)
      const next = this.#next;
      const prev = this.#prev;
      const p = prev[slot];
      const n = next[slot];
      next[p] = n;
      if (n !== NONE) prev[n] = p;
      else this.#tail = p;
      prev[slot] = NONE;
      next[slot] = head;
      prev[head] = slot;
      this.#head = slot;
    }
    return this.values[slot];
  }

  /**
   * Stores `value` under `key` as the most recently used entry, evicting the
   * least recently used ones while the store is over a budget.
   *
   * @param ttlMs Time to live in ms; `undefined` or `Infinity` for none.
   * @param keepMs How long past its TTL `stale()` may still return it (0: not at all).
   * @param refreshMs In how many ms `refreshDue()` turns true (0: never).
   * @param size The entry's size in bytes (counted only with a `maxBytes`);
   *   an entry larger than `maxBytes` is not kept (and an older one for `key` is dropped).
   */
  set(key: string, value: V, ttlMs?: number, keepMs = 0, refreshMs = 0, size = 0): void {
    if (this.max === 0 || (this.sizes !== undefined && !this.fits(key, size))) return;
    let slot = this.index.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      if (slot === NONE) {
        // Full: reuse the least recently used slot.
        slot = this.#tail;
        this.evict(slot);
        slot = this.allocate();
      }
      this.index.set(key, slot);
      this.slotKeys[slot] = key;
      this.#linkAtHead(slot);
    } else if (slot !== this.#head) {
      this.#moveToHead(slot);
    }
    this.fill(slot, value, ttlMs, keepMs, refreshMs, size);
    while (this.bytes > this.maxBytes) this.evict(this.#tail);
  }

  /** Keys from most to least recently used (expired ones included until read). */
  *keys(): IterableIterator<string> {
    for (let slot = this.#head; slot !== NONE; slot = this.#next[slot]) yield this.slotKeys[slot]!;
  }

  protected clearOrder(): void {
    this.#head = this.#tail = NONE;
  }

  protected growOrder(capacity: number): void {
    const next = new Int32Array(capacity);
    next.set(this.#next);
    this.#next = next;
    const prev = new Int32Array(capacity);
    prev.set(this.#prev);
    this.#prev = prev;
  }

  #linkAtHead(slot: number): void {
    this.#prev[slot] = NONE;
    this.#next[slot] = this.#head;
    if (this.#head !== NONE) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail === NONE) this.#tail = slot;
  }

  protected unlink(slot: number): void {
    const prev = this.#prev[slot];
    const next = this.#next[slot];
    if (prev !== NONE) this.#next[prev] = next;
    else this.#head = next;
    if (next !== NONE) this.#prev[next] = prev;
    else this.#tail = prev;
  }

  #moveToHead(slot: number): void {
    this.unlink(slot);
    this.#linkAtHead(slot);
  }
}
