/**
 * A count-min sketch of access frequency for `policy: "tinylfu"` (after
 * Caffeine's `FrequencySketch`): four 4-bit counters per key, packed eight
 * to a `Uint32Array` word, in a table of about 16 counters per entry the
 * cache holds. A key's four counters lie in one 64-byte block (16 words),
 * one cache line: one memory fetch per access. Each byte of the hash picks
 * a word of the block (4 bits) and a counter in it (3 bits). An estimate is the smallest of a key's four counters, capped
 * at 15. Every `10 × capacity` increments all counters are halved, so old
 * popularity fades and the sketch follows a changing workload.
 *
 * Keys arrive as 32-bit hashes already seeded per store (see `hashKey`), so
 * which counters a key lands on cannot be predicted from outside the process.
 *
 * Internal.
 *
 * @module
 */

/** A seeded 32-bit string hash (FNV-1a, then a murmur3 finaliser). */
export function hashKey(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A random 32-bit seed from the platform's CSPRNG (Web Crypto, on every runtime). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] | 0;
}

/** See the module doc. */
export class FrequencySketch {
  #table: Uint32Array = new Uint32Array(8);
  #mask = 7;
  #sampleSize = 80;
  /** Increments since the last halving. */
  additions = 0;
  /** How many times the counters have been halved. */
  resets = 0;

  /** @param capacity How many entries the cache holds (grows with `ensureCapacity`). */
  constructor(capacity: number) {
    this.ensureCapacity(capacity);
  }

  /** Sizes the table for `capacity` entries; growing it forgets what it counted. */
  ensureCapacity(capacity: number): void {
    const words = 2 ** Math.ceil(Math.log2(Math.max(8, Math.min(capacity, 1 << 24) * 2)));
    if (words <= this.#table.length) return;
    this.#table = new Uint32Array(words);
    this.#mask = words - 1;
    this.#sampleSize = 10 * Math.max(8, Math.min(capacity, 1 << 27));
    this.additions = 0;
  }

  /** The estimated frequency of `hash` (0–15). */
  frequency(hash: number): number {
    const table = this.#table;
    const block = (Math.imul(hash, 0x9e3779b1) & this.#mask) & ~15;
    let min = 15;
    for (let i = 0; i < 4; i++) {
      const bits = hash >>> (i << 3);
      const count = (table[block + (bits & 15)] >>> ((bits >>> 2) & 28)) & 15;
      if (count < min) min = count;
    }
    return min;
  }

  /** Counts one access to `hash`; halves every counter once enough were counted. */
  increment(hash: number): void {
    const table = this.#table;
    const block = (Math.imul(hash, 0x9e3779b1) & this.#mask) & ~15;
    // Unrolled by hand: one byte of the hash per counter (see the module doc).
    let added = 0;
    let i = block + (hash & 15);
    let shift = (hash >>> 2) & 28;
    if (((table[i] >>> shift) & 15) !== 15) (table[i] += 1 << shift), added = 1;
    i = block + ((hash >>> 8) & 15);
    shift = (hash >>> 10) & 28;
    if (((table[i] >>> shift) & 15) !== 15) (table[i] += 1 << shift), added = 1;
    i = block + ((hash >>> 16) & 15);
    shift = (hash >>> 18) & 28;
    if (((table[i] >>> shift) & 15) !== 15) (table[i] += 1 << shift), added = 1;
    i = block + ((hash >>> 24) & 15);
    shift = (hash >>> 26) & 28;
    if (((table[i] >>> shift) & 15) !== 15) (table[i] += 1 << shift), added = 1;
    if (added !== 0 && ++this.additions >= this.#sampleSize) this.#halve();
  }

  #halve(): void {
    const table = this.#table;
    let odd = 0;
    for (let i = 0; i < table.length; i++) {
      const word = table[i];
      odd += popcount(word & 0x11111111);
      table[i] = (word >>> 1) & 0x77777777;
    }
    this.additions = (this.additions >>> 1) - (odd >>> 2);
    this.resets++;
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}
