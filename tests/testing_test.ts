/**
 * `@async-cache/cache/testing`: the fake Redis and the fake clock as users get
 * them (published on JSR and npm, free of runtime APIs), used the way the
 * README shows: injected through `RedisBackend({ transport })` and
 * `AsyncCache({ clock })`, with scripted replies, delays, resets and garbage.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AsyncCache, RedisBackend, RedisReplyError } from "../mod.ts";
import { FakeClock, FakeRedis, NO_REPLY, resp } from "../src/testing/mod.ts";
import { RecordingLogger, repoRoot, waitFor } from "./_helpers.ts";

describe("@async-cache/cache/testing is published", () => {
  test("deno.json (the JSR package) exports ./testing (npm's exports are derived from it)", () => {
    const root = repoRoot();
    const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
    assert.equal(deno.name, "@async-cache/cache");
    assert.equal(deno.exports["./testing"], "./src/testing/mod.ts");
  });

  test("the fakes use no runtime API (node:*, Deno.*, Bun.*)", () => {
    const dir = join(repoRoot(), "src", "testing");
    const files = readdirSync(dir).filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"));
    assert.ok(files.includes("mod.ts") && files.includes("fake_redis.ts"), files.join());
    for (const f of files) {
      const code = readFileSync(join(dir, f), "utf8");
      assert.doesNotMatch(code, /from\s+["']node:|\bDeno\.|\bBun\.|require\(/, f);
    }
    assert.ok(existsSync(join(dir, "fake_clock.ts")));
  });
});

describe("testing a cache with the fakes", () => {
  test("FakeRedis through RedisBackend({ transport }): a second cache reads the first's entry", async () => {
    const fake = new FakeRedis();
    const redis = new RedisBackend({ transport: fake.connect });
    const a = new AsyncCache<string>({ remoteCache: redis });
    const b = new AsyncCache<string>({ remoteCache: redis });
    try {
      assert.equal(await a.get("user:1", { loader: () => "Ada" }), "Ada");
      await a.flush();
      assert.ok(fake.commands.some(([name]) => name === "SET"));
      assert.equal(await b.get("user:1", { loader: () => "not called" }), "Ada");
    } finally {
      await a.close();
      await b.close();
      await redis.close();
      await fake.close();
    }
  });

  test("scripted failures: an error reply, a delay, garbage bytes, a reset", async () => {
    const fake = new FakeRedis();
    const logger = new RecordingLogger();
    const redis = new RedisBackend({ transport: fake.connect, socketTimeout: "200ms", logger });
    try {
      // An error reply for one command.
      const stop = fake.onCommand((args) => args[0] === "GET" ? resp.error("OOM no") : undefined);
      await assert.rejects(redis.client.command(["GET", "k"]), RedisReplyError);
      stop();
      // A delayed answer (the default responder answers after 20 ms).
      const slow = fake.onCommand(async () => {
        await new Promise((r) => setTimeout(r, 20));
        return undefined;
      });
      const started = Date.now();
      assert.equal(await redis.client.command(["PING"]), "PONG");
      assert.ok(Date.now() - started >= 15);
      slow();
      // A server-side reset while a command waits for its reply.
      const silent = fake.onCommand(() => NO_REPLY);
      const waiting = redis.client.command(["GET", "k"]);
      await fake.waitFor("GET");
      fake.current!.reset();
      await assert.rejects(waiting);
      silent();
      await waitFor(() => redis.client.status === "ready");
      // Garbage: the client drops the connection and fails the command.
      const garbage = fake.onCommand(() => "?garbage\r\n");
      await assert.rejects(redis.client.command(["PING"]), { name: "RedisProtocolError" });
      garbage();
      // And it recovers.
      await waitFor(() => redis.client.status === "ready");
      assert.equal(await redis.client.command(["PING"]), "PONG");
    } finally {
      await redis.close();
      await fake.close();
    }
  });

  test("FakeClock: TTLs expire when the test moves time, without sleeping", async () => {
    const clock = new FakeClock();
    const cache = new AsyncCache<string>({ clock, defaultTtl: "1m" });
    try {
      await cache.set("k", "v");
      clock.advance(59_999);
      assert.equal(await cache.get("k"), "v");
      clock.advance(1);
      assert.equal(await cache.get("k"), undefined);
    } finally {
      await cache.close();
    }
  });

  test("the fake tracks keys (RESP3): another connection's write drops an L1 copy", async () => {
    const fake = new FakeRedis();
    const [first, second] = [
      new RedisBackend({ transport: fake.connect }),
      new RedisBackend({ transport: fake.connect }),
    ];
    const a = new AsyncCache<string>({ remoteCache: first });
    const b = new AsyncCache<string>({ remoteCache: second });
    try {
      await a.set("k", "v1");
      await a.flush();
      assert.equal(await b.get("k"), "v1");
      assert.equal(b.getMetrics().coherence, "tracking");
      await a.set("k", "v2");
      await a.flush();
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(await b.get("k"), "v2");
      assert.equal(b.getMetrics().invalidations, 1);
    } finally {
      await a.close();
      await b.close();
      await first.close();
      await second.close();
      await fake.close();
    }
  });
});
