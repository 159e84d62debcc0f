/**
 * Issue 17: `maxBytes` and `sizeOf`, under both policies: the budget binds
 * beside `maxsize`, an entry larger than the budget is served and written to
 * L2 but not kept in L1, `getMetrics().bytes` reports what L1 holds; and a
 * property test over random operations: size and bytes never exceed the
 * bounds, and every value `get` returns is the last one `set` for its key.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { encodeValue } from "../src/codec/encode.ts";
import { LruStore } from "../src/cache/lru_store.ts";
import { TinyLfuStore } from "../src/cache/tinylfu_store.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { RecordingLogger } from "./_helpers.ts";
import { redisServerAvailable, SKIP_MESSAGE, startRedisServer } from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

const POLICIES = ["lru", "tinylfu"] as const;
const storeOf = (policy: string, maxsize: number, maxBytes: number) =>
  policy === "lru"
    ? new LruStore<string>(maxsize, new FakeClock(), maxBytes)
    : new TinyLfuStore<string>(maxsize, new FakeClock(), maxBytes, 11);

for (const policy of POLICIES) {
  describe(`byte budget, policy "${policy}"`, () => {
    test("whichever of maxsize and maxBytes binds first evicts", () => {
      const byBytes = storeOf(policy, 100, 1000);
      for (let i = 0; i < 50; i++) byBytes.set(`k${i}`, "v", undefined, 0, 0, 100);
      assert.equal(byBytes.size, 10);
      assert.equal(byBytes.bytes, 1000);
      assert.equal(byBytes.evictions, 40);
      const byCount = storeOf(policy, 5, 1000);
      for (let i = 0; i < 50; i++) byCount.set(`k${i}`, "v", undefined, 0, 0, 10);
      assert.equal(byCount.size, 5);
      assert.equal(byCount.bytes, 50);
    });

    test("an entry larger than the budget is not kept, and the older value for its key goes too", () => {
      const store = storeOf(policy, 10, 100);
      store.set("k", "small", undefined, 0, 0, 10);
      store.set("other", "o", undefined, 0, 0, 10);
      store.set("k", "huge", undefined, 0, 0, 101);
      assert.equal(store.get("k"), undefined);
      assert.equal(store.get("other"), "o");
      assert.equal(store.bytes, 10);
    });

    test("a rewrite with a new size updates the sum; delete and clear release it", () => {
      const store = storeOf(policy, 10, 100);
      store.set("a", "1", undefined, 0, 0, 30);
      store.set("a", "2", undefined, 0, 0, 50);
      store.set("b", "3", undefined, 0, 0, 20);
      assert.equal(store.bytes, 70);
      store.delete("a");
      assert.equal(store.bytes, 20);
      store.clear();
      assert.equal(store.bytes, 0);
    });

    test("AsyncCache: sizes default to the encoded length; getMetrics().bytes reports them", async () => {
      const cache = new AsyncCache<string>({ maxsize: 100, maxBytes: 10_000, policy });
      await cache.set("a", "x".repeat(1000));
      await cache.set("b", "y".repeat(500));
      const expected = encodeValue("x".repeat(1000)).byteLength +
        encodeValue("y".repeat(500)).byteLength;
      assert.equal(cache.getMetrics().bytes, expected);
      assert.equal(new AsyncCache({ maxsize: 10 }).getMetrics().bytes, 0, "no budget, no sizes");
      await cache.close();
    });

    test(
      "AsyncCache: a value over the budget is served and written to L2 (a real Redis), not kept in L1",
      { skip },
      async () => {
        const server = await startRedisServer();
        const backend = new RedisBackend({
          host: "127.0.0.1",
          port: server.port,
          logger: new RecordingLogger(),
        });
        const sizeOf = (value: unknown) => (value as string).length;
        const a = new AsyncCache<string>({
          maxBytes: 100,
          sizeOf,
          policy,
          remoteCache: backend,
          namespace: "b",
        });
        let loads = 0;
        const big = "z".repeat(500);
        assert.equal(await a.get("big", { loader: () => (loads++, big) }), big);
        await a.flush();
        assert.equal(a.getMetrics().size, 0, "not in L1");
        assert.equal(await a.get("big", { loader: () => (loads++, big) }), big);
        assert.equal(loads, 1, "the second read came from L2");
        assert.equal(a.getMetrics().l2Hits, 1);
        await a.set("small", "s");
        assert.equal(a.getMetrics().bytes, 1);
        await a.close();
        await backend.close();
        await server.stop();
      },
    );

    test("AsyncCache: a sizeOf that throws or answers nonsense keeps the entry out of L1, nothing lost", async () => {
      const logger = new RecordingLogger();
      const cache = new AsyncCache<number>({
        maxBytes: 100,
        policy,
        logger,
        sizeOf: (v) => {
          if (v === 1) throw new Error("no size");
          return v === 2 ? NaN : 8;
        },
      });
      assert.equal(await cache.get("one", { loader: () => 1 }), 1);
      assert.equal(await cache.get("two", { loader: () => 2 }), 2);
      assert.equal(await cache.get("three", { loader: () => 3 }), 3);
      assert.equal(cache.getMetrics().size, 1);
      assert.equal(cache.getMetrics().bytes, 8);
      assert.equal(logger.warnings.length, 1, "said once");
      assert.match(logger.warnings[0], /sizeOf threw or returned no number/);
      await cache.close();
    });
  });
}

describe("byte budget: property", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("set"), key: fc.nat(30), size: fc.nat(400) }),
    fc.record({ kind: fc.constant("get"), key: fc.nat(30) }),
    fc.record({ kind: fc.constant("delete"), key: fc.nat(30) }),
    fc.record({ kind: fc.constant("clear") }),
  );
  for (const policy of POLICIES) {
    test(`policy "${policy}": size <= maxsize, bytes <= maxBytes, a get returns the last value set`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 20 }),
          fc.integer({ min: 1, max: 1500 }),
          fc.array(op, { maxLength: 300 }),
          (maxsize, maxBytes, ops) => {
            const store = storeOf(policy, maxsize, maxBytes);
            const last = new Map<string, string>();
            const sizes = new Map<string, number>();
            let n = 0;
            for (const o of ops) {
              const key = `k${"key" in o ? o.key : 0}`;
              if (o.kind === "set") {
                const value = `v${n++}`;
                store.set(key, value, undefined, 0, 0, o.size);
                last.set(key, value);
                sizes.set(key, o.size);
              } else if (o.kind === "get") {
                const got = store.get(key);
                if (got !== undefined) assert.equal(got, last.get(key));
              } else if (o.kind === "delete") {
                store.delete(key);
                last.delete(key);
              } else {
                store.clear();
                last.clear();
              }
              assert.ok(store.size <= maxsize, `size ${store.size} > ${maxsize}`);
              assert.ok(store.bytes <= maxBytes, `bytes ${store.bytes} > ${maxBytes}`);
              let held = 0;
              for (const k of store.keys()) held += sizes.get(k)!;
              assert.equal(store.bytes, held);
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
