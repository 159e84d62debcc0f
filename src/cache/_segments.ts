/**
 * The three regions of a W-TinyLFU cache (after Caffeine), as doubly linked
 * lists over slot numbers: a small **window** (LRU) that every new entry
 * enters, and a **main** region split into **probation** and **protected**
 * (a segmented LRU: a hit in probation promotes to protected; protected's
 * overflow is demoted back to probation). When the window overflows, its
 * least recent entry (the candidate) moves to main if there is room, else
 * it duels main's victim (probation's least recent): the more frequent one
 * stays, by the frequency sketch. Near-ties between warm entries are
 * settled at random (1 in 128 for the candidate), so nobody can pin an entry
 * by making it hot.
 *
 * Used by the store itself and by the window tuner's shadow caches; both
 * provide a {@linkcode SegmentHost}.
 *
 * Internal.
 *
 * @module
 */

const NONE = -1;
/** Region numbers, as stored in `region`. */
export const WINDOW = 0;
export const PROBATION = 1;
export const PROTECTED = 2;

/** What the regions ask of their owner. */
export interface SegmentHost {
  /** Whether the owner holds more than its budget. */
  over(): boolean;
  /** The estimated access frequency of the entry in `slot`. */
  frequency(slot: number): number;
  /** Drops the entry in `slot` (it calls `Segments.remove`). */
  evict(slot: number, rejected?: boolean): void;
  /** A random 32-bit integer, for near-tie admission. */
  random(): number;
}

/** See the module doc. */
export class Segments {
  next: Int32Array;
  prev: Int32Array;
  region: Uint8Array;
  readonly heads: Int32Array = new Int32Array([NONE, NONE, NONE]);
  readonly tails: Int32Array = new Int32Array([NONE, NONE, NONE]);
  readonly counts: Int32Array = new Int32Array(3);
  windowMax = 1;
  protectedMax = 0;
  /** The window's share of the capacity (0–1). */
  fraction: number;

  constructor(capacity: number, fraction: number) {
    this.next = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.region = new Uint8Array(capacity);
    this.fraction = fraction;
  }

  /** Grows the per-slot arrays to `capacity`. */
  grow(capacity: number): void {
    const next = new Int32Array(capacity);
    next.set(this.next);
    this.next = next;
    const prev = new Int32Array(capacity);
    prev.set(this.prev);
    this.prev = prev;
    const region = new Uint8Array(capacity);
    region.set(this.region);
    this.region = region;
  }

  /** Sets the window to `fraction` of `maximum` entries; protected takes 80% of the rest. */
  resize(maximum: number, fraction = this.fraction): void {
    this.fraction = fraction;
    const windowMax = Math.max(1, Math.round(maximum * fraction));
    this.windowMax = windowMax;
    this.protectedMax = Math.floor(0.8 * Math.max(0, maximum - windowMax));
    while (this.counts[PROTECTED] > this.protectedMax) {
      this.#move(this.tails[PROTECTED], PROBATION);
    }
  }

  /** Forgets every entry. */
  clear(): void {
    this.heads.fill(NONE);
    this.tails.fill(NONE);
    this.counts.fill(0);
  }

  /** A new entry: at the head of the window. */
  insert(slot: number): void {
    this.#link(slot, WINDOW);
  }

  /** An access to the entry in `slot`. */
  touch(slot: number): void {
    const r = this.region[slot];
    if (r === PROBATION) {
      this.#unlink(slot);
      this.#link(slot, PROTECTED);
      if (this.counts[PROTECTED] > this.protectedMax) this.#move(this.tails[PROTECTED], PROBATION);
    } else {
      // The hit path: a move to the head within the region, inlined (the
      // slot is not the head, so it has a predecessor).
      const heads = this.heads;
      const head = heads[r];
      if (head === slot) return;
      const next = this.next;
      const prev = this.prev;
      const p = prev[slot];
      const n = next[slot];
      next[p] = n;
      if (n !== NONE) prev[n] = p;
      else this.tails[r] = p;
      prev[slot] = NONE;
      next[slot] = head;
      prev[head] = slot;
      heads[r] = slot;
    }
  }

  /** Unlinks the entry in `slot`. */
  remove(slot: number): void {
    this.#unlink(slot);
  }

  /**
   * Restores the budgets after an insert or a resize: the window's overflow
   * moves to main, through a duel while the owner is over budget; then main's
   * victims (or, with main empty, the window's) leave until it is not.
   */
  maintain(host: SegmentHost): void {
    while (this.counts[WINDOW] > this.windowMax) {
      const candidate = this.tails[WINDOW];
      if (!host.over()) {
        this.#move(candidate, PROBATION);
        continue;
      }
      const victim = this.mainVictim();
      if (victim === NONE) {
        host.evict(candidate);
      } else if (this.#admit(host, candidate, victim)) {
        host.evict(victim);
        this.#move(candidate, PROBATION);
      } else {
        host.evict(candidate, true);
      }
    }
    while (host.over()) {
      const victim = this.mainVictim();
      host.evict(victim === NONE ? this.tails[WINDOW] : victim);
    }
  }

  /** Main's least valuable entry: probation's least recent, else protected's. */
  mainVictim(): number {
    const probation = this.tails[PROBATION];
    return probation !== NONE ? probation : this.tails[PROTECTED];
  }

  /** Slots in the order worth keeping: protected, window, probation; each most recent first. */
  *slots(): IterableIterator<number> {
    for (const r of [PROTECTED, WINDOW, PROBATION]) {
      for (let slot = this.heads[r]; slot !== NONE; slot = this.next[slot]) yield slot;
    }
  }

  #admit(host: SegmentHost, candidate: number, victim: number): boolean {
    const c = host.frequency(candidate);
    const v = host.frequency(victim);
    if (c > v) return true;
    if (c <= 5) return false;
    return (host.random() & 127) === 0;
  }

  #move(slot: number, to: number): void {
    this.#unlink(slot);
    this.#link(slot, to);
  }

  #link(slot: number, r: number): void {
    const head = this.heads[r];
    this.region[slot] = r;
    this.prev[slot] = NONE;
    this.next[slot] = head;
    if (head !== NONE) this.prev[head] = slot;
    else this.tails[r] = slot;
    this.heads[r] = slot;
    this.counts[r]++;
  }

  #unlink(slot: number): void {
    const r = this.region[slot];
    const prev = this.prev[slot];
    const next = this.next[slot];
    if (prev !== NONE) this.next[prev] = next;
    else this.heads[r] = next;
    if (next !== NONE) this.prev[next] = prev;
    else this.tails[r] = prev;
    this.counts[r]--;
  }
}
