/**
 * Issue 17: the pieces of `policy: "tinylfu"` (the frequency sketch, the
 * admission duel, the regions, the window tuner) and the store they make,
 * next to `LruStore` on the same streams.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrequencySketch, hashKey } from "../src/cache/_frequency_sketch.ts";
import { type SegmentHost, Segments } from "../src/cache/_segments.ts";
import { LruStore } from "../src/cache/lru_store.ts";
import { TinyLfuStore } from "../src/cache/tinylfu_store.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";

/** Replays `keys` as get-then-set-on-miss; the hit ratio. */
function replay(
  store: { get(k: string): unknown; set(k: string, v: number): void },
  keys: string[],
) {
  let hits = 0;
  for (const k of keys) {
    if (store.get(k) !== undefined) hits++;
    else store.set(k, 1);
  }
  return hits / keys.length;
}

/** Recency: each new key comes back once, 300-900 requests later (a 1% window of 1000 misses them all). */
function recencyStream(length: number): string[] {
  const recency: string[] = [];
  const pending: [number, string][] = [];
  let rnd = 99;
  const next = () => (rnd = (Math.imul(rnd, 1103515245) + 12345) | 0) >>> 16;
  for (let i = 0; recency.length < length; i++) {
    recency.push(`r${i}`);
    pending.push([recency.length + 300 + (next() % 600), `r${i}`]);
    while (pending.length > 0 && pending[0][0] <= recency.length) recency.push(pending.shift()![1]);
  }
  return recency;
}

describe("FrequencySketch", () => {
  test("counts accesses up to 15, and an unseen key reads (about) 0", () => {
    const sketch = new FrequencySketch(1000);
    const h = hashKey("hot", 1);
    for (let i = 0; i < 5; i++) sketch.increment(h);
    assert.equal(sketch.frequency(h), 5);
    for (let i = 0; i < 50; i++) sketch.increment(h);
    assert.equal(sketch.frequency(h), 15);
    let seen = 0;
    for (let i = 0; i < 200; i++) seen += sketch.frequency(hashKey(`cold${i}`, 1));
    assert.ok(seen <= 10, `cold keys read ${seen} in all`);
  });

  test("halves every counter after 10 × capacity increments, so old popularity fades", () => {
    const sketch = new FrequencySketch(64);
    const old = hashKey("old", 7);
    for (let i = 0; i < 15; i++) sketch.increment(old);
    assert.equal(sketch.frequency(old), 15);
    for (let i = 0; sketch.resets === 0; i++) sketch.increment(hashKey(`k${i}`, 7));
    assert.equal(sketch.frequency(old), 7);
    for (let i = 0; sketch.resets < 3; i++) sketch.increment(hashKey(`j${i}`, 7));
    // 15 → 7 → 3 → 1, plus what colliding keys added meanwhile.
    assert.ok(sketch.frequency(old) <= 2, `after 3 halvings: ${sketch.frequency(old)}`);
  });

  test("the hash is seeded: two seeds place the same keys differently", () => {
    let same = 0;
    for (let i = 0; i < 1000; i++) if (hashKey(`k${i}`, 1) === hashKey(`k${i}`, 2)) same++;
    assert.equal(same, 0);
    assert.equal(hashKey("k", 42), hashKey("k", 42));
  });
});

/** Regions over slots 0..n-1 with fixed frequencies and a scripted random source. */
class FixedHost implements SegmentHost {
  held = new Set<number>();
  evicted: number[] = [];
  constructor(
    readonly max: number,
    readonly freq: Map<number, number>,
    readonly rand: () => number,
  ) {}
  segments = new Segments(64, 0.25);
  over() {
    return this.held.size > this.max;
  }
  frequency(slot: number) {
    return this.freq.get(slot) ?? 0;
  }
  evict(slot: number) {
    this.held.delete(slot);
    this.segments.remove(slot);
    this.evicted.push(slot);
  }
  random() {
    return this.rand();
  }
  add(slot: number) {
    this.held.add(slot);
    this.segments.insert(slot);
    this.segments.maintain(this);
  }
}

describe("admission (window candidate against main's victim)", () => {
  const duel = (candidate: number, victim: number, rand = () => 1) => {
    // Slots 0..3 fill a cache of 4 (window 1, main 3); slot 4 pushes slot 3
    // (the window's) into a duel with slot 0 (probation's least recent).
    const host = new FixedHost(4, new Map([[0, victim], [1, 15], [2, 15], [3, candidate]]), rand);
    host.segments.resize(4);
    for (let s = 0; s < 5; s++) host.add(s);
    return host.evicted;
  };

  test("the more frequent one stays; a tie or a cold candidate loses", () => {
    assert.deepEqual(duel(3, 2), [0], "candidate 3 > victim 2: the victim leaves");
    assert.deepEqual(duel(2, 2), [3], "a tie: the candidate is rejected");
    assert.deepEqual(duel(5, 9, () => 0), [3], "a cold candidate (<= 5) never wins at random");
  });

  test("a warm candidate against a hotter victim wins 1 time in 128, at random", () => {
    assert.deepEqual(duel(6, 15, () => 0), [0], "random & 127 === 0: admitted");
    assert.deepEqual(duel(6, 15, () => 1), [3]);
    let admitted = 0;
    let x = 12345;
    const rand = () => (x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 8;
    for (let i = 0; i < 12_800; i++) if (duel(10, 15, rand)[0] === 0) admitted++;
    assert.ok(admitted > 50 && admitted < 170, `admitted ${admitted} of 12800 (expect ~100)`);
  });
});

describe("TinyLfuStore", () => {
  test("a set is followed by a hit, even when everything held is hotter", () => {
    const store = new TinyLfuStore<number>(100, new FakeClock(), Infinity, 1);
    for (let r = 0; r < 20; r++) {
      for (let i = 0; i < 100; i++) store.get(`hot${i}`) ?? store.set(`hot${i}`, i);
    }
    store.set("new", 1);
    assert.equal(store.get("new"), 1);
    assert.equal(store.size, 100);
  });

  test("a scan of one-hit wonders does not flush the hot set (LRU's does)", () => {
    const hot = Array.from({ length: 80 }, (_, i) => `hot${i}`);
    const scan = Array.from({ length: 2000 }, (_, i) => `scan${i}`);
    for (
      const make of [
        () => new LruStore<number>(100, new FakeClock()),
        () => new TinyLfuStore<number>(100, new FakeClock(), Infinity, 3),
      ]
    ) {
      const store = make();
      for (let r = 0; r < 10; r++) replay(store, hot);
      const evictionsBefore = store.evictions;
      replay(store, scan);
      const kept = hot.filter((k) => store.peek(k) !== undefined).length;
      if (store instanceof LruStore) assert.equal(kept, 0, "LRU keeps none");
      else {
        assert.ok(kept >= 70, `TinyLFU keeps ${kept} of 80 hot keys`);
        // Every scan key but those still held left: rejections at admission count as evictions.
        assert.equal(
          store.evictions - evictionsBefore,
          2000 - (100 - kept) + (80 - kept) - (80 - 80),
        );
      }
    }
  });

  test("the window grows on a recency stream and shrinks back on a frequency one", () => {
    const store = new TinyLfuStore<number>(1000, new FakeClock(), Infinity, 5);
    assert.equal(store.windowFraction, 0.01);
    const recency = recencyStream(60_000);
    const lruRatio = replay(new LruStore<number>(1000, new FakeClock()), recency);
    const ratio = replay(store, recency);
    assert.ok(store.windowFraction >= 0.6, `window ${store.windowFraction}`);
    assert.ok(ratio > lruRatio - 0.05, `tinylfu ${ratio} vs lru ${lruRatio}`);
    // Frequency: a loop over 1500 keys (LRU hits nothing; a small window keeps ~2/3 of main).
    const loop = Array.from({ length: 60_000 }, (_, i) => `loop${i % 1500}`);
    replay(store, loop);
    assert.ok(store.windowFraction <= 0.1, `window ${store.windowFraction}`);
    const loopRatio = replay(store, loop.slice(0, 30_000));
    assert.equal(replay(new LruStore<number>(1000, new FakeClock()), loop), 0);
    assert.ok(loopRatio > 0.5, `tinylfu on the loop: ${loopRatio}`);
    assert.ok(store.windowMoves >= 2);
  });

  test("bounded by maxBytes alone, the window adapts to what the budget holds", () => {
    const store = new TinyLfuStore<number>(Infinity, new FakeClock(), 10_000, 5);
    const sized = {
      get: (k: string) => store.get(k),
      set: (k: string, v: number) => store.set(k, v, undefined, 0, 0, 10),
    };
    replay(sized, recencyStream(60_000));
    assert.ok(store.size <= 1000 && store.size >= 990, `size ${store.size}`);
    assert.ok(
      store.windowMoves >= 1 && store.windowFraction >= 0.3,
      `window ${store.windowFraction}`,
    );
  });

  test("TTL, stale keeps, refresh marks and delete work as in LruStore", () => {
    const clock = new FakeClock();
    const store = new TinyLfuStore<string>(10, clock, Infinity, 9);
    store.set("short", "s", 100);
    store.set("kept", "k", 100, 1_000);
    store.set("early", "e", 1_000, 0, 500);
    clock.advance(100);
    assert.equal(store.get("short"), undefined);
    assert.equal(store.expirations, 1);
    assert.equal(store.get("kept"), undefined);
    assert.equal(store.stale("kept"), "k");
    assert.equal(store.refreshDue("early"), false);
    clock.advance(400);
    assert.equal(store.refreshDue("early"), true);
    assert.equal(store.delete("early"), true);
    assert.equal(store.get("early"), undefined);
    store.clear();
    assert.equal(store.size, 0);
  });
});
