/**
 * Every wait has the caller's bound (issue 15, items 13-16): a get that joins
 * a load in flight, a batch get, and a lease wait all end at the caller's own
 * `hardTimeout`; the batch loader gets `{ signal }`; `close()` ends batch and
 * lease waits at once. Time is a FakeClock (its timers drive the timeouts);
 * `tick()` (a 0 ms real timer) lets promises settle. The last block runs the
 * lease against a real redis-server.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, CacheClosedError, LoaderTimeoutError, RedisBackend } from "../mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { entryKey, RecordingLogger, sleep } from "./_helpers.ts";
import { MapBackend } from "./_map_backend.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

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

/** Whether `promise` settled (after letting it run one macrotask). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await tick();
  return done;
}

/** `promise`, or "hung" after `ms` real ms (so a regression fails instead of hanging). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), ms)));
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

const isTimeout = (key: string, ms: number) => (e: unknown) => {
  assert.ok(e instanceof LoaderTimeoutError, `expected a LoaderTimeoutError, got ${e}`);
  assert.equal(e.key, key);
  assert.equal(e.timeoutMs, ms);
  return true;
};

describe("a get that joins a load in flight (item 13)", () => {
  test("joiner hardTimeout: the joiner rejects at its own bound; the load goes on for the others", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock });
    const slow = deferred<string>();
    let calls = 0;
    const loader = () => (calls++, slow.promise);
    const first = cache.get("k", { loader });
    const joiner = cache.get("k", { loader, hardTimeout: 100 });
    await tick();
    clock.advance(99);
    assert.equal(await settled(joiner), false);
    clock.advance(1);
    assert.equal(await settled(joiner), true, "the joiner's own hardTimeout ended its wait");
    await assert.rejects(joiner, isTimeout("k", 100));
    assert.equal(await settled(first), false, "the starter has no bound: it still waits");
    slow.resolve("v");
    assert.equal(await first, "v");
    assert.equal(calls, 1);
    assert.equal(await cache.get("k"), "v", "the shared load was stored");
    assert.equal(clock.pendingTimers, 0);
    await cache.close();
  });

  test("joiner hardTimeout with a graced value: the joiner gets the stale value at its own bound", async () => {
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ clock, logger, defaultTtl: 1000, grace: "1m" });
    await cache.get("k", { loader: () => "old" });
    clock.advance(1500);
    const slow = deferred<string>();
    const first = cache.get("k", { loader: () => slow.promise });
    const joiner = cache.get("k", { loader: () => slow.promise, hardTimeout: 50 });
    await tick();
    clock.advance(50);
    assert.equal(await settled(joiner), true, "the joiner's own hardTimeout ended its wait");
    assert.equal(await joiner, "old");
    assert.equal(await settled(first), false);
    slow.resolve("new");
    assert.equal(await first, "new");
    await cache.close();
  });
});

describe("batchLoader: signal and hardTimeout (item 14)", () => {
  test("batch hardTimeout: each caller rejects at its bound and the batch loader's signal aborts", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, hardTimeout: 100, batchWindowMs: 0 });
    let seen: AbortSignal | undefined;
    let keysSeen: unknown[] = [];
    const batchLoader = (keys: string[], ctx?: { signal: AbortSignal }) => {
      keysSeen = keys;
      seen = ctx?.signal;
      return new Promise<string[]>(() => {}); // ignores the signal
    };
    const a = cache.get("a", { batchLoader });
    const b = cache.get("b", { batchLoader });
    await tick();
    assert.deepEqual(keysSeen, ["a", "b"]);
    assert.equal(seen?.aborted, false);
    clock.advance(100);
    assert.equal(
      await settled(Promise.allSettled([a, b])),
      true,
      "each get's hardTimeout ended its wait",
    );
    await assert.rejects(a, isTimeout("a", 100));
    await assert.rejects(b, isTimeout("b", 100));
    assert.equal(seen?.aborted, true);
    assert.ok(seen?.reason instanceof LoaderTimeoutError);
    const m = cache.getMetrics();
    assert.equal(m.timeouts, 2);
    assert.equal(m.loadErrors, 2);
    assert.equal(clock.pendingTimers, 0);
    await cache.close();
  });

  test("batch per-get hardTimeout: the get rejects at its bound; a late result is not stored", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, batchWindowMs: 0 });
    const late = deferred<Map<number, string>>();
    const batchLoader = (_keys: number[]) => late.promise;
    const answer = cache.get(7, { batchLoader, hardTimeout: 200 });
    await tick();
    clock.advance(200);
    assert.equal(await settled(answer), true, "the batch get's hardTimeout ended its wait");
    await assert.rejects(answer, isTimeout("7", 200));
    late.resolve(new Map([[7, "too late"]]));
    await tick();
    assert.equal(await cache.get(7), undefined);
    await cache.close();
  });

  test("batch close: a hung batch loader no longer holds close(); its callers get CacheClosedError", async () => {
    const cache = new AsyncCache<string>({ batchWindowMs: 0 });
    let seen: AbortSignal | undefined;
    const batchLoader = (_keys: string[], ctx?: { signal: AbortSignal }) => {
      seen = ctx?.signal;
      return new Promise<string[]>(() => {}); // hangs, ignoring the signal
    };
    const answer = cache.get("k", { batchLoader });
    await sleep(5);
    assert.notEqual(await within(cache.close(), 1000), "hung", "close() returned");
    await assert.rejects(answer, CacheClosedError);
    assert.equal(seen?.aborted, true);
  });
});

/** A MapBackend with leases that expire on a FakeClock. */
class LeasingBackend extends MapBackend {
  readonly leases = new Map<string, number>();
  constructor(readonly clock: FakeClock) {
    super();
  }
  override acquireLease(key: string, ttlMs: number): Promise<boolean> {
    const until = this.leases.get(key);
    if (until !== undefined && until > this.clock.now()) return Promise.resolve(false);
    this.leases.set(key, this.clock.now() + ttlMs);
    return Promise.resolve(true);
  }
  override releaseLease(key: string): Promise<void> {
    this.leases.delete(key);
    return Promise.resolve();
  }
}

describe("lease waits (items 15, 16)", () => {
  test("lease hardTimeout: a wait behind a stuck lease ends at the caller's hardTimeout, without loading", async () => {
    const clock = new FakeClock();
    const backend = new LeasingBackend(clock);
    backend.leases.set(entryKey("k"), clock.now() + 60_000); // stuck for a minute
    const cache = new AsyncCache<string>({
      clock,
      remoteCache: backend,
      lease: { ttl: "1m", wait: "3s", poll: 50 },
    });
    let calls = 0;
    const answer = cache.get("k", { loader: () => (calls++, "mine"), hardTimeout: 500 });
    const outcome = answer.then(() => "resolved", (e) => e);
    for (let t = 0; t < 10; t++) {
      await tick();
      clock.advance(50);
    }
    await tick();
    assert.equal(await settled(answer), true, "settled at 500 ms, not after the 3 s wait");
    isTimeout("k", 500)(await outcome);
    assert.equal(calls, 0);
    const m = cache.getMetrics();
    assert.equal(m.leaseWaits, 1);
    assert.equal(m.timeouts, 1);
    assert.equal(clock.pendingTimers, 0);
    await cache.close();
  });

  test("lease hardTimeout with a graced value: the wait ends with the stale value", async () => {
    const clock = new FakeClock();
    const backend = new LeasingBackend(clock);
    const cache = new AsyncCache<string>({
      clock,
      remoteCache: backend,
      logger: new RecordingLogger(),
      defaultTtl: 1000,
      grace: "1h",
      hardTimeout: 300,
      lease: { ttl: "1m", poll: 100 },
    });
    await cache.get("k", { loader: () => "old" });
    await tick(); // the lease of that load is released
    backend.data.clear();
    clock.advance(2000);
    backend.leases.set(entryKey("k"), clock.now() + 60_000);
    const answer = cache.get("k", { loader: () => "mine" });
    for (let t = 0; t < 3; t++) {
      await tick();
      clock.advance(100);
    }
    await tick();
    assert.equal(await settled(answer), true);
    assert.equal(await answer, "old");
    await cache.close();
  });

  test("lease hardTimeout covers the load after the wait: it gets what is left of the bound", async () => {
    const clock = new FakeClock();
    const backend = new LeasingBackend(clock);
    backend.leases.set(entryKey("k"), clock.now() + 300); // free again after 300 ms
    const cache = new AsyncCache<string>({
      clock,
      remoteCache: backend,
      hardTimeout: 500,
      lease: { ttl: "1m", poll: 100 },
    });
    let signal: AbortSignal | undefined;
    const answer = cache.get("k", {
      loader: (ctx) => {
        signal = ctx.signal;
        return new Promise<string>(() => {});
      },
    });
    const outcome = answer.then(() => "resolved", (e) => e);
    for (let t = 0; t < 5; t++) {
      await tick();
      clock.advance(100);
    }
    await tick();
    assert.ok(signal !== undefined, "the waiter took the free lease and loaded");
    assert.equal(
      await settled(answer),
      true,
      "settled 500 ms after the get, not 500 ms after the load",
    );
    isTimeout("k", 200)(await outcome);
    assert.equal(signal.aborted, true);
    await cache.close();
  });

  test("lease close: close() ends a lease wait at once and does not run the loader", async () => {
    const clock = new FakeClock();
    const backend = new LeasingBackend(clock);
    backend.leases.set(entryKey("k"), clock.now() + 60_000);
    const cache = new AsyncCache<string>({
      clock,
      remoteCache: backend,
      lease: { ttl: "1m", wait: "10s", poll: 50 },
    });
    let calls = 0;
    const answer = cache.get("k", { loader: () => (calls++, "mine") });
    const outcome = answer.then(() => "resolved", (e) => e);
    await tick();
    clock.advance(50);
    await tick();
    assert.equal(cache.getMetrics().leaseWaits, 1);
    assert.notEqual(
      await within(cache.close(), 1000),
      "hung",
      "close() did not wait for the lease",
    );
    assert.ok((await outcome) instanceof CacheClosedError);
    assert.equal(calls, 0, "the loader never ran");
    assert.equal(clock.pendingTimers, 0);
  });
});

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("lease waits against redis-server (items 15, 16)", { skip }, () => {
  let server: RedisServer;
  const backends: RedisBackend[] = [];
  const open = (prefix: string, options: { hardTimeout?: number } = {}) => {
    const redis = new RedisBackend({ host: "127.0.0.1", port: server.port, prefix });
    backends.push(redis);
    return new AsyncCache<string>({
      remoteCache: redis,
      defaultTtl: "1m",
      lease: { ttl: "10s", wait: "3s", poll: 20 },
      ...options,
    });
  };
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const b of backends) await b.close();
    await server?.stop();
  });

  test("redis lease: behind a stuck holder, hardTimeout 500 ms ends the wait; close() ends another at once", async () => {
    const holder = open("tmo1:");
    const hung = deferred<string>();
    let holding = false;
    const held = holder.get("k", { loader: () => ((holding = true), hung.promise) });
    while (!holding) await tick();

    const bounded = open("tmo1:");
    let calls = 0;
    const started = Date.now();
    await assert.rejects(
      bounded.get("k", { loader: () => (calls++, "mine"), hardTimeout: 500 }),
      isTimeout("k", 500),
    );
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 1500, `settled after ${took} ms`);
    assert.equal(calls, 0);
    await bounded.close();

    const closing = open("tmo1:");
    const waiting = closing.get("k", { loader: () => (calls++, "mine") });
    const outcome = waiting.then(() => "resolved", (e) => e);
    await sleep(50);
    assert.equal(closing.getMetrics().leaseWaits, 1);
    const t0 = Date.now();
    await closing.close();
    assert.ok(Date.now() - t0 < 500, `close() took ${Date.now() - t0} ms`);
    assert.ok((await outcome) instanceof CacheClosedError);
    assert.equal(calls, 0);

    hung.resolve("late");
    assert.equal(await held, "late");
    await sleep(50); // its lease release (after the write) reaches Redis before the backends close
    await holder.close();
  });
});
