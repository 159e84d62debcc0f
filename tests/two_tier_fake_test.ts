/**
 * AsyncCache + RedisBackend over a scripted FakeRedis: the failures a real
 * server will not produce on demand (half replies, resets, garbage, silence).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, encodeValue, RedisBackend } from "../mod.ts";
import { entryKey, RecordingLogger } from "./_helpers.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { FakeRedis, NO_REPLY } from "../src/testing/fake_redis.ts";

function setup(options: { socketTimeout?: number; password?: string; clock?: FakeClock } = {}) {
  const fake = new FakeRedis();
  const redisLog = new RecordingLogger();
  const cacheLog = new RecordingLogger();
  const backend = new RedisBackend({
    transport: fake.connect,
    socketTimeout: options.socketTimeout ?? 100,
    connectTimeout: 100,
    password: options.password,
    logger: redisLog,
  });
  const cache = new AsyncCache<string>({
    remoteCache: backend,
    logger: cacheLog,
    clock: options.clock,
  });
  const teardown = async () => {
    await cache.close();
    await backend.close();
    await fake.close();
  };
  return { fake, backend, cache, redisLog, cacheLog, teardown };
}

describe("two tiers over a scripted Redis", () => {
  test("an L2 hit is decoded from the fake's bytes", async () => {
    const { fake, cache, teardown } = setup();
    try {
      fake.set("ac:" + entryKey("k"), encodeValue("from-l2"), 30_000);
      assert.equal(await cache.get("k", { loader: () => "loader" }), "from-l2");
      assert.equal(cache.getMetrics().l2Hits, 1);
      assert.ok(fake.commands.some((c) => c[0] === "MGET"));
      assert.ok(fake.commands.some((c) => c[0] === "PTTL"));
    } finally {
      await teardown();
    }
  });

  test("half a reply then a reset: the get resolves from the loader", async () => {
    const { fake, cache, teardown } = setup();
    try {
      fake.onCommand((args, cmd) => {
        if (args[0] !== "MGET") return undefined;
        cmd.conn.send("*1\r\n$10\r\nhal");
        queueMicrotask(() => cmd.conn.reset());
        return NO_REPLY;
      });
      assert.equal(await cache.get("k", { loader: () => "loaded" }), "loaded");
      assert.ok(cache.getMetrics().l2Errors >= 1); // the read, and the write-back while reconnecting
    } finally {
      await teardown();
    }
  });

  test("garbage bytes: the get resolves from the loader, the next one reconnects", async () => {
    const clock = new FakeClock();
    const { fake, cache, teardown } = setup({ clock });
    try {
      let garbage = true;
      fake.onCommand((args) => {
        if (args[0] === "MGET" && garbage) {
          garbage = false;
          return "\x00\xffnot resp\r\n";
        }
        return undefined;
      });
      assert.equal(await cache.get("a", { loader: () => "A" }), "A");
      assert.ok(cache.getMetrics().l2Errors >= 1); // the read, and the write-back while reconnecting
      await cache.flush(); // the write of "A" may fail while reconnecting: logged, not thrown
      // The client reconnects after a short backoff; the failures may have opened
      // the breaker, so let its cool-down pass on the fake clock.
      let got: string | undefined;
      for (let i = 0; i < 50 && got !== "B-remote"; i++) {
        fake.set("ac:" + entryKey(`b${i}`), encodeValue("B-remote"));
        got = await cache.get(`b${i}`, { loader: () => "B-loader" });
        if (got !== "B-remote") {
          clock.advance(1_000);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.equal(got, "B-remote");
      assert.ok(fake.connections.length >= 2, "reconnected");
    } finally {
      await teardown();
    }
  });

  test("a silent server costs socketTimeout a few times, then the breaker opens", async () => {
    const clock = new FakeClock();
    const { fake, cache, cacheLog, teardown } = setup({ socketTimeout: 50, clock });
    try {
      let silent = true;
      fake.onCommand((args) => (silent && args[0] !== "HELLO" ? NO_REPLY : undefined));
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        assert.equal(await cache.get(`k${i}`, { loader: () => `v${i}` }), `v${i}`);
        assert.ok(Date.now() - started < 1_000, "bounded by socketTimeout");
      }
      assert.equal(cache.getMetrics().breaker, "open");
      const sent = fake.commands.length;
      const started = Date.now();
      for (let i = 0; i < 20; i++) await cache.get(`x${i}`, { loader: () => "x" });
      assert.ok(Date.now() - started < 50, "the open breaker skips Redis");
      assert.equal(fake.commands.length, sent, "no command reached the server");
      assert.equal(cacheLog.warnings.filter((w) => w.includes("serving from L1")).length, 1);

      // After the cool-down one probe goes through; when it succeeds, L2 is back.
      silent = false;
      clock.advance(1_000);
      assert.equal(cache.getMetrics().breaker, "half-open");
      let closed = false;
      for (let i = 0; i < 50 && !closed; i++) {
        await cache.get(`probe${i}`, { loader: () => "p" });
        closed = cache.getMetrics().breaker === "closed";
        if (!closed) {
          clock.advance(5_000);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.ok(closed, "breaker closed again");
      assert.ok(cacheLog.warnings.some((w) => w.includes("reachable again")));
    } finally {
      await teardown();
    }
  });

  test("a corrupt entry is a logged miss and the loader runs", async () => {
    const { fake, cache, redisLog, teardown } = setup();
    try {
      fake.set("ac:" + entryKey("k"), '{"json":"from another library"}');
      assert.equal(await cache.get("k", { loader: () => "fresh" }), "fresh");
      assert.ok(redisLog.warnings.some((w) => w.includes("not a valid async-cache entry")));
      await cache.flush();
      const other = new RedisBackend({ transport: fake.connect, logger: redisLog });
      const reader = new AsyncCache<string>({ remoteCache: other });
      assert.equal(await reader.get("k"), "fresh", "the loaded value replaced the corrupt entry");
      await reader.close();
      await other.close();
    } finally {
      await teardown();
    }
  });

  test("a wrong password is logged once, and the cache serves from loaders", async () => {
    const fake = new FakeRedis({ password: "right" });
    const redisLog = new RecordingLogger();
    const backend = new RedisBackend({
      transport: fake.connect,
      password: "wrong",
      connectTimeout: 100,
      socketTimeout: 100,
      logger: redisLog,
    });
    const cache = new AsyncCache<string>({ remoteCache: backend, logger: new RecordingLogger() });
    try {
      for (let i = 0; i < 10; i++) {
        assert.equal(await cache.get(`k${i}`, { loader: () => "v" }), "v");
        await new Promise((r) => setTimeout(r, 10));
      }
      const authLogs = [...redisLog.errors, ...redisLog.warnings].filter((m) =>
        /WRONGPASS|auth/i.test(m)
      );
      assert.equal(authLogs.length, 1, authLogs.join("\n"));
      assert.ok(fake.connectAttempts < 20, `reconnect loop: ${fake.connectAttempts} attempts`);
    } finally {
      await cache.close();
      await backend.close();
      await fake.close();
    }
  });

  test("close() flushes pending writes; the backend's owner closes the connection", async () => {
    const { fake, cache, backend } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    fake.onCommand(async (args) => {
      if (args[0] === "SET") await gate;
      return undefined;
    });
    await cache.set("k", "v");
    const closing = cache.close();
    setTimeout(release, 20);
    await closing;
    assert.equal(fake.getString("ac:" + entryKey("k")) !== undefined, true);
    assert.ok(fake.connections.some((c) => !c.closed), "the cache left the backend open");
    await backend.close();
    assert.ok(fake.connections.every((c) => c.closed));
    await fake.close();
  });

  test("close() is bounded even when the transport never finishes closing", async () => {
    const fake = new FakeRedis();
    let stuck: (() => void) | undefined;
    const backend = new RedisBackend({
      socketTimeout: 100,
      connectTimeout: 100,
      logger: new RecordingLogger(),
      transport: async (opts, handlers) => {
        const inner = await fake.connect(opts, handlers);
        return {
          write: (bytes) => inner.write(bytes),
          // A server that stopped reading: queued bytes never drain, so close() never ends.
          close: () => new Promise<void>((resolve) => stuck = () => inner.close().then(resolve)),
        };
      },
    });
    assert.equal(await backend.get("k"), undefined); // connected
    const started = Date.now();
    await backend.close();
    assert.ok(Date.now() - started < 1_000, `close() took ${Date.now() - started} ms`);
    stuck?.();
    await fake.close();
  });
});
