import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, CacheClosedError, InvalidOptionError } from "../mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("AsyncCache: reads and loaders", () => {
  test("miss without loader is undefined; loader result is cached", async () => {
    const cache = new AsyncCache<string>();
    assert.equal(await cache.get("k"), undefined);
    let calls = 0;
    assert.equal(await cache.get("k", { loader: () => (calls++, "v") }), "v");
    assert.equal(await cache.get("k", { loader: () => (calls++, "other") }), "v");
    assert.equal(calls, 1);
    const m = cache.getMetrics();
    assert.equal(m.hits, 1);
    assert.equal(m.l1Hits, 1);
    assert.equal(m.misses, 2);
    assert.equal(m.loads, 1);
    assert.equal(m.size, 1);
  });

  test("100 concurrent misses on one key run one loader", async () => {
    const cache = new AsyncCache<number>();
    let calls = 0;
    const loader = async () => {
      calls++;
      await tick();
      return 42;
    };
    const results = await Promise.all(
      Array.from({ length: 100 }, () => cache.get("hot", { loader })),
    );
    assert.equal(calls, 1);
    assert.deepEqual(results, new Array(100).fill(42));
    assert.equal(cache.getMetrics().coalesced, 99);
  });

  test("a loader rejection reaches every waiter and is not cached", async () => {
    const cache = new AsyncCache<string>();
    let calls = 0;
    const failing = async () => {
      calls++;
      await tick();
      throw new Error("db down");
    };
    const waiters = Array.from({ length: 5 }, () => cache.get("k", { loader: failing }));
    for (const w of waiters) await assert.rejects(w, /db down/);
    assert.equal(calls, 1);
    assert.equal(cache.getMetrics().loadErrors, 1);
    assert.equal(await cache.get("k", { loader: () => "recovered" }), "recovered");
  });

  test("a sync loader and a sync throw both work", async () => {
    const cache = new AsyncCache<number>();
    assert.equal(await cache.get(1, { loader: () => 7 }), 7);
    await assert.rejects(
      cache.get(2, {
        loader: () => {
          throw new RangeError("sync");
        },
      }),
      RangeError,
    );
    assert.equal(await cache.get(2), undefined);
  });

  test("a loader returning undefined is not cached", async () => {
    const cache = new AsyncCache<string>();
    let calls = 0;
    await cache.get("k", { loader: () => (calls++, undefined) });
    await cache.get("k", { loader: () => (calls++, undefined) });
    assert.equal(calls, 2);
    assert.equal(cache.getMetrics().size, 0);
  });

  test("null is a value", async () => {
    const cache = new AsyncCache<null>();
    await cache.set("n", null);
    assert.equal(await cache.get("n", { loader: () => assert.fail("loader ran") }), null);
  });

  test("number keys are their decimal string", async () => {
    const cache = new AsyncCache<string>();
    await cache.set(1, "one");
    assert.equal(await cache.get("1"), "one");
    await cache.set("2", "two");
    assert.equal(await cache.get(2), "two");
    await assert.rejects(cache.set(NaN, "x"), TypeError);
  });

  test("LRU order: a hit protects an entry from eviction", async () => {
    const cache = new AsyncCache<number>({ maxsize: 2 });
    await cache.set("a", 1);
    await cache.set("b", 2);
    await cache.get("a");
    await cache.set("c", 3);
    assert.equal(await cache.get("b"), undefined);
    assert.equal(await cache.get("a"), 1);
    assert.equal(await cache.get("c"), 3);
    assert.equal(cache.getMetrics().evictions, 1);
  });
});

describe("AsyncCache: TTL", () => {
  test("defaultTtl expires entries; ttl on set and get overrides it", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ defaultTtl: "300s", clock });
    await cache.set("default", "d");
    await cache.set("short", "s", { ttl: 1_000 });
    await cache.get("loaded", { loader: () => "l", ttl: "2s" });
    clock.advance(1_000);
    assert.equal(await cache.get("short"), undefined);
    assert.equal(await cache.get("loaded"), "l");
    clock.advance(1_000);
    assert.equal(await cache.get("loaded"), undefined);
    assert.equal(await cache.get("default"), "d");
    clock.advance(298_000);
    assert.equal(await cache.get("default"), undefined);
    assert.equal(cache.getMetrics().expirations, 3);
  });

  test("no defaultTtl means no expiry", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock });
    await cache.set("k", "v");
    clock.advance(365 * 86_400_000);
    assert.equal(await cache.get("k"), "v");
  });

  test("an expired entry is reloaded by the loader", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<number>({ defaultTtl: 100, clock });
    let n = 0;
    const loader = () => ++n;
    assert.equal(await cache.get("k", { loader }), 1);
    clock.advance(50);
    assert.equal(await cache.get("k", { loader }), 1);
    clock.advance(50);
    assert.equal(await cache.get("k", { loader }), 2);
  });
});

describe("AsyncCache: writes", () => {
  test("set, delete, clear (clear also resets metrics)", async () => {
    const cache = new AsyncCache<string>();
    await cache.set("a", "1");
    await cache.set("b", "2");
    assert.equal(await cache.get("a"), "1");
    assert.equal(await cache.delete("a"), true);
    assert.equal(await cache.delete("a"), false);
    assert.equal(await cache.get("a"), undefined);
    await cache.clear();
    assert.equal(await cache.get("b"), undefined);
    const m = cache.getMetrics();
    assert.equal(m.size, 0);
    assert.equal(m.hits, 0);
    assert.equal(m.misses, 1);
  });

  test("set(key, undefined) deletes", async () => {
    const cache = new AsyncCache<string | undefined>();
    await cache.set("a", "1");
    await cache.set("a", undefined);
    assert.equal(cache.getMetrics().size, 0);
  });

  test("a set during a load wins over the load's older result", async () => {
    const cache = new AsyncCache<string>();
    let release!: () => void;
    const slow = cache.get("k", {
      loader: () => new Promise<string>((resolve) => release = () => resolve("stale")),
    });
    await tick();
    await cache.set("k", "fresh");
    release();
    assert.equal(await slow, "stale"); // its caller gets what it loaded...
    assert.equal(await cache.get("k"), "fresh"); // ...but the cache keeps the newer value
  });

  test("a delete during a load keeps the load's result out of the cache", async () => {
    const cache = new AsyncCache<string>();
    let release!: () => void;
    const slow = cache.get("k", {
      loader: () => new Promise<string>((resolve) => release = () => resolve("old")),
    });
    await tick();
    await cache.delete("k");
    release();
    await slow;
    assert.equal(await cache.get("k"), undefined);
  });

  test("refresh runs the loader even on a hit", async () => {
    const cache = new AsyncCache<number>();
    await cache.set("k", 1);
    assert.equal(await cache.refresh("k", { loader: () => 2 }), 2);
    assert.equal(await cache.get("k"), 2);
  });

  test("warmup loads every key; a failure names its key and the rest are kept", async () => {
    const cache = new AsyncCache<string>();
    await cache.warmup({ "config:global": () => "cfg", "flags": async () => "f" });
    assert.equal(await cache.get("config:global"), "cfg");
    assert.equal(await cache.get("flags"), "f");
    await assert.rejects(
      cache.warmup(
        new Map<string | number, () => Promise<string>>([
          ["good", async () => "g"],
          ["bad", () => Promise.reject(new Error("nope"))],
        ]),
      ),
      (e: unknown) => e instanceof AggregateError && /bad/.test(e.message),
    );
    assert.equal(await cache.get("good"), "g");
  });
});

describe("AsyncCache: batching", () => {
  test("two concurrent batch gets make one batchLoader call with both keys", async () => {
    const cache = new AsyncCache<string>();
    const calls: unknown[][] = [];
    const batchLoader = (keys: number[]) => {
      calls.push(keys);
      return new Map(keys.map((k) => [k, `user${k}`]));
    };
    const [a, b] = await Promise.all([
      cache.get(1, { batchLoader }),
      cache.get(2, { batchLoader }),
    ]);
    assert.equal(a, "user1");
    assert.equal(b, "user2");
    assert.deepEqual(calls, [[1, 2]]);
    assert.equal(cache.getMetrics().batches, 1);
    assert.equal(await cache.get(1), "user1"); // cached
  });

  test("results as a plain object or an array in key order", async () => {
    const cache = new AsyncCache<string>();
    const asObject = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, k.toUpperCase()]));
    const asArray = async (keys: string[]) => keys.map((k) => `${k}!`);
    const [a, b, c, d] = await Promise.all([
      cache.get("a", { batchLoader: asObject }),
      cache.get("b", { batchLoader: asObject }),
      cache.get("c", { batchLoader: asArray }),
      cache.get("d", { batchLoader: asArray }),
    ]);
    assert.deepEqual([a, b, c, d], ["A", "B", "c!", "d!"]);
  });

  test("batches are grouped per batchLoader function", async () => {
    const cache = new AsyncCache<string>();
    const seen: string[][] = [];
    const one = (keys: string[]) => (seen.push(keys), keys.map((k) => `1${k}`));
    const two = (keys: string[]) => (seen.push(keys), keys.map((k) => `2${k}`));
    const r = await Promise.all([
      cache.get("a", { batchLoader: one }),
      cache.get("b", { batchLoader: two }),
      cache.get("c", { batchLoader: one }),
    ]);
    assert.deepEqual(r, ["1a", "2b", "1c"]);
    assert.deepEqual(seen.sort(), [["a", "c"], ["b"]]);
  });

  test("a key absent from the result resolves undefined and is not cached", async () => {
    const cache = new AsyncCache<string>();
    const batchLoader = (keys: string[]) =>
      new Map(keys.filter((k) => k !== "gone").map((k) => [k, k]));
    const [found, gone] = await Promise.all([
      cache.get("here", { batchLoader }),
      cache.get("gone", { batchLoader }),
    ]);
    assert.equal(found, "here");
    assert.equal(gone, undefined);
    assert.equal(cache.getMetrics().size, 1);
  });

  test("a rejection rejects only that batch's callers", async () => {
    const cache = new AsyncCache<string>({ batchWindowMs: 1 });
    const failing = () => Promise.reject(new Error("batch failed"));
    const ok = (keys: string[]) => keys;
    const bad1 = cache.get("x", { batchLoader: failing });
    const bad2 = cache.get("y", { batchLoader: failing });
    const good = cache.get("z", { batchLoader: ok });
    await assert.rejects(bad1, /batch failed/);
    await assert.rejects(bad2, /batch failed/);
    assert.equal(await good, "z");
    assert.equal(await cache.get("x", { batchLoader: ok }), "x"); // not cached as failed
  });

  test("a full batch is flushed early at maxBatchSize", async () => {
    const cache = new AsyncCache<number>({ maxBatchSize: 3, batchWindowMs: 10_000 });
    const sizes: number[] = [];
    const batchLoader = (keys: number[]) => (sizes.push(keys.length), keys);
    const started = Date.now();
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((k) => cache.get(k, { batchLoader })),
    );
    assert.deepEqual(results, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(sizes, [3, 3]);
    assert.ok(Date.now() - started < 5_000, "waited for the 10 s window");
  });

  test("concurrent batch gets of one key share one slot in the batch", async () => {
    const cache = new AsyncCache<string>();
    const calls: string[][] = [];
    const batchLoader = (keys: string[]) => (calls.push(keys), keys);
    const r = await Promise.all([
      cache.get("a", { batchLoader }),
      cache.get("a", { batchLoader }),
      cache.get("b", { batchLoader }),
    ]);
    assert.deepEqual(r, ["a", "a", "b"]);
    assert.deepEqual(calls, [["a", "b"]]);
  });

  test("a wrong-length array rejects the batch with a TypeError", async () => {
    const cache = new AsyncCache<string>();
    await assert.rejects(
      cache.get("a", { batchLoader: () => [] }),
      (e: unknown) => e instanceof TypeError && /0 values for 1 keys/.test(e.message),
    );
  });
});

describe("AsyncCache: options and lifecycle", () => {
  test("bad options throw InvalidOptionError naming the option", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ maxsize: -1 }, "maxsize"],
      [{ maxsize: 1.5 }, "maxsize"],
      [{ defaultTtl: "5 parsecs" }, "defaultTtl"],
      [{ batchWindowMs: -1 }, "batchWindowMs"],
      [{ maxBatchSize: 0 }, "maxBatchSize"],
      [{ logger: {} }, "logger"],
      [{ remoteCache: {} }, "remoteCache"],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => new AsyncCache(options),
        (e: unknown) =>
          e instanceof InvalidOptionError && e.option === option && e.message.includes(option),
        option,
      );
    }
    assert.doesNotThrow(() => new AsyncCache({ maxsize: Infinity }));
  });

  test("a bad ttl on get or set rejects, naming ttl", async () => {
    const cache = new AsyncCache<string>();
    // deno-lint-ignore no-explicit-any
    await assert.rejects(cache.set("k", "v", { ttl: "soon" as any }), /ttl/);
    // deno-lint-ignore no-explicit-any
    await assert.rejects(cache.get("k", { loader: () => "v", ttl: -5 as any }), /ttl/);
  });

  test("close() is final and works through await using", async () => {
    const cache = new AsyncCache<string>();
    await cache.set("k", "v");
    await cache[Symbol.asyncDispose]();
    await assert.rejects(cache.set("k", "v"), CacheClosedError);
    await assert.rejects(cache.get("other", { loader: () => "x" }), CacheClosedError);
    await cache.close(); // idempotent
  });

  test("close() runs waiting batches first", async () => {
    const cache = new AsyncCache<string>({ batchWindowMs: 10_000 });
    const pending = cache.get("a", { batchLoader: (keys: string[]) => keys });
    await cache.close();
    assert.equal(await pending, "a");
  });
});
