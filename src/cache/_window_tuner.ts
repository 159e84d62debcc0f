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

/** The window shares the shadows try. */
export const FRACTIONS: readonly number[] = [0.01, 0.1, 0.3, 0.6, 0.9, 0.99];
/** Sampled keys aim at this many entries per shadow. */
const SHADOW_ENTRIES = 512;
/** A period is at most this many times a shadow's capacity in sampled accesses (the first ones are shorter). */
const PERIOD = 10;
/** The smallest share of keys sampled, for large caches. */
const MIN_RATE = 1 / 64;
/** How significant a lead must be to move the window (standard deviations). */
const Z = 2.5;
/** How much of a period's evidence carries into the next. */
const DECAY = 0.5;

/** A cache of key hashes, with its own regions, for one window share. */
class Shadow implements SegmentHost {
  readonly segments: Segments;
  readonly #index = new Map<number, number>();
  #hashes: Int32Array;
  #free: number[] = [];
  #used = 0;
  #capacity: number;
  #rng: number;
  /** Sampled accesses this shadow hit and the one in force missed, and the reverse. */
  wins = 0;
  losses = 0;

  constructor(
    capacity: number,
    fraction: number,
    readonly sketch: FrequencySketch,
    seed: number,
  ) {
    this.#capacity = capacity;
    this.#hashes = new Int32Array(capacity + 1);
    this.segments = new Segments(capacity + 1, fraction);
    this.segments.resize(capacity);
    this.#rng = seed | 1;
  }

  resize(capacity: number): void {
    if (capacity + 1 > this.#hashes.length) {
      const hashes = new Int32Array(capacity + 1);
      hashes.set(this.#hashes);
      this.#hashes = hashes;
      this.segments.grow(capacity + 1);
    }
    this.#capacity = capacity;
    this.segments.resize(capacity);
  }

  /** Replays an access; `true` on a hit. */
  access(hash: number): boolean {
    const slot = this.#index.get(hash);
    if (slot !== undefined) {
      this.segments.touch(slot);
      return true;
    }
    const fresh = this.#free.length > 0 ? this.#free.pop()! : this.#used++;
    this.#index.set(hash, fresh);
    this.#hashes[fresh] = hash;
    this.segments.insert(fresh);
    this.segments.maintain(this);
    return false;
  }

  over(): boolean {
    return this.#index.size > this.#capacity;
  }
  frequency(slot: number): number {
    return this.sketch.frequency(this.#hashes[slot]);
  }
  evict(slot: number): void {
    this.#index.delete(this.#hashes[slot]);
    this.segments.remove(slot);
    this.#free.push(slot);
  }
  random(): number {
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return this.#rng = x;
  }
}

/** See the module doc. */
export class WindowTuner {
  readonly #shadows: Shadow[];
  /** Sampled when `hash * SAMPLE_MULT` (unsigned) falls below this. */
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
  constructor(maximum: number, readonly sketch: FrequencySketch, seed: number, start: number) {
    this.#rate = Math.min(1, Math.max(SHADOW_ENTRIES / maximum, MIN_RATE));
    this.#threshold = Math.floor(this.#rate * 0x100000000);
    const capacity = Math.max(1, Math.round(maximum * this.#rate));
    this.#shadows = FRACTIONS.map((f, i) => new Shadow(capacity, f, sketch, seed + i));
    this.#capacity = capacity;
    this.#period = capacity;
    this.current = start;
  }

  /** Whether an access to `hash` is sampled (then pass it to `record`). */
  sampled(hash: number): boolean {
    return (Math.imul(hash, 0x2545f491) >>> 0) < this.#threshold;
  }

  /** Replays a sampled access in every shadow; returns a new window share when it should move, else -1. */
  record(hash: number): number {
    const shadows = this.#shadows;
    const currentHit = shadows[this.current].access(hash);
    for (let i = 0; i < shadows.length; i++) {
      if (i === this.current) continue;
      const s = shadows[i];
      if (s.access(hash) !== currentHit) {
        if (currentHit) s.losses++;
        else s.wins++;
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
    for (const s of this.#shadows) s.resize(capacity);
    this.#capacity = capacity;
  }
}
