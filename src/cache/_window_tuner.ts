/**
 * Adapts the W-TinyLFU window while the cache runs. A few **shadow caches**
 * (keys only, as 32-bit hashes) replay the accesses of a hash-sampled subset
 * of keys, each with a different fixed window share, at the sampled share of
 * the capacity, sharing the store's frequency sketch. Every period the
 * tuner compares their hits; when another share beats the one in force by a
 * significant margin, the store's window jumps to it. Jumps, not a hill
 * climb: a loop wants almost no window, a recency-biased trace almost all
 * window, and a short trace has no time to climb.
 *
 * Internal.
 *
 * @module
 */

import type { FrequencySketch } from "./_frequency_sketch.ts";
import { type SegmentHost, Segments } from "./_segments.ts";

/** Keys are sampled by `Math.imul(hash, SAMPLE_MULT) >>> 0 < threshold` (a multiplicative hash of their hash). */
export const SAMPLE_MULT = 0x2545f491;
/** The window shares the shadows try. */
export const FRACTIONS: readonly number[] = [0.01, 0.1, 0.3, 0.6, 0.9, 0.99];
/** Sampled keys aim at this many entries per shadow. */
const SHADOW_ENTRIES = 256;
/** A period is at most this many times a shadow's capacity in sampled accesses (the first ones are shorter). */
const PERIOD = 10;
/** The smallest share of keys sampled, for large caches. */
const MIN_RATE = 1 / 64;
/** How significant a lead must be to move the window (standard deviations). */
const Z = 2.5;
/** How much of a period's evidence carries into the next. */
const DECAY = 0.5;

/** The bit in `Shadows.masks` that keeps an id alive while an access is replayed. */
const PINNED = 0x80;

/** One shadow cache: its own regions over the ids of `Shadows`, for one window share. */
class Shadow implements SegmentHost {
  readonly segments: Segments;
  readonly #bit: number;
  count = 0;
  capacity: number;
  /** Sampled accesses this shadow hit and the one in force missed, and the reverse. */
  wins = 0;
  losses = 0;

  constructor(
    readonly owner: Shadows,
    index: number,
    capacity: number,
    fraction: number,
  ) {
    this.#bit = 1 << index;
    this.capacity = capacity;
    this.segments = new Segments(owner.hashes.length, fraction);
    this.segments.resize(capacity);
  }

  /** Replays an access to `id`, which this shadow does not hold. */
  insert(id: number): void {
    this.owner.masks[id] |= this.#bit;
    this.count++;
    this.segments.insert(id);
    this.segments.maintain(this);
  }

  over(): boolean {
    return this.count > this.capacity;
  }
  frequency(id: number): number {
    return this.owner.sketch.frequency(this.owner.hashes[id]);
  }
  evict(id: number): void {
    this.segments.remove(id);
    this.count--;
    this.owner.release(id, this.#bit);
  }
  random(): number {
    return this.owner.random();
  }
}

/**
 * The shadow caches, sharing one index of the sampled keys they hold: a key
 * has one id, and a bit per shadow that holds it, so an access costs one
 * lookup however many shadows there are.
 */
class Shadows {
  readonly list: Shadow[];
  readonly #index = new Map<number, number>();
  hashes: Int32Array;
  masks: Uint8Array;
  #free: number[] = [];
  #used = 0;
  #rng: number;

  constructor(capacity: number, readonly sketch: FrequencySketch, seed: number) {
    const ids = 2 * capacity + 2;
    this.hashes = new Int32Array(ids);
    this.masks = new Uint8Array(ids);
    this.#rng = seed | 1;
    this.list = FRACTIONS.map((f, i) => new Shadow(this, i, capacity, f));
  }

  /** Replays an access to `hash` in every shadow; the bits of those that hit. */
  access(hash: number): number {
    let id = this.#index.get(hash);
    if (id === undefined) {
      id = this.#allocate();
      this.#index.set(hash, id);
      this.hashes[id] = hash;
    }
    const held = this.masks[id];
    this.masks[id] = held | PINNED;
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      if ((held >>> i) & 1) list[i].segments.touch(id);
      else list[i].insert(id);
    }
    this.release(id, PINNED);
    return held;
  }

  /** Clears `bit` of `id`; an id no shadow holds is freed. */
  release(id: number, bit: number): void {
    const mask = this.masks[id] & ~bit;
    this.masks[id] = mask;
    if (mask !== 0) return;
    this.#index.delete(this.hashes[id]);
    this.#free.push(id);
  }

  resize(capacity: number): void {
    for (const s of this.list) {
      s.capacity = capacity;
      s.segments.resize(capacity);
    }
  }

  random(): number {
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return this.#rng = x;
  }

  #allocate(): number {
    if (this.#free.length > 0) return this.#free.pop()!;
    if (this.#used === this.hashes.length) {
      const size = 2 * this.hashes.length;
      const hashes = new Int32Array(size);
      hashes.set(this.hashes);
      this.hashes = hashes;
      const masks = new Uint8Array(size);
      masks.set(this.masks);
      this.masks = masks;
      for (const s of this.list) s.segments.grow(size);
    }
    return this.#used++;
  }
}

/** See the module doc. */
export class WindowTuner {
  readonly #shadows: Shadows;
  readonly #threshold: number;
  readonly #rate: number;
  #samples = 0;
  #period: number;
  #capacity: number;
  /** Index in `FRACTIONS` of the share in force. */
  current: number;
  /** How many times the window moved. */
  moves = 0;

  /**
   * @param maximum The store's capacity in entries.
   * @param start Index in `FRACTIONS` of the starting share.
   */
  constructor(maximum: number, sketch: FrequencySketch, seed: number, start: number) {
    this.#rate = Math.min(1, Math.max(SHADOW_ENTRIES / maximum, MIN_RATE));
    this.#threshold = Math.floor(this.#rate * 0x100000000);
    const capacity = Math.max(1, Math.round(maximum * this.#rate));
    this.#shadows = new Shadows(capacity, sketch, seed);
    this.#capacity = capacity;
    this.#period = capacity;
    this.current = start;
  }

  /** An access to `hash` is sampled (pass it to `record`) when `Math.imul(hash, SAMPLE_MULT) >>> 0` is below this. */
  get threshold(): number {
    return this.#threshold;
  }

  /** Replays a sampled access in every shadow; returns a new window share when it should move, else -1. */
  record(hash: number): number {
    const hits = this.#shadows.access(hash);
    const shadows = this.#shadows.list;
    const currentHit = (hits >>> this.current) & 1;
    for (let i = 0; i < shadows.length; i++) {
      if (((hits >>> i) & 1) !== currentHit) {
        if (currentHit) shadows[i].losses++;
        else shadows[i].wins++;
      }
    }
    if (++this.#samples < this.#period) return -1;
    this.#samples = 0;
    // McNemar's test on the accesses where a shadow and the current one disagree.
    // The shadow with the most net wins moves the window, if its lead is significant.
    let best = -1;
    let lead = 0;
    for (let i = 0; i < shadows.length; i++) {
      const s = shadows[i];
      if (i !== this.current && s.wins - s.losses > lead) {
        best = i;
        lead = s.wins - s.losses;
      }
    }
    // Periods lengthen only once the shadows disagree (they agree until they are full).
    if (best >= 0 || shadows.some((s) => s.wins + s.losses > 0)) {
      this.#period = Math.min(PERIOD * this.#capacity, 2 * this.#period);
    }
    if (best >= 0 && lead / Math.sqrt(shadows[best].wins + shadows[best].losses + 1) <= Z) {
      best = -1;
    }
    for (const s of shadows) {
      s.wins *= DECAY;
      s.losses *= DECAY;
    }
    if (best < 0) return -1;
    for (const s of shadows) s.wins = s.losses = 0;
    this.current = best;
    this.moves++;
    return FRACTIONS[best];
  }

  /** Follows a change of the store's capacity (a byte-bounded store's entry count). */
  resize(maximum: number): void {
    const capacity = Math.max(1, Math.round(maximum * this.#rate));
    this.#shadows.resize(capacity);
    this.#capacity = capacity;
  }
}
