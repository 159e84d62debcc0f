/**
 * The L1 store under `policy: "tinylfu"`: an adaptive W-TinyLFU (after
 * Caffeine). New entries enter a small LRU window; the window's overflow
 * enters the main region (probation + protected) only when the frequency
 * sketch says it is wanted more than main's victim; the window's share of
 * the capacity follows the workload (`_window_tuner.ts`). Entries, expiry,
 * stale keeps and the byte budget work as in {@linkcode LruStore}
 * (`_slot_store.ts`). The sketch's hash is seeded per store from the
 * platform's CSPRNG, so nobody can pick keys that collide in it.
 *
 * @module
 */

import type { Clock } from "../time.ts";
import { FrequencySketch, hashKey, randomSeed } from "./_frequency_sketch.ts";
import { type SegmentHost, Segments } from "./_segments.ts";
import { SlotStore } from "./_slot_store.ts";
import { FRACTIONS, SAMPLE_MULT, WindowTuner } from "./_window_tuner.ts";

/** The window share a store starts with (index in `FRACTIONS`). */
const START = 0;

/** A W-TinyLFU + TTL map from string keys to values. `undefined` is never stored. */
export class TinyLfuStore<V> extends SlotStore<V> implements SegmentHost {
  readonly #seed: number;
  readonly #sketch: FrequencySketch;
  readonly #segments: Segments;
  #tuner: WindowTuner | undefined;
  /** The tuner's sampling threshold (0 without a tuner: nothing sampled). */
  #sampleBelow = 0;
  /** With a byte budget alone: the entry count the regions and the sketch were last sized for. */
  #sizedFor = 0;
  #hashes: Int32Array;
  #rng: number;
  /** The last key a `get` missed, and its hash: the `set` that follows counts no second access. */
  #missKey: string | undefined;
  #missHash = 0;

  /**
   * @param maxsize Maximum entries (an integer >= 0, or `Infinity`).
   * @param clock Time source for expiry.
   * @param maxBytes Maximum sum of entry sizes, as passed to `set` (`Infinity`: no budget).
   * @param seed The sketch's hash seed (default: random).
   */
  constructor(maxsize: number, clock: Clock, maxBytes = Infinity, seed = randomSeed()) {
    super(maxsize, clock, maxBytes);
    this.#seed = seed;
    this.#rng = seed | 1;
    this.#hashes = new Int32Array(this.capacity);
    this.#segments = new Segments(this.capacity, FRACTIONS[START]);
    const expected = maxsize === Infinity ? 1024 : maxsize;
    this.#sketch = new FrequencySketch(expected);
    this.#segments.resize(expected);
    this.#tuner = maxsize > 0 && maxsize !== Infinity
      ? new WindowTuner(maxsize, this.#sketch, seed, START)
      : undefined;
    this.#sampleBelow = this.#tuner?.threshold ?? 0;
    if (maxsize === Infinity) this.#sizedFor = expected;
  }

  /** The window's current share of the capacity (0–1). */
  get windowFraction(): number {
    return this.#segments.fraction;
  }

  /** How many times the window share moved. */
  get windowMoves(): number {
    return this.#tuner?.moves ?? 0;
  }

  /** The value for `key`, counting an access; `undefined` if absent or expired. */
  get(key: string): V | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) {
      if (key !== this.#missKey) {
        this.#missKey = key;
        this.#access(this.#missHash = hashKey(key, this.#seed));
      }
      return undefined;
    }
    if (this.expires !== undefined && this.isExpired(slot)) return this.expired(key, slot);
    this.#access(this.#hashes[slot]);
    this.#segments.touch(slot);
    return this.values[slot];
  }

  /**
   * Stores `value` under `key`: a new key enters the window (so a `get`
   * right after hits), then the regions are brought back within budget.
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
    if (slot !== undefined) {
      this.#access(this.#hashes[slot]);
      this.#segments.touch(slot);
      this.fill(slot, value, ttlMs, keepMs, refreshMs, size);
      if (this.bytes > this.maxBytes) this.#segments.maintain(this);
      return;
    }
    let hash: number;
    if (key === this.#missKey) {
      hash = this.#missHash;
      this.#missKey = undefined;
    } else {
      this.#access(hash = hashKey(key, this.#seed));
    }
    slot = this.allocate();
    this.index.set(key, slot);
    this.slotKeys[slot] = key;
    this.#hashes[slot] = hash;
    this.#segments.insert(slot);
    this.fill(slot, value, ttlMs, keepMs, refreshMs, size);
    this.#segments.maintain(this);
    if (this.#sizedFor !== 0) this.#follow();
  }

  /**
   * Bounded by bytes alone, the capacity in entries is what the budget holds
   * now: once it is (nearly) full, the regions, the sketch and the tuner follow the
   * entry count whenever it halves or doubles.
   */
  #follow(): void {
    const count = this.index.size;
    if (this.#tuner === undefined && this.bytes <= 0.9 * this.maxBytes) return;
    if (count < 2 * this.#sizedFor && 2 * count > this.#sizedFor && this.#tuner !== undefined) {
      return;
    }
    this.#sizedFor = Math.max(16, count);
    this.#sketch.ensureCapacity(this.#sizedFor);
    if (this.#tuner === undefined) {
      this.#tuner = new WindowTuner(this.#sizedFor, this.#sketch, this.#seed, START);
      this.#sampleBelow = this.#tuner.threshold;
    } else {
      this.#tuner.resize(this.#sizedFor);
    }
    this.#segments.resize(this.#sizedFor);
  }

  /** Keys: protected, then window, then probation; each most recent first. */
  *keys(): IterableIterator<string> {
    for (const slot of this.#segments.slots()) yield this.slotKeys[slot]!;
  }

  /** @internal */
  frequency(slot: number): number {
    return this.#sketch.frequency(this.#hashes[slot]);
  }

  /** @internal */
  random(): number {
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return this.#rng = x;
  }

  #access(hash: number): void {
    this.#sketch.increment(hash);
    if ((Math.imul(hash, SAMPLE_MULT) >>> 0) >= this.#sampleBelow) return;
    const fraction = this.#tuner!.record(hash);
    if (fraction >= 0) {
      this.#segments.resize(this.#sizedFor === 0 ? this.max : this.#sizedFor, fraction);
    }
  }

  /** Room for one entry past `maxsize`: it is inserted, then the regions decide who leaves. */
  protected override allocate(): number {
    if (this.free.length > 0) return this.free.pop()!;
    if (this.used >= this.capacity) {
      this.growSlots(Math.min(Math.max(this.capacity * 2, 1), this.max + 1));
    }
    return this.used++;
  }

  protected unlink(slot: number): void {
    this.#segments.remove(slot);
  }

  protected clearOrder(): void {
    this.#segments.clear();
    this.#missKey = undefined;
  }

  protected growOrder(capacity: number): void {
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    this.#segments.grow(capacity);
  }
}
