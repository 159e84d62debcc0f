/**
 * Serving through trouble (issue 11): stale-while-revalidate, grace,
 * soft/hard timeouts with { signal }, refreshAhead, ttl from the value,
 * noCache, events and counters, on AsyncCache, the decorators and
 * AgentCache. Time is a FakeClock (its timers drive the timeouts); only
 * `tick()` (a 0 ms real timer) lets promises settle.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AsyncCache,
  AsyncLRU,
  AsyncTTL,
  type CacheEvents,
  InvalidOptionError,
  LoaderTimeoutError,
  noCache,
} from "../mod.ts";
import { AgentCache } from "../src/agent/mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { entryKey, RecordingLogger } from "./_helpers.ts";
import { MapBackend } from "./_map_backend.ts";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("stale-while-revalidate", () => {
  test("past its TTL an entry is answered at once while one background load refreshes it", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, staleWhileRevalidate: 500 });
    let calls = 0;
    const next = deferred<string>();
    const loader = () => (++calls === 1 ? "v1" : next.promise);
    assert.equal(await cache.get("k", { loader }), "v1");
    clock.advance(1200);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => cache.get("k", { loader })),
    );
    assert.deepEqual(answers, new Array(10).fill("v1"));
    assert.equal(calls, 2, "one background load for ten stale reads");
    next.resolve("v2");
    await tick();
    assert.equal(await cache.get("k", { loader }), "v2");
    const m = cache.getMetrics();
    assert.equal(m.stale, 10);
    assert.equal(m.refreshes, 1);
    assert.equal(m.loads, 2);
    await cache.close();
  });

  test("past TTL + staleWhileRevalidate the read waits for the load", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, staleWhileRevalidate: 500 });
    let calls = 0;
    const loader = () => `v${++calls}`;
    await cache.get("k", { loader });
    clock.advance(1500);
    assert.equal(await cache.get("k", { loader }), "v2");
    assert.equal(cache.getMetrics().stale, 0);
    await cache.close();
  });

  test("a stale read without a way to reload is a miss; a plain get never sees stale entries", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, staleWhileRevalidate: "1s" });
    await cache.set("k", "v");
    clock.advance(1001);
    assert.equal(await cache.get("k"), undefined);
    assert.equal(cache.getMetrics().stale, 0);
    await cache.close();
  });

  test("a failed background refresh is logged and emitted, never thrown; the next read retries", async () => {
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({
      clock,
      logger,
      defaultTtl: 1000,
      staleWhileRevalidate: 5000,
    });
    const errors: CacheEvents["error"][] = [];
    cache.on("error", (e) => errors.push(e));
    let calls = 0;
    const loader = () => {
      if (++calls === 1) return "v1";
      throw new Error("db down");
    };
    await cache.get("k", { loader });
    clock.advance(2000);
    assert.equal(await cache.get("k", { loader }), "v1");
    await tick();
    assert.equal(errors.length, 1);
    assert.equal(errors[0].op, "refresh");
    assert.equal(errors[0].served, "stale");
    assert.match(logger.warnings[0], /refreshing key "k" failed/);
    assert.equal(await cache.get("k", { loader }), "v1");
    await tick();
    assert.equal(calls, 3);
    assert.equal(cache.getMetrics().loadErrors, 2);
    await cache.close();
  });

  test("per-get staleWhileRevalidate overrides the cache's", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000 });
    let calls = 0;
    const loader = () => `v${++calls}`;
    await cache.get("k", { loader, staleWhileRevalidate: 500 });
    clock.advance(1100);
    assert.equal(await cache.get("k", { loader, staleWhileRevalidate: 500 }), "v1");
    await tick();
    assert.equal(await cache.get("k", { loader }), "v2");
    await cache.close();
  });
});

describe("grace", () => {
  test("a failing loader is answered with the graced value, counted, logged and emitted", async () => {
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ clock, logger, defaultTtl: 1000, grace: "1m" });
    const stale: CacheEvents["stale"][] = [];
    const errors: CacheEvents["error"][] = [];
    cache.on("stale", (e) => stale.push(e));
    cache.on("error", (e) => errors.push(e));
    await cache.get("k", { loader: () => "good" });
    clock.advance(30_000);
    const failing = () => Promise.reject(new Error("source down"));
    const answers = await Promise.all([
      cache.get("k", { loader: failing }),
      cache.get("k", { loader: failing }),
    ]);
    assert.deepEqual(answers, ["good", "good"]);
    assert.equal(stale.length, 2);
    assert.equal(stale[0].reason, "grace");
    assert.equal(stale[0].ageMs, 29_000);
    assert.equal(errors[0].served, "stale");
    assert.equal(logger.warnings.length, 1, "one failure, logged once");
    const m = cache.getMetrics();
    assert.equal(m.stale, 2);
    assert.equal(m.loadErrors, 1);
    await cache.close();
  });

  test("past the grace period the failure reaches the caller", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, grace: 1000 });
    await cache.get("k", { loader: () => "good" });
    clock.advance(2001);
    await assert.rejects(
      cache.get("k", { loader: () => Promise.reject(new Error("down")) }),
      /down/,
    );
    await cache.close();
  });

  test("a successful load replaces the graced value", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, grace: 10_000 });
    await cache.get("k", { loader: () => "old" });
    clock.advance(5000);
    assert.equal(await cache.get("k", { loader: () => "new" }), "new");
    assert.equal(await cache.get("k"), "new");
    await cache.close();
  });
});

describe("timeouts", () => {
  test("softTimeout: a caller with a graced value gets it; the load goes on and refreshes the entry", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({
      clock,
      defaultTtl: 1000,
      grace: "10s",
      softTimeout: 100,
    });
    const timeouts: CacheEvents["timeout"][] = [];
    cache.on("timeout", (e) => timeouts.push(e));
    await cache.get("k", { loader: () => "old" });
    clock.advance(2000);
    const slow = deferred<string>();
    const answer = cache.get("k", { loader: () => slow.promise });
    await tick();
    clock.advance(100);
    assert.equal(await answer, "old");
    assert.deepEqual(timeouts, [{ key: "k", kind: "soft", timeoutMs: 100 }]);
    slow.resolve("new");
    await tick();
    assert.equal(await cache.get("k"), "new");
    assert.equal(cache.getMetrics().softTimeouts, 1);
    assert.equal(clock.pendingTimers, 0);
    await cache.close();
  });

  test("softTimeout without a graced value: the caller waits for the load", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, softTimeout: 100, grace: 1000 });
    const slow = deferred<string>();
    const answer = cache.get("k", { loader: () => slow.promise });
    await tick();
    clock.advance(500);
    slow.resolve("v");
    assert.equal(await answer, "v");
    await cache.close();
  });

  test("hardTimeout: callers get LoaderTimeoutError and the loader's signal aborts", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, hardTimeout: "2s" });
    let seen: AbortSignal | undefined;
    const loader = ({ signal }: { signal: AbortSignal }) => {
      seen = signal;
      return new Promise<string>(() => {}); // ignores the signal: the cache gives up anyway
    };
    const a = cache.get("k", { loader });
    const b = cache.get("k", { loader });
    await tick();
    clock.advance(1999);
    await tick();
    assert.equal(seen?.aborted, false);
    clock.advance(1);
    for (const p of [a, b]) {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof LoaderTimeoutError);
        assert.equal(e.name, "LoaderTimeoutError");
        assert.equal(e.key, "k");
        assert.equal(e.timeoutMs, 2000);
        return true;
      });
    }
    assert.equal(seen?.aborted, true);
    assert.ok(seen?.reason instanceof LoaderTimeoutError);
    const m = cache.getMetrics();
    assert.equal(m.timeouts, 1);
    assert.equal(m.loadErrors, 1);
    assert.equal(m.size, 0);
    await cache.close();
  });

  test("hardTimeout with a graced value: the caller gets the value, not the error", async () => {
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({
      clock,
      logger,
      defaultTtl: 1000,
      grace: "1m",
      hardTimeout: 50,
    });
    await cache.get("k", { loader: () => "old" });
    clock.advance(1500);
    const answer = cache.get("k", { loader: () => new Promise<string>(() => {}) });
    await tick();
    clock.advance(50);
    assert.equal(await answer, "old");
    assert.equal(cache.getMetrics().timeouts, 1);
    assert.match(logger.warnings[0], /LoaderTimeoutError|failed/);
    await cache.close();
  });

  test("a load that settles in time clears its timers; a value after the hard timeout is not stored", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, hardTimeout: 100 });
    assert.equal(await cache.get("a", { loader: () => "fast" }), "fast");
    assert.equal(clock.pendingTimers, 0);
    const late = deferred<string>();
    const answer = cache.get("b", { loader: () => late.promise });
    await tick();
    clock.advance(100);
    await assert.rejects(answer, LoaderTimeoutError);
    late.resolve("too late");
    await tick();
    assert.equal(await cache.get("b"), undefined);
    await cache.close();
  });

  test("close() aborts the signal of loads in flight; loaders without an argument keep working", async () => {
    const cache = new AsyncCache<string>();
    assert.equal(await cache.get("plain", { loader: () => "ok" }), "ok");
    let signal: AbortSignal | undefined;
    const answer = cache.get("k", {
      loader: (ctx) =>
        new Promise<string>((_, reject) => {
          signal = ctx.signal;
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }),
    });
    await tick();
    const closing = cache.close();
    await assert.rejects(answer, { name: "CacheClosedError" });
    await closing;
    assert.equal(signal?.aborted, true);
  });

  test("softTimeout must be shorter than hardTimeout; durations are validated", () => {
    assert.throws(
      () => new AsyncCache({ softTimeout: "2s", hardTimeout: "1s" }),
      (e: unknown) => e instanceof InvalidOptionError && e.option === "softTimeout",
    );
    assert.throws(() => new AsyncCache({ grace: "forever" as "1s" }), InvalidOptionError);
    assert.throws(() => new AsyncCache({ hardTimeout: -1 }), InvalidOptionError);
    assert.throws(() => new AsyncCache({ refreshAhead: 1 }), InvalidOptionError);
    assert.throws(() => new AsyncCache({ refreshAhead: 0 }), InvalidOptionError);
    assert.throws(() => new AsyncCache({ lease: { ttl: "1s" } }), InvalidOptionError);
  });
});

describe("refreshAhead", () => {
  test("a hit past the fraction of the TTL starts one background refresh", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, refreshAhead: 0.8 });
    let calls = 0;
    const loader = () => `v${++calls}`;
    await cache.get("k", { loader });
    clock.advance(799);
    assert.equal(await cache.get("k", { loader }), "v1");
    await tick();
    assert.equal(calls, 1);
    clock.advance(1);
    assert.deepEqual(
      await Promise.all([cache.get("k", { loader }), cache.get("k", { loader })]),
      ["v1", "v1"],
    );
    await tick();
    assert.equal(calls, 2, "one refresh");
    clock.advance(900); // past the first TTL: the refreshed entry is live
    assert.equal(await cache.get("k"), "v2");
    const m = cache.getMetrics();
    assert.equal(m.refreshes, 1);
    assert.equal(m.misses, 1, "a refresh is not a miss");
    await cache.close();
  });

  test("an L2 copy that outlives the L1 one is a refresh; the same copy is not", async () => {
    const clock = new FakeClock();
    const backend = new MapBackend();
    const cache = new AsyncCache<string>({
      clock,
      defaultTtl: 1000,
      refreshAhead: 0.5,
      remoteCache: backend,
    });
    let calls = 0;
    const loader = () => `v${++calls}`;
    await cache.get("k", { loader });
    clock.advance(600);
    // Due: the L2 copy is the one L1 holds (its expiry travels inside it), so the loader runs.
    await cache.get("k", { loader });
    await tick();
    await tick();
    assert.equal(calls, 2);
    assert.equal(cache.getMetrics().refreshes, 1);
    await cache.close();
  });

  test("a get without a loader never refreshes", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: 1000, refreshAhead: 0.5 });
    await cache.set("k", "v");
    clock.advance(900);
    assert.equal(await cache.get("k"), "v");
    await tick();
    assert.equal(cache.getMetrics().refreshes, 0);
    await cache.close();
  });
});

describe("ttl from the value, and noCache", () => {
  test("ttl as a function of the loaded value; 0 means do not cache; undefined means defaultTtl", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<{ maxAge?: number }>({ clock, defaultTtl: 10_000 });
    const ttl = (v: { maxAge?: number }) => v.maxAge;
    await cache.get("a", { loader: () => ({ maxAge: 100 }), ttl });
    await cache.get("b", { loader: () => ({ maxAge: 0 }), ttl });
    await cache.get("c", { loader: () => ({}), ttl });
    clock.advance(100);
    assert.equal(await cache.get("a"), undefined);
    assert.equal(await cache.get("b"), undefined);
    assert.deepEqual(await cache.get("c"), {});
    assert.equal(cache.getMetrics().uncached, 1);
    await cache.close();
  });

  test("a ttl function may return a duration string; a bad result rejects the load", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock });
    await cache.get("a", { loader: () => "v", ttl: () => "2s" });
    clock.advance(1999);
    assert.equal(await cache.get("a"), "v");
    clock.advance(1);
    assert.equal(await cache.get("a"), undefined);
    await assert.rejects(
      cache.get("b", { loader: () => "v", ttl: () => "soon" as "1s" }),
      InvalidOptionError,
    );
    await cache.close();
  });

  test("noCache(value) answers every waiter and stores nothing, in either tier", async () => {
    const backend = new MapBackend();
    const cache = new AsyncCache<string>({ remoteCache: backend });
    let calls = 0;
    const loader = async () => {
      calls++;
      await tick();
      return noCache("partial");
    };
    const answers = await Promise.all([cache.get("k", { loader }), cache.get("k", { loader })]);
    assert.deepEqual(answers, ["partial", "partial"]);
    await cache.flush();
    assert.equal(backend.data.size, 0);
    assert.equal(await cache.get("k", { loader }), "partial");
    assert.equal(calls, 2);
    assert.equal(cache.getMetrics().uncached, 2);
    await cache.close();
  });

  test("noCache in a batchLoader's result and in refresh()", async () => {
    const cache = new AsyncCache<string>({ batchWindowMs: 0 });
    const batchLoader = (keys: string[]) => keys.map((k) => k === "a" ? noCache("A") : k);
    const [a, b] = await Promise.all([
      cache.get("a", { batchLoader }),
      cache.get("b", { batchLoader }),
    ]);
    assert.equal(a, "A");
    assert.equal(b, "b");
    assert.equal(await cache.get("a"), undefined);
    assert.equal(await cache.refresh("r", { loader: () => noCache("R") }), "R");
    assert.equal(await cache.get("r"), undefined);
    await cache.close();
  });
});

describe("events", () => {
  test("hit (l1, l2), miss, load, invalidate; unsubscribe; no listener, no payload", async () => {
    const clock = new FakeClock();
    const backend = new MapBackend();
    const cache = new AsyncCache<string>({ clock, remoteCache: backend });
    const seen: string[] = [];
    const offHit = cache.on("hit", (e) => seen.push(`hit ${e.key} ${e.tier}`));
    cache.on("miss", (e) => seen.push(`miss ${e.key}`));
    cache.on("load", (e) => seen.push(`load ${e.key} ok=${e.ok} cached=${e.cached}`));
    cache.on("invalidate", (e) => seen.push(`invalidate ${e.key ?? "*"} ${e.reason}`));
    await cache.get("a", { loader: () => "A" });
    await cache.get("a");
    await cache.get("a", { loader: () => "x" });
    await backend.set(entryKey("b"), "B");
    await cache.get("b");
    await cache.delete("a");
    await cache.clear();
    offHit();
    await cache.get("z", { loader: () => "Z" });
    await cache.get("z");
    assert.deepEqual(seen, [
      "miss a",
      "load a ok=true cached=true",
      "hit a l1",
      "hit a l1",
      "hit b l2",
      "invalidate a delete",
      "invalidate * clear",
      "miss z",
      "load z ok=true cached=true",
    ]);
    assert.equal(cache.getMetrics().l1Hits, 1, "hits still count after unsubscribing");
    await cache.close();
  });

  test("a listener that throws is logged and does not break the read", async () => {
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ logger });
    cache.on("miss", () => {
      throw new Error("bad listener");
    });
    assert.equal(await cache.get("k", { loader: () => "v" }), "v");
    assert.match(logger.errors[0], /"miss" listener threw/);
    assert.throws(() => cache.on("nope" as "hit", () => {}), TypeError);
    await cache.close();
  });

  test("breaker: open when L2 fails, closed when it answers again", async () => {
    const clock = new FakeClock();
    const backend = new MapBackend();
    let down = true;
    backend.getManyWithTtl = (keys) =>
      down ? Promise.reject(new Error("ECONNREFUSED")) : Promise.resolve(keys.map(() => undefined));
    const cache = new AsyncCache<string>({
      clock,
      remoteCache: backend,
      logger: new RecordingLogger(),
    });
    const states: string[] = [];
    cache.on("breaker", (e) => states.push(`${e.previous}->${e.state}`));
    for (let i = 0; i < 3; i++) await cache.get(`k${i}`);
    assert.deepEqual(states, ["closed->open"]);
    clock.advance(5000);
    down = false;
    await cache.get("again");
    assert.deepEqual(states, ["closed->open", "half-open->closed"]);
    await cache.close();
  });

  test("load events carry the duration; timeout events the kind", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, hardTimeout: 300 });
    const loads: CacheEvents["load"][] = [];
    cache.on("load", (e) => loads.push(e));
    const slow = deferred<string>();
    const answer = cache.get("k", { loader: () => slow.promise });
    await tick();
    clock.advance(120);
    slow.resolve("v");
    await answer;
    assert.deepEqual(loads, [{ key: "k", durationMs: 120, ok: true, cached: true }]);
    await cache.close();
  });
});

describe("decorators and AgentCache take the same options", () => {
  test("AsyncTTL with staleWhileRevalidate answers stale and refreshes in the background", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const price = AsyncTTL({ timeToLive: 1000, staleWhileRevalidate: 1000, clock })(
      async (id: number) => `${id}@${++calls}`,
    );
    assert.equal(await price(1), "1@1");
    clock.advance(1500);
    assert.equal(await price(1), "1@1");
    await tick();
    assert.equal(await price(1), "1@2");
    assert.equal(price.getMetrics().stale, 1);
    await price.cache.close();
  });

  test("AsyncTTL timeToLive as a function, and noCache from the memoized function", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const fetchPage = AsyncTTL({
      timeToLive: (page: { maxAge: number }) => page.maxAge,
      clock,
    })(async (url: string) => {
      calls++;
      if (url === "/error") return noCache({ maxAge: 0, body: "error" });
      return { maxAge: 500, body: url };
    });
    assert.equal((await fetchPage("/a")).body, "/a");
    await fetchPage("/a");
    assert.equal(calls, 1);
    clock.advance(500);
    await fetchPage("/a");
    assert.equal(calls, 2);
    assert.equal((await fetchPage("/error")).body, "error");
    await fetchPage("/error");
    assert.equal(calls, 4);
    await fetchPage.cache.close();
  });

  test("AsyncLRU: refreshAhead and hit events go through the cache; hardTimeout applies", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const fn = AsyncLRU({ clock, refreshAhead: 0.5, hardTimeout: 100 })(async (n: number) => {
      calls++;
      if (n < 0) return await new Promise<number>(() => {});
      return n * 10;
    });
    const hits: string[] = [];
    const off = fn.on("hit", (e) => hits.push(e.key));
    await fn(1);
    await fn(1);
    assert.equal(hits.length, 1);
    off();
    await fn(1);
    assert.equal(hits.length, 1);
    const timedOut = fn(-1);
    await tick();
    clock.advance(100);
    await assert.rejects(timedOut, LoaderTimeoutError);
    await fn.cache.close();
  });

  test("AsyncTTL with refreshAhead refreshes a hot key from a decorated method", async () => {
    const clock = new FakeClock();
    class Rates {
      calls = 0;
      @AsyncTTL({ timeToLive: 1000, refreshAhead: 0.5, clock, name: "Rates.get" })
      async get(pair: string) {
        this.calls++;
        return `${pair}#${this.calls}`;
      }
    }
    const rates = new Rates();
    assert.equal(await rates.get("EURUSD"), "EURUSD#1");
    clock.advance(600);
    assert.equal(await rates.get("EURUSD"), "EURUSD#1");
    await tick();
    assert.equal(rates.calls, 2);
    assert.equal(await rates.get("EURUSD"), "EURUSD#2");
  });

  test("AgentCache: a cached tool takes grace and events; a mutating tool refuses serving options", async () => {
    const clock = new FakeClock();
    let down = false;
    const weather = AgentCache({
      resource: "weather-serving",
      ttl: 1000,
      grace: "1h",
      clock,
      logger: new RecordingLogger(),
    })(async function forecast(city: string) {
      if (down) throw new Error("API down");
      return `sunny in ${city}`;
    });
    const stale: string[] = [];
    weather.on("stale", (e) => stale.push(e.reason));
    assert.equal(await weather("Paris"), "sunny in Paris");
    clock.advance(5000);
    down = true;
    assert.equal(await weather("Paris"), "sunny in Paris");
    assert.deepEqual(stale, ["grace"]);
    await weather.close();
    assert.throws(
      () => AgentCache({ invalidates: ["weather-serving"], grace: "1h" }),
      (e: unknown) => e instanceof InvalidOptionError && e.option === "grace",
    );
    assert.throws(
      () => AgentCache({ resource: "r", ttl: 1000, lease: { ttl: "1s" } }),
      (e: unknown) => e instanceof InvalidOptionError && e.option === "lease",
    );
  });
});
