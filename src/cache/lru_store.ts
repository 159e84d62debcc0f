/**
 * The L1 store: an LRU with optional per-entry expiry.
 *
 * Hot-path design (after lru-cache and mnemonist): entries live in parallel
 * arrays indexed by a slot number; the recency list is doubly linked through
 * two `Int32Array`s (`next`, `prev`), so there is no object per entry and no
 * allocation on a hit. One `Map<key, slot>` finds a slot; freed slots go on a
 * stack for reuse. The arrays start small and double up to `maxsize`, so an
 * unbounded cache (`maxsize: Infinity`) costs only what it holds.
 *
 * Expiry is checked on access (no timers). The `expires` array is allocated
 * the first time an entry with a TTL is stored: a cache without TTLs never
 * reads the clock. A store of `maxsize` 0 holds nothing.
 *
 * Stale entries (stale-while-revalidate, grace): `expires` is an entry's
 * *logical* expiry; an entry stored with a `keepMs` stays behind it until
 * `keep` (a second array, allocated on first use), readable only through
 * `stale()`. `get` treats it as expired, so the hit path is unchanged.
 * `refreshAt` (also lazy) marks when an early refresh is due.
 *
 * @module
 */

import type { Clock } from "../time.ts";

const NONE = -1;
const INITIAL_CAPACITY = 64;

/** An LRU + TTL map from string keys to values. `undefined` is never stored. */
export class LruStore<V> {
  readonly #max: number;
  readonly #clock: Clock;
  readonly #index = new Map<string, number>();
  #keys: (string | undefined)[] = [];
  #values: (V | undefined)[] = [];
  #next: Int32Array;
  #prev: Int32Array;
  #expires: Float64Array | undefined;
  #keep: Float64Array | undefined;
  #refreshAt: Float64Array | undefined;
  #free: number[] = [];
  #capacity: number;
  #used = 0; // slots handed out so far (high-water mark)
  #head = NONE; // most recently used
  #tail = NONE; // least recently used
  /** Entries dropped because the store was full. */
  evictions = 0;
  /** Entries dropped because their TTL had passed (read, pushed out or purged). */
  expirations = 0;
  /** How long past its TTL the entry last returned by `stale()` was, in ms. */
  staleAge = 0;

  /**
   * @param maxsize Maximum entries (an integer >= 0, or `Infinity`).
   * @param clock Time source for expiry.
   */
  constructor(maxsize: number, clock: Clock) {
    this.#max = maxsize;
    this.#clock = clock;
    this.#capacity = Math.min(maxsize, INITIAL_CAPACITY);
    this.#next = new Int32Array(this.#capacity);
    this.#prev = new Int32Array(this.#capacity);
  }

  /** Number of live entries (expired ones are dropped first, as expirations). */
  get size(): number {
    if (this.#expires !== undefined) this.#purgeExpired();
    return this.#index.size;
  }

  /** The value for `key`, marking it most recently used; `undefined` if absent or expired. */
  get(key: string): V | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined) return undefined;
    if (this.#expires !== undefined && this.#isExpired(slot)) return this.#expired(key, slot);
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
    return this.#values[slot];
  }

  /** The value for `key` without changing recency; `undefined` if absent or expired. */
  peek(key: string): V | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined) return undefined;
    if (this.#expires !== undefined && this.#isExpired(slot)) return undefined;
    return this.#values[slot];
  }

  /** Whether the store holds `key` at all: fresh, expired but kept for stale reads, or not yet purged. */
  has(key: string): boolean {
    return this.#index.has(key);
  }

  /**
   * Milliseconds until `key` expires: `Infinity` when it has no TTL,
   * `undefined` when absent or already expired.
   */
  remainingTtl(key: string): number | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined) return undefined;
    const at = this.#expires?.[slot] ?? 0;
    if (at === 0) return Infinity;
    const left = at - this.#clock.now();
    return left > 0 ? left : undefined;
  }

  /**
   * Stores `value` under `key` as the most recently used entry, evicting the
   * least recently used one when full.
   *
   * @param ttlMs Time to live in ms; `undefined` or `Infinity` for none.
   * @param keepMs How long past its TTL `stale()` may still return it (0: not at all).
   * @param refreshMs In how many ms `refreshDue()` turns true (0: never).
   */
  set(key: string, value: V, ttlMs?: number, keepMs = 0, refreshMs = 0): void {
    if (this.#max === 0) return;
    const expiresAt = ttlMs === undefined || ttlMs === Infinity ? 0 : this.#clock.now() + ttlMs;
    let slot = this.#index.get(key);
    if (slot === undefined) {
      slot = this.#allocate();
      this.#index.set(key, slot);
      this.#keys[slot] = key;
      this.#linkAtHead(slot);
    } else if (slot !== this.#head) {
      this.#moveToHead(slot);
    }
    this.#values[slot] = value;
    if (expiresAt !== 0) {
      (this.#expires ??= new Float64Array(this.#capacity))[slot] = expiresAt;
    } else if (this.#expires !== undefined) {
      this.#expires[slot] = 0;
    }
    if (keepMs > 0 && expiresAt !== 0) {
      (this.#keep ??= new Float64Array(this.#capacity))[slot] = expiresAt + keepMs;
    } else if (this.#keep !== undefined) this.#keep[slot] = 0;
    if (refreshMs > 0 && expiresAt !== 0) {
      (this.#refreshAt ??= new Float64Array(this.#capacity))[slot] = expiresAt - ttlMs! + refreshMs;
    } else if (this.#refreshAt !== undefined) this.#refreshAt[slot] = 0;
  }

  /**
   * The value of an entry past its TTL but kept for `keepMs` (see `set`),
   * without changing recency; sets `staleAge`. `undefined` when absent,
   * fresh, or past its keep time (then dropped).
   */
  stale(key: string): V | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined || this.#expires === undefined) return undefined;
    const at = this.#expires[slot];
    const now = this.#clock.now();
    if (at === 0 || at > now) return undefined;
    if (this.#keep !== undefined && this.#keep[slot] > now) {
      this.staleAge = now - at;
      return this.#values[slot];
    }
    this.expirations++;
    this.#remove(key, slot);
    return undefined;
  }

  /** Whether `key` is live and past the early-refresh mark it was stored with. */
  refreshDue(key: string): boolean {
    const refreshAt = this.#refreshAt;
    if (refreshAt === undefined) return false;
    const slot = this.#index.get(key);
    if (slot === undefined) return false;
    const at = refreshAt[slot];
    return at !== 0 && at <= this.#clock.now();
  }

  /** Removes `key`; `true` if it was present (expired or not). */
  delete(key: string): boolean {
    const slot = this.#index.get(key);
    if (slot === undefined) return false;
    this.#remove(key, slot);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.#index.clear();
    this.#keys = [];
    this.#values = [];
    this.#free = [];
    this.#used = 0;
    this.#head = this.#tail = NONE;
    this.#expires?.fill(0);
    this.#keep?.fill(0);
    this.#refreshAt?.fill(0);
  }

  /**
   * Live entries from most to least recently used, with their remaining TTL
   * in ms (`Infinity` when none). Does not change recency.
   */
  *entries(): IterableIterator<[key: string, value: V, ttlMs: number]> {
    const now = this.#expires === undefined ? 0 : this.#clock.now();
    for (let slot = this.#head; slot !== NONE; slot = this.#next[slot]) {
      const at = this.#expires?.[slot] ?? 0;
      if (at !== 0 && at <= now) continue;
      yield [this.#keys[slot]!, this.#values[slot]!, at === 0 ? Infinity : at - now];
    }
  }

  /** Keys from most to least recently used (expired ones included until read). */
  *keys(): IterableIterator<string> {
    for (let slot = this.#head; slot !== NONE; slot = this.#next[slot]) yield this.#keys[slot]!;
  }

  #purgeExpired(): void {
    const now = this.#clock.now();
    const expires = this.#expires!;
    const keep = this.#keep;
    for (let slot = this.#head; slot !== NONE;) {
      const next = this.#next[slot];
      const at = expires[slot];
      if (at !== 0 && at <= now && !(keep !== undefined && keep[slot] > now)) {
        this.expirations++;
        this.#remove(this.#keys[slot]!, slot);
      }
      slot = next;
    }
  }

  /** An expired entry was read: dropped, unless kept for stale reads. */
  #expired(key: string, slot: number): undefined {
    if (this.#keep === undefined || !(this.#keep[slot] > this.#clock.now())) {
      this.expirations++;
      this.#remove(key, slot);
    }
    return undefined;
  }

  #isExpired(slot: number): boolean {
    const at = this.#expires![slot];
    return at !== 0 && at <= this.#clock.now();
  }

  #allocate(): number {
    if (this.#free.length > 0) return this.#free.pop()!;
    if (this.#used < this.#capacity) return this.#used++;
    if (this.#capacity < this.#max) {
      this.#grow();
      return this.#used++;
    }
    // Full: reuse the least recently used slot.
    const slot = this.#tail;
    if (this.#expires !== undefined && this.#isExpired(slot)) this.expirations++;
    else this.evictions++;
    this.#index.delete(this.#keys[slot]!);
    this.#unlink(slot);
    return slot;
  }

  #grow(): void {
    const capacity = Math.min(this.#max, this.#capacity * 2);
    const next = new Int32Array(capacity);
    next.set(this.#next);
    this.#next = next;
    const prev = new Int32Array(capacity);
    prev.set(this.#prev);
    this.#prev = prev;
    if (this.#expires !== undefined) {
      const expires = new Float64Array(capacity);
      expires.set(this.#expires);
      this.#expires = expires;
    }
    for (const name of ["keep", "refreshAt"] as const) {
      const old = name === "keep" ? this.#keep : this.#refreshAt;
      if (old === undefined) continue;
      const grown = new Float64Array(capacity);
      grown.set(old);
      if (name === "keep") this.#keep = grown;
      else this.#refreshAt = grown;
    }
    this.#capacity = capacity;
  }

  #remove(key: string, slot: number): void {
    this.#index.delete(key);
    this.#unlink(slot);
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    this.#free.push(slot);
  }

  #linkAtHead(slot: number): void {
    this.#prev[slot] = NONE;
    this.#next[slot] = this.#head;
    if (this.#head !== NONE) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail === NONE) this.#tail = slot;
  }

  #unlink(slot: number): void {
    const prev = this.#prev[slot];
    const next = this.#next[slot];
    if (prev !== NONE) this.#next[prev] = next;
    else this.#head = next;
    if (next !== NONE) this.#prev[next] = prev;
    else this.#tail = prev;
  }

  #moveToHead(slot: number): void {
    this.#unlink(slot);
    this.#linkAtHead(slot);
  }
}
