import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncLRU, AsyncTTL, InvalidOptionError, RemoteCacheBackend } from "../mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";

describe("AsyncLRU as a wrapper", () => {
  test("caches per canonical arguments and keeps the signature", async () => {
    const calls: unknown[] = [];
    const lookup = AsyncLRU({ maxsize: 10 })(async (id: number | string, opts?: object) => {
      calls.push([id, opts]);
      return `r${String(id)}`;
    });
    const r: string = await lookup(1);
    assert.equal(r, "r1");
    await lookup(1);
    await lookup("1"); // differs from 1
    await lookup(2, { a: 1, b: 2 });
    await lookup(2, { b: 2, a: 1 }); // same as above
    assert.equal(calls.length, 3);
    assert.equal(lookup.getMetrics().hits, 2);
  });

  test("evicts the least recently used result at maxsize", async () => {
    let calls = 0;
    const f = AsyncLRU({ maxsize: 2 })(async (n: number) => (calls++, n * 2));
    await f(1);
    await f(2);
    await f(1); // hit: 1 is most recent
    await f(3); // evicts 2
    assert.equal(calls, 3);
    await f(1);
    assert.equal(calls, 3);
    await f(2);
    assert.equal(calls, 4);
  });

  test("skipArgs leaves leading arguments out of the key", async () => {
    let calls = 0;
    const f = AsyncLRU({ skipArgs: 1 })(async (_db: { name: string }, id: number) => (calls++, id));
    await f({ name: "primary" }, 1);
    await f({ name: "replica" }, 1);
    assert.equal(calls, 1);
  });

  test("invalidateCache, clearCache and refresh", async () => {
    let version = 0;
    const f = AsyncLRU()(async (k: string) => `${k}${version}`);
    assert.equal(await f("a"), "a0");
    version = 1;
    assert.equal(await f("a"), "a0");
    assert.equal(await f.invalidateCache("a"), true);
    assert.equal(await f("a"), "a1");
    version = 2;
    assert.equal(await f.refresh("a"), "a2");
    assert.equal(await f("a"), "a2");
    await f.clearCache();
    assert.equal(f.getMetrics().size, 0);
    assert.equal(await f("a"), "a2");
    assert.equal(f.getMetrics().misses, 1);
  });

  test("concurrent calls with the same arguments run the function once", async () => {
    let calls = 0;
    const f = AsyncLRU()(async (id: number) => {
      calls++;
      await new Promise((r) => setTimeout(r, 1));
      return id;
    });
    await Promise.all(Array.from({ length: 50 }, () => f(9)));
    assert.equal(calls, 1);
  });

  test("a rejection is shared and not cached", async () => {
    let calls = 0;
    const f = AsyncLRU()(async (_id: number) => {
      calls++;
      if (calls === 1) throw new Error("first fails");
      return "ok";
    });
    await assert.rejects(f(1), /first fails/);
    assert.equal(await f(1), "ok");
  });

  test("bad options are named errors", () => {
    assert.throws(() => AsyncLRU({ maxsize: -3 }), InvalidOptionError);
    assert.throws(() => AsyncLRU({ skipArgs: -1 }), /skipArgs/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => AsyncTTL({} as any), /timeToLive/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => AsyncTTL({ timeToLive: "soon" } as any), /timeToLive/);
  });

  test("an anonymous function with a remoteCache needs a name", () => {
    class Nowhere extends RemoteCacheBackend {
      get() {
        return Promise.resolve(undefined);
      }
      set() {
        return Promise.resolve();
      }
      delete() {
        return Promise.resolve();
      }
      clear() {
        return Promise.resolve();
      }
      close() {
        return Promise.resolve();
      }
    }
    const remoteCache = new Nowhere();
    assert.throws(
      () => AsyncLRU({ remoteCache })(async (x: number) => x),
      (e: unknown) => e instanceof InvalidOptionError && /name/.test(e.message),
    );
    const named = AsyncLRU({ remoteCache, name: "double" })(async (x: number) => x * 2);
    assert.equal(typeof named, "function");
    async function declared(x: number) {
      return x;
    }
    assert.equal(typeof AsyncLRU({ remoteCache })(declared), "function");
  });
});

describe("AsyncTTL", () => {
  test("results expire after timeToLive", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const f = AsyncTTL({ timeToLive: "60s", clock })(async (id: string) => (calls++, id));
    await f("a");
    clock.advance(59_999);
    await f("a");
    assert.equal(calls, 1);
    clock.advance(1);
    await f("a");
    assert.equal(calls, 2);
  });

  test("as a standard method decorator: this is kept, the cache is shared", async () => {
    class Sessions {
      loads = 0;
      constructor(readonly prefix: string) {}
      @AsyncTTL({ timeToLive: "60s" })
      async get(id: string): Promise<string> {
        this.loads++;
        return `${this.prefix}${id}`;
      }
    }
    const s = new Sessions("sess:");
    assert.equal(await s.get("a"), "sess:a");
    assert.equal(await s.get("a"), "sess:a");
    assert.equal(s.loads, 1);
    const method = s.get as unknown as {
      refresh(id: string): Promise<string>;
      getMetrics(): { hits: number };
    };
    assert.equal(method.getMetrics().hits, 1);
    assert.equal(await method.refresh("a"), "sess:a");
    assert.equal(s.loads, 2, "refresh ran the method with this bound to the instance");
  });

  test("AsyncLRU also decorates methods", async () => {
    class Repo {
      calls = 0;
      @AsyncLRU({ maxsize: 4 })
      async find(id: number, filter: { active: boolean }): Promise<number> {
        this.calls++;
        return filter.active ? id : -id;
      }
    }
    const repo = new Repo();
    assert.equal(await repo.find(1, { active: true }), 1);
    assert.equal(await repo.find(1, { active: true }), 1);
    assert.equal(await repo.find(1, { active: false }), -1);
    assert.equal(repo.calls, 2);
  });
});
