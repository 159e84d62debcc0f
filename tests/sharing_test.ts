/**
 * Issue 8: many caches on one backend (isolation, ownership, one logger) and
 * the correctness defects a review found. Each test failed on the code
 * before the fix it names.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AsyncCache,
  AsyncLRU,
  AsyncTTL,
  CacheClosedError,
  DiskBackend,
  type FileStore,
  InvalidOptionError,
  RedisBackend,
  SerializationError,
} from "../mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { FakeRedis } from "../src/testing/fake_redis.ts";
import { MapBackend } from "./_map_backend.ts";
import { entryKey, RecordingLogger, sleep } from "./_helpers.ts";

describe("issue 8: isolation and ownership", () => {
  test("1. two decorated methods named alike never share L2 keys", async () => {
    const backend = new MapBackend();
    class Users {
      @AsyncTTL({ timeToLive: "1m", remoteCache: backend })
      async get(id: number) {
        return `user ${id}`;
      }
    }
    class Orders {
      @AsyncTTL({ timeToLive: "1m", remoteCache: backend })
      async get(id: number) {
        return `order ${id}`;
      }
    }
    assert.equal(await new Users().get(1), "user 1");
    assert.equal(await new Orders().get(1), "order 1");
    const keys = [...backend.data.keys()].filter((k) => !k.startsWith("__ac:")).sort();
    assert.equal(keys.length, 2);
    assert.ok(keys.some((k) => k.startsWith(entryKey("", "Users.get"))), keys.join());
    assert.ok(keys.some((k) => k.startsWith(entryKey("", "Orders.get"))), keys.join());
  });

  test("1. two functions claiming one namespace on one backend fail at decoration time", async () => {
    const backend = new MapBackend();
    const first = AsyncLRU({ remoteCache: backend })(async function find(id: number) {
      return id;
    });
    assert.throws(
      () =>
        AsyncLRU({ remoteCache: backend })(async function find(id: number) {
          return -id;
        }),
      (e: unknown) => e instanceof InvalidOptionError && /name/.test(e.message),
    );
    // A distinct name is the way out; closing the first frees its namespace.
    const other = AsyncLRU({ remoteCache: backend, name: "findNegative" })(
      async function find(id: number) {
        return -id;
      },
    );
    assert.equal(await other(2), -2);
    await first.cache.close();
    const again = AsyncLRU({ remoteCache: backend })(async function find(id: number) {
      return id * 10;
    });
    assert.equal(typeof again, "function");
    await again.cache.close();
    await other.cache.close();
  });

  test("2. clear() removes only its own namespace", async () => {
    const backend = new MapBackend();
    const a = new AsyncCache<string>({ remoteCache: backend, namespace: "a" });
    const b = new AsyncCache<string>({ remoteCache: backend, namespace: "b" });
    await a.set("k", "A");
    await b.set("k", "B");
    await a.flush();
    await b.flush();
    await a.clear();
    await a.flush(); // the old generation's entries are removed in the background
    const entries = () => [...backend.data.keys()].filter((k) => !k.startsWith("__ac:"));
    assert.deepEqual(entries(), [entryKey("k", "b")]);
    assert.equal(await b.get("k"), "B");
    const f = AsyncLRU({ remoteCache: backend })(async function lookup(x: number) {
      return x;
    });
    await f(1);
    await f.cache.flush();
    await f.clearCache();
    await f.cache.flush();
    assert.deepEqual(entries(), [entryKey("k", "b")]);
    await f.cache.close();
  });

  test("3. closing one cache never closes the backend it was handed", async () => {
    const backend = new MapBackend();
    const a = new AsyncCache<string>({ remoteCache: backend, namespace: "a" });
    const b = new AsyncCache<string>({ remoteCache: backend, namespace: "b" });
    {
      await using _scoped = new AsyncCache<string>({ remoteCache: backend, namespace: "c" });
    }
    await a.close();
    assert.equal(backend.closes, 0);
    await b.set("k", "v");
    await b.flush();
    const reader = new AsyncCache<string>({ remoteCache: backend, namespace: "b" });
    assert.equal(await reader.get("k"), "v");
    await reader.close();
    await b.close();
    assert.equal(backend.closes, 0);
  });

  test("4. a RedisBackend with no logger reports through the cache's logger", async () => {
    const fake = new FakeRedis();
    fake.set("ac:" + entryKey("k"), new TextEncoder().encode("not an envelope"));
    const backend = new RedisBackend({ transport: fake.connect });
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ remoteCache: backend, logger });
    const original = console.warn;
    const onConsole: string[] = [];
    console.warn = (message: string) => void onConsole.push(message);
    try {
      assert.equal(await cache.get("k", { loader: () => "loaded" }), "loaded");
    } finally {
      console.warn = original;
      await cache.close();
      await backend.close();
      await fake.close();
    }
    assert.deepEqual(onConsole, []);
    assert.ok(logger.warnings.some((w) => /not a valid async-cache entry/.test(w)));
  });

  test("4. a DiskBackend with no logger reports through the cache's logger", async () => {
    const files = new Map<string, Uint8Array>([["snap", new Uint8Array([1, 2, 3])]]);
    const fileStore: FileStore = {
      read: (path) => Promise.resolve(files.get(path)),
      writeAtomic: (path, bytes) => Promise.resolve(void files.set(path, bytes)),
    };
    const logger = new RecordingLogger();
    const original = console.error;
    const onConsole: string[] = [];
    console.error = (message: string) => void onConsole.push(message);
    try {
      const cache = new AsyncCache({ backup: new DiskBackend("snap", { fileStore }), logger });
      await cache.ready;
      await cache.close();
    } finally {
      console.error = original;
    }
    assert.deepEqual(onConsole, []);
    assert.equal(logger.warnings.length + logger.errors.length, 1);
  });
});

describe("issue 8: correctness", () => {
  test("5. a get without a loader never answers a concurrent get that brought one", async () => {
    const backend = new MapBackend();
    backend.readDelayMs = 20;
    const cache = new AsyncCache<string>({ remoteCache: backend });
    let loads = 0;
    const plain = cache.get("k");
    const withLoader = cache.get("k", { loader: () => (loads++, "loaded") });
    assert.equal(await withLoader, "loaded");
    assert.equal(loads, 1);
    assert.ok((await plain) === undefined || (await plain) === "loaded");
    await cache.close();
  });

  test("6. a batch whose result throws when read settles every caller", async () => {
    const cache = new AsyncCache<number>();
    const hostile = () =>
      new Proxy({}, {
        getOwnPropertyDescriptor() {
          throw new Error("hostile result");
        },
      });
    const results = await Promise.allSettled([
      cache.get("a", { batchLoader: hostile }),
      cache.get("b", { batchLoader: hostile }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    // The keys are not stuck in flight: a later get loads again.
    assert.equal(await cache.get("a", { loader: () => 1 }), 1);
    await cache.close();
  });

  test("6. an Error in a batch result rejects that key and is not cached", async () => {
    const cache = new AsyncCache<unknown>();
    const load = (keys: string[]) =>
      new Map(keys.map((k) => [k, k === "bad" ? new Error("no bad") : k]));
    const [good, bad] = await Promise.allSettled([
      cache.get("good", { batchLoader: load }),
      cache.get("bad", { batchLoader: load }),
    ]);
    assert.deepEqual(good, { status: "fulfilled", value: "good" });
    assert.equal(bad.status, "rejected");
    assert.match(String((bad as PromiseRejectedResult).reason), /no bad/);
    assert.equal(await cache.get("bad"), undefined);
    await cache.close();
  });

  test("6. no duplicate keys reach a batch loader when a delete lands in the window", async () => {
    const cache = new AsyncCache<string>({ batchWindowMs: 10 });
    const seen: string[][] = [];
    const load = (keys: string[]) => {
      seen.push(keys);
      return keys.map((k) => k.toUpperCase());
    };
    const first = cache.get("a", { batchLoader: load });
    await cache.delete("a");
    const second = cache.get("a", { batchLoader: load });
    assert.deepEqual(await Promise.all([first, second]), ["A", "A"]);
    assert.deepEqual(seen, [["a"]]);
    assert.equal(await cache.get("a"), "A");
    await cache.close();
  });

  test("7. a decorated base method does not hide a subclass override", async () => {
    class Base {
      @AsyncLRU()
      async find(id: number) {
        return `base ${id}`;
      }
    }
    class Derived extends Base {
      override async find(id: number) {
        return `derived ${id}`;
      }
    }
    class Calls extends Base {
      override async find(id: number) {
        return `calls ${await super.find(id)}`;
      }
    }
    assert.equal(await new Derived().find(1), "derived 1");
    assert.equal(await new Base().find(1), "base 1");
    assert.equal(await new Calls().find(2), "calls base 2");
  });

  test("8. set() of a value L2 cannot store rejects the same with the breaker open", async () => {
    const clock = new FakeClock();
    const fake = new FakeRedis();
    const backend = new RedisBackend({
      transport: fake.connect,
      socketTimeout: 50,
      connectTimeout: 50,
      logger: new RecordingLogger(),
    });
    const cache = new AsyncCache<unknown>({
      remoteCache: backend,
      clock,
      logger: new RecordingLogger(),
    });
    try {
      await assert.rejects(cache.set("f", () => 1), SerializationError);
      fake.refuse();
      fake.current?.reset();
      for (let i = 0; i < 5 && cache.getMetrics().breaker === "closed"; i++) {
        await cache.get(`miss${i}`);
      }
      assert.equal(cache.getMetrics().breaker, "open");
      await assert.rejects(cache.set("f", () => 1), SerializationError);
      assert.equal(await cache.get("f"), undefined);
    } finally {
      await cache.close();
      await backend.close();
      await fake.close();
    }
  });

  test("9. close(): L1 hits reject after it, concurrent calls close once", async () => {
    const backend = new MapBackend();
    const cache = new AsyncCache<string>({ remoteCache: backend });
    await cache.set("k", "v");
    const [x, y] = [cache.close(), cache.close()];
    assert.equal(x, y);
    await assert.rejects(
      cache.get("k"),
      CacheClosedError,
      "a hit rejects as soon as close() starts",
    );
    await x;
    await assert.rejects(cache.get("k"), CacheClosedError);
    await assert.rejects(cache.get("k", { loader: () => "v" }), CacheClosedError);
  });

  test("9. a get accepted while closing never runs against a closed backend", async () => {
    const backend = new MapBackend();
    backend.readDelayMs = 10;
    const cache = new AsyncCache<string>({ remoteCache: backend });
    const inFlight = cache.get("k", { loader: () => "v" });
    const closing = cache.close();
    await assert.rejects(cache.get("other", { loader: () => "w" }), CacheClosedError);
    assert.equal(await inFlight, "v");
    await closing;
    assert.equal(backend.closes, 0);
  });

  test("11. promise-returning calls reject instead of throwing", async () => {
    const cache = new AsyncCache<number>();
    let thrown: unknown;
    let p: Promise<unknown> | undefined;
    try {
      p = cache.get(NaN);
    } catch (error) {
      thrown = error;
    }
    assert.equal(thrown, undefined);
    await assert.rejects(p!, TypeError);
    const memo = AsyncLRU()(async (f: unknown) => typeof f);
    try {
      p = memo(() => 1);
    } catch (error) {
      thrown = error;
    }
    assert.equal(thrown, undefined);
    await assert.rejects(p!, SerializationError);
    // Options are validated on hits too.
    await cache.set("n", 1);
    await assert.rejects(
      cache.get("n", { loader: 5 as unknown as () => number }),
      InvalidOptionError,
    );
    await assert.rejects(cache.get("n", { ttl: -1 }), InvalidOptionError);
    await cache.close();
  });
});

describe("issue 8: behaviour of the Python original", () => {
  test("13. maxsize 0 stores nothing, the loader and single-flight still work", async () => {
    const cache = new AsyncCache<number>({ maxsize: 0 });
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(1);
      return 7;
    };
    assert.deepEqual(
      await Promise.all([cache.get("k", { loader }), cache.get("k", { loader })]),
      [7, 7],
    );
    assert.equal(loads, 1);
    assert.equal(cache.getMetrics().size, 0);
    assert.equal(await cache.get("k", { loader }), 7);
    assert.equal(loads, 2);
    const memo = AsyncLRU({ maxsize: 0 })(async (x: number) => x);
    assert.equal(await memo(3), 3);
    await cache.close();
  });

  test("14. warmup keeps a key already cached unless forced", async () => {
    const cache = new AsyncCache<string>();
    await cache.set("k", "cached");
    let calls = 0;
    await cache.warmup({ k: () => (calls++, "fresh"), j: () => "j" });
    assert.equal(await cache.get("k"), "cached");
    assert.equal(await cache.get("j"), "j");
    assert.equal(calls, 0);
    await cache.warmup({ k: () => (calls++, "fresh") }, { force: true });
    assert.equal(await cache.get("k"), "fresh");
    assert.equal(calls, 1);
    await cache.close();
  });

  test("15. a key option memoises calls whose arguments are class instances", async () => {
    class Query {
      constructor(readonly table: string, readonly id: number) {}
    }
    let calls = 0;
    const run = AsyncLRU({ key: (q: Query) => `${q.table}/${q.id}` })(async (q: Query) => {
      calls++;
      return `${q.table}#${q.id}`;
    });
    assert.equal(await run(new Query("users", 1)), "users#1");
    assert.equal(await run(new Query("users", 1)), "users#1");
    assert.equal(calls, 1);
    assert.throws(
      () => AsyncLRU({ key: "nope" as unknown as () => string }),
      InvalidOptionError,
    );
  });

  test("16. size leaves out expired entries; an expired entry pushed out is an expiration", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<number>({ maxsize: 2, clock });
    await cache.set("a", 1, { ttl: 10 });
    await cache.set("b", 2, { ttl: 10 });
    clock.advance(20);
    assert.equal(cache.getMetrics().size, 0);
    await cache.set("c", 3);
    await cache.set("d", 4);
    await cache.set("e", 5);
    const m = cache.getMetrics();
    assert.equal(m.expirations, 2);
    assert.equal(m.evictions, 1);
    assert.equal(m.size, 2);
    await cache.close();
  });
});
