/**
 * What both L1 stores share ({@linkcode LruStore} and
 * {@linkcode TinyLfuStore}): entries in parallel arrays indexed by a slot
 * number, one `Map<key, slot>`, freed slots on a stack, arrays that start
 * small and double up to `maxsize`; expiry, stale keeps and early-refresh
 * marks in typed arrays allocated on first use; and the byte budget
 * (`maxBytes`), with each entry's size in a typed array allocated only when
 * a budget is set. The order of entries (recency, or the W-TinyLFU regions)
 * and the choice of a victim belong to the subclass.
 *
 * Expiry is checked on access (no timers). `expires` is an entry's
 * *logical* expiry; an entry stored with a `keepMs` stays behind it until
 * `keep`, readable only through `stale()`. `refreshAt` marks when an early
 * refresh is due. The system clock is read at most once a millisecond
 * (`_coarse_clock.ts`).
 *
 * Internal.
 *
 * @module
 */

import type { Clock } from "../time.ts";
import { storeClock } from "./_coarse_clock.ts";

/** No slot. */
export const NONE = -1;
const INITIAL_CAPACITY = 64;

/** See the module doc. */
export abstract class SlotStore<V> {
  protected readonly max: number;
  protected readonly maxBytes: number;
  protected readonly clock: Clock;
  protected readonly index: Map<string, number> = new Map();
  protected slotKeys: (string | undefined)[] = [];
  protected values: (V | undefined)[] = [];
  protected expires: Float64Array | undefined;
  protected keep: Float64Array | undefined;
  protected refreshAt: Float64Array | undefined;
  protected sizes: Float64Array | undefined;
  protected free: number[] = [];
  protected capacity: number;
  protected used = 0; // slots handed out so far (high-water mark)
  /** Entries dropped to make room (by count or bytes), rejections at admission included. */
  evictions = 0;
  /** Of `evictions`: those made while over the byte budget. */
  byteEvictions = 0;
  /** Of `evictions`: new entries refused at admission (`policy: "tinylfu"`). */
  rejections = 0;
  /** Entries dropped because their TTL had passed (read, pushed out or purged). */
  expirations = 0;
  /** How long past its TTL the entry last returned by `stale()` was, in ms. */
  staleAge = 0;
  /** The sum of the sizes of the entries held (0 without a byte budget). */
  bytes = 0;

  /**
   * @param maxsize Maximum entries (an integer >= 0, or `Infinity`).
   * @param clock Time source for expiry.
   * @param maxBytes Maximum sum of entry sizes (`Infinity`: no budget).
   */
  constructor(maxsize: number, clock: Clock, maxBytes = Infinity) {
    this.max = maxsize;
    this.clock = storeClock(clock);
    this.maxBytes = maxBytes;
    this.capacity = Math.min(maxsize, INITIAL_CAPACITY);
    if (maxBytes !== Infinity) this.sizes = new Float64Array(this.capacity);
  }

  /** Number of live entries (expired ones are dropped first, as expirations). */
  get size(): number {
    if (this.expires !== undefined) this.purgeExpired();
    return this.index.size;
  }

  /** The value for `key` without changing its order; `undefined` if absent or expired. */
  peek(key: string): V | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) return undefined;
    if (this.expires !== undefined && this.isExpired(slot)) return undefined;
    return this.values[slot];
  }

  /** Whether the store holds `key` at all: fresh, expired but kept for stale reads, or not yet purged. */
  has(key: string): boolean {
    return this.index.has(key);
  }

  /**
   * Milliseconds until `key` expires: `Infinity` when it has no TTL,
   * `undefined` when absent or already expired.
   */
  remainingTtl(key: string): number | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) return undefined;
    const at = this.expires?.[slot] ?? 0;
    if (at === 0) return Infinity;
    const left = at - this.clock.now();
    return left > 0 ? left : undefined;
  }

  /**
   * The value of an entry past its TTL but kept for `keepMs` (see `set`),
   * without changing its order; sets `staleAge`. `undefined` when absent,
   * fresh, or past its keep time (then dropped).
   */
  stale(key: string): V | undefined {
    const slot = this.index.get(key);
    if (slot === undefined || this.expires === undefined) return undefined;
    const at = this.expires[slot];
    const now = this.clock.now();
    if (at === 0 || at > now) return undefined;
    if (this.keep !== undefined && this.keep[slot] > now) {
      this.staleAge = now - at;
      return this.values[slot];
    }
    this.expirations++;
    this.remove(key, slot);
    return undefined;
  }

  /** Whether `key` is live and past the early-refresh mark it was stored with. */
  refreshDue(key: string): boolean {
    const refreshAt = this.refreshAt;
    if (refreshAt === undefined) return false;
    const slot = this.index.get(key);
    if (slot === undefined) return false;
    const at = refreshAt[slot];
    return at !== 0 && at <= this.clock.now();
  }

  /** Removes `key`; `true` if it was present (expired or not). */
  delete(key: string): boolean {
    const slot = this.index.get(key);
    if (slot === undefined) return false;
    this.remove(key, slot);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.index.clear();
    this.slotKeys = [];
    this.values = [];
    this.free = [];
    this.used = 0;
    this.bytes = 0;
    this.expires?.fill(0);
    this.keep?.fill(0);
    this.refreshAt?.fill(0);
    this.sizes?.fill(0);
    this.clearOrder();
  }

  /**
   * Live entries in the order `keys()` gives, with their remaining TTL in
   * ms (`Infinity` when none). Does not change the order.
   */
  *entries(): IterableIterator<[key: string, value: V, ttlMs: number]> {
    const now = this.expires === undefined ? 0 : this.clock.now();
    for (const key of this.keys()) {
      const slot = this.index.get(key)!;
      const at = this.expires?.[slot] ?? 0;
      if (at !== 0 && at <= now) continue;
      yield [key, this.values[slot]!, at === 0 ? Infinity : at - now];
    }
  }

  /** Keys, the ones most worth keeping first (expired ones included until read). */
  abstract keys(): IterableIterator<string>;

  /** Unlinks `slot` from the subclass's order. */
  protected abstract unlink(slot: number): void;
  /** Forgets the whole order (after `clear`). */
  protected abstract clearOrder(): void;
  /** Grows the subclass's own per-slot arrays to `capacity`. */
  protected abstract growOrder(capacity: number): void;

  /**
   * Whether a value of `size` bytes can be kept at all; when not, an entry
   * for `key` is dropped (the new value is not kept, and the old one must
   * not outlive it).
   */
  protected fits(key: string, size: number): boolean {
    if (size <= this.maxBytes) return true;
    this.delete(key);
    return false;
  }

  /** Writes an entry's value, expiry, keep, refresh mark and size into `slot`. */
  protected fill(
    slot: number,
    value: V,
    ttlMs: number | undefined,
    keepMs: number,
    refreshMs: number,
    size: number,
  ): void {
    const expiresAt = ttlMs === undefined || ttlMs === Infinity ? 0 : this.clock.now() + ttlMs;
    this.values[slot] = value;
    if (expiresAt !== 0) {
      (this.expires ??= new Float64Array(this.capacity))[slot] = expiresAt;
    } else if (this.expires !== undefined) {
      this.expires[slot] = 0;
    }
    if (keepMs > 0 && expiresAt !== 0) {
      (this.keep ??= new Float64Array(this.capacity))[slot] = expiresAt + keepMs;
    } else if (this.keep !== undefined) this.keep[slot] = 0;
    if (refreshMs > 0 && expiresAt !== 0) {
      (this.refreshAt ??= new Float64Array(this.capacity))[slot] = expiresAt - ttlMs! + refreshMs;
    } else if (this.refreshAt !== undefined) this.refreshAt[slot] = 0;
    const sizes = this.sizes;
    if (sizes !== undefined) {
      this.bytes += size - sizes[slot];
      sizes[slot] = size;
    }
  }

  /** Whether the store holds more than its budgets allow. */
  over(): boolean {
    return this.index.size > this.max || this.bytes > this.maxBytes;
  }

  /** A slot for a new entry: a freed one, an unused one, or `NONE` when every slot is taken. */
  protected allocate(): number {
    if (this.free.length > 0) return this.free.pop()!;
    if (this.used < this.capacity) return this.used++;
    if (this.capacity < this.max) {
      this.growSlots(Math.min(this.max, this.capacity * 2));
      return this.used++;
    }
    return NONE;
  }

  /**
   * Drops the entry in `slot` to make room: an expiration when it had
   * expired, else an eviction (by bytes while over the byte budget, else by
   * count; `rejected`: a new entry refused at admission).
   */
  evict(slot: number, rejected = false): void {
    if (this.expires !== undefined && this.isExpired(slot)) this.expirations++;
    else {
      this.evictions++;
      if (rejected) this.rejections++;
      else if (this.bytes > this.maxBytes) this.byteEvictions++;
    }
    this.remove(this.slotKeys[slot]!, slot);
  }

  protected remove(key: string, slot: number): void {
    this.index.delete(key);
    this.unlink(slot);
    this.slotKeys[slot] = undefined;
    this.values[slot] = undefined;
    if (this.sizes !== undefined) {
      this.bytes -= this.sizes[slot];
      this.sizes[slot] = 0;
    }
    this.free.push(slot);
  }

  protected purgeExpired(): void {
    const now = this.clock.now();
    const expires = this.expires!;
    const keep = this.keep;
    for (const key of [...this.keys()]) {
      const slot = this.index.get(key)!;
      const at = expires[slot];
      if (at !== 0 && at <= now && !(keep !== undefined && keep[slot] > now)) {
        this.expirations++;
        this.remove(key, slot);
      }
    }
  }

  /** An expired entry was read: dropped, unless kept for stale reads. */
  protected expired(key: string, slot: number): undefined {
    if (this.keep === undefined || !(this.keep[slot] > this.clock.now())) {
      this.expirations++;
      this.remove(key, slot);
    }
    return undefined;
  }

  protected isExpired(slot: number): boolean {
    const at = this.expires![slot];
    return at !== 0 && at <= this.clock.now();
  }

  /** Grows every per-slot array to `capacity` slots. */
  protected growSlots(capacity: number): void {
    const grown = (old: Float64Array | undefined) => {
      if (old === undefined) return undefined;
      const next = new Float64Array(capacity);
      next.set(old);
      return next;
    };
    this.expires = grown(this.expires);
    this.keep = grown(this.keep);
    this.refreshAt = grown(this.refreshAt);
    this.sizes = grown(this.sizes);
    this.growOrder(capacity);
    this.capacity = capacity;
  }
}
