import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LruStore } from "../src/cache/lru_store.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";

describe("LruStore", () => {
  test("evicts the least recently used entry, and a hit refreshes recency", () => {
    const store = new LruStore<number>(3, new FakeClock());
    store.set("a", 1);
    store.set("b", 2);
    store.set("c", 3);
    assert.equal(store.get("a"), 1); // a is now most recent: order a, c, b
    store.set("d", 4); // evicts b
    assert.deepEqual([...store.keys()], ["d", "a", "c"]);
    assert.equal(store.get("b"), undefined);
    assert.equal(store.evictions, 1);
    store.set("e", 5); // evicts c
    assert.deepEqual([...store.keys()], ["e", "d", "a"]);
  });

  test("peek does not change recency; overwrite moves to front", () => {
    const store = new LruStore<string>(2, new FakeClock());
    store.set("a", "1");
    store.set("b", "2");
    assert.equal(store.peek("a"), "1");
    store.set("c", "3"); // a was least recent despite the peek
    assert.deepEqual([...store.keys()], ["c", "b"]);
    store.set("b", "2b");
    assert.deepEqual([...store.keys()], ["b", "c"]);
    assert.equal(store.get("b"), "2b");
  });

  test("expires entries on access with the injected clock", () => {
    const clock = new FakeClock();
    const store = new LruStore<string>(10, clock);
    store.set("short", "s", 100);
    store.set("long", "l", 1_000);
    store.set("forever", "f");
    clock.advance(99);
    assert.equal(store.get("short"), "s");
    assert.equal(store.remainingTtl("long"), 901);
    clock.advance(1);
    assert.equal(store.get("short"), undefined);
    assert.equal(store.expirations, 1);
    assert.equal(store.size, 2);
    clock.advance(10_000);
    assert.equal(store.get("long"), undefined);
    assert.equal(store.get("forever"), "f");
    assert.equal(store.remainingTtl("forever"), Infinity);
  });

  test("overwriting a TTL entry without a TTL clears its expiry", () => {
    const clock = new FakeClock();
    const store = new LruStore<number>(4, clock);
    store.set("k", 1, 10);
    store.set("k", 2);
    clock.advance(100);
    assert.equal(store.get("k"), 2);
  });

  test("grows past its initial capacity when unbounded and reuses freed slots", () => {
    const store = new LruStore<number>(Infinity, new FakeClock());
    for (let i = 0; i < 10_000; i++) store.set(`k${i}`, i);
    assert.equal(store.size, 10_000);
    assert.equal(store.get("k0"), 0);
    assert.equal(store.get("k9999"), 9999);
    for (let i = 0; i < 5_000; i++) assert.equal(store.delete(`k${i}`), true);
    for (let i = 0; i < 5_000; i++) store.set(`n${i}`, i);
    assert.equal(store.size, 10_000);
    assert.equal(store.evictions, 0);
    assert.equal(store.get("n4999"), 4999);
  });

  test("a bounded store keeps exactly maxsize entries under churn", () => {
    const store = new LruStore<number>(100, new FakeClock());
    for (let i = 0; i < 1_000; i++) store.set(`k${i}`, i);
    assert.equal(store.size, 100);
    assert.equal(store.evictions, 900);
    assert.deepEqual([...store.keys()].slice(0, 2), ["k999", "k998"]);
    assert.equal(store.get("k899"), undefined);
    assert.equal(store.get("k900"), 900);
  });

  test("entries() lists live entries with their remaining TTL", () => {
    const clock = new FakeClock();
    const store = new LruStore<string>(10, clock);
    store.set("a", "1", 50);
    store.set("b", "2");
    store.set("c", "3", 500);
    clock.advance(60);
    assert.deepEqual([...store.entries()], [["c", "3", 440], ["b", "2", Infinity]]);
  });

  test("clear empties the store and it stays usable", () => {
    const store = new LruStore<number>(2, new FakeClock());
    store.set("a", 1, 10);
    store.set("b", 2);
    store.clear();
    assert.equal(store.size, 0);
    assert.equal(store.get("a"), undefined);
    store.set("c", 3);
    store.set("d", 4);
    store.set("e", 5);
    assert.deepEqual([...store.keys()], ["e", "d"]);
  });
});
