import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { entryKey, RecordingLogger, sleep, storedValue, waitFor } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
const SOCKET_TIMEOUT = 200;

describe("Redis outages: every get resolves, nothing unhandled, L2 comes back", { skip }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server?.stop();
  });

  const setup = () => {
    const cacheLog = new RecordingLogger();
    const redisLog = new RecordingLogger();
    const backend = new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      socketTimeout: SOCKET_TIMEOUT,
      connectTimeout: SOCKET_TIMEOUT,
      logger: redisLog,
    });
    const cache = new AsyncCache<string>({ remoteCache: backend, logger: cacheLog, maxsize: 50 });
    const probe = new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      logger: new RecordingLogger(),
    });
    return { cache, backend, cacheLog, redisLog, probe };
  };

  /** Gets `n` keys (more than L1 holds, so L2 and loaders keep being used), timing each. */
  async function round(cache: AsyncCache<string>, tag: string, n = 80): Promise<number> {
    let slowest = 0;
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const started = Date.now();
      const value = await cache.get(`key${i}`, { loader: () => `value${i}` });
      slowest = Math.max(slowest, Date.now() - started);
      assert.equal(value, `value${i}`, `${tag}: wrong value for key${i}`);
    }));
    return slowest;
  }

  /** True once a fresh write through the cache reaches Redis. */
  async function l2InUse(cache: AsyncCache<string>, probe: RedisBackend): Promise<boolean> {
    const key = `probe${Math.random()}`;
    await cache.set(key, "x");
    await cache.flush();
    try {
      return storedValue(await probe.get(entryKey(key))) === "x";
    } catch {
      return false;
    }
  }

  test("killed, then restarted on the same port", async () => {
    const { cache, backend, cacheLog, probe } = setup();
    try {
      await round(cache, "before");
      assert.ok(await l2InUse(cache, probe));
      await server.kill();
      for (let i = 0; i < 5; i++) {
        const slowest = await round(cache, `down ${i}`);
        assert.ok(slowest < SOCKET_TIMEOUT + 500, `a get took ${slowest} ms while Redis was down`);
      }
      assert.ok(cache.getMetrics().l2Errors > 0);
      const outageLogs = cacheLog.warnings.filter((w) => w.includes("serving from L1"));
      assert.equal(outageLogs.length, 1, cacheLog.warnings.join("\n"));
      await server.restart();
      await waitFor(async () => {
        await round(cache, "recovering");
        return await l2InUse(cache, probe);
      }, 10_000);
      assert.equal(cache.getMetrics().breaker, "closed");
      assert.ok(cacheLog.warnings.some((w) => w.includes("reachable again")));
    } finally {
      await cache.close();
      await backend.close();
      await probe.close();
    }
  });

  test("paused (SIGSTOP): calls cost at most socketTimeout, then nothing once the breaker opens", async () => {
    const { cache, backend, probe } = setup();
    try {
      await round(cache, "before");
      server.pause();
      try {
        const first = await round(cache, "paused 0");
        assert.ok(first < SOCKET_TIMEOUT * 3 + 500, `first round took ${first} ms`);
        await round(cache, "paused 1");
        await round(cache, "paused 2");
        assert.equal(cache.getMetrics().breaker === "closed", false, "breaker still closed");
        const started = Date.now();
        await round(cache, "paused, breaker open");
        assert.ok(Date.now() - started < SOCKET_TIMEOUT, "gets waited on a silent Redis");
      } finally {
        server.resume();
      }
      await waitFor(async () => {
        await round(cache, "resumed");
        return await l2InUse(cache, probe);
      }, 10_000);
    } finally {
      await cache.close();
      await backend.close();
      await probe.close();
    }
  });

  test("close() while Redis is paused with megabytes unsent returns in bounded time", async () => {
    const { cache, backend, probe } = setup();
    await round(cache, "before");
    server.pause();
    try {
      const big = "x".repeat(32 * 1024 * 1024); // more than the socket buffers hold
      await cache.set("big", big);
      const started = Date.now();
      await cache.close();
      await backend.close();
      assert.ok(Date.now() - started < 5_000, `close() took ${Date.now() - started} ms`);
    } finally {
      server.resume();
      await probe.close();
    }
  });

  test("Redis down from the start: the cache still serves", async () => {
    await server.kill();
    const { cache, backend, probe } = setup();
    try {
      await round(cache, "never up");
      await sleep(10);
      await round(cache, "never up again");
      assert.equal(cache.getMetrics().loads >= 80, true);
    } finally {
      await cache.close();
      await backend.close();
      await probe.close();
      await server.restart();
    }
  });
});
