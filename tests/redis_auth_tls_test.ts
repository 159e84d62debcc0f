import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, AsyncTTL, RedisBackend } from "../mod.ts";
import { RecordingLogger } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("RedisBackend: AUTH, ACL users, db, TLS", { skip }, () => {
  let secured: RedisServer;
  let tls: RedisServer;
  before(async () => {
    secured = await startRedisServer({
      password: "s3cret",
      users: ["alice on >wonderland ~ac:* &* +@all", "bob on >builder ~other:* +@all"],
    });
    tls = await startRedisServer({ tls: true });
  });
  after(async () => {
    await secured?.stop();
    await tls?.stop();
  });

  test("password only (requirepass), through a URL, in db 2", async () => {
    const backend = new RedisBackend({ url: `redis://:s3cret@127.0.0.1:${secured.port}/2` });
    try {
      await backend.set("k", "v");
      assert.equal(await backend.get("k"), "v");
      assert.equal(await backend.client.command(["CLIENT", "GETNAME"]) instanceof Uint8Array, true);
      const db = new RedisBackend({ host: "127.0.0.1", port: secured.port, password: "s3cret" });
      assert.equal(await db.get("k"), undefined, "db 0 does not see db 2's key");
      await db.close();
    } finally {
      await backend.close();
    }
  });

  test("an ACL user with username + password", async () => {
    const alice = new RedisBackend({
      host: "127.0.0.1",
      port: secured.port,
      username: "alice",
      password: "wonderland",
    });
    try {
      await alice.set("acl", 1);
      assert.equal(await alice.get("acl"), 1);
    } finally {
      await alice.close();
    }
  });

  test("a user without permission on the prefix: errors are logged, the cache serves", async () => {
    const log = new RecordingLogger();
    const bob = new RedisBackend({
      host: "127.0.0.1",
      port: secured.port,
      username: "bob",
      password: "builder",
      logger: log,
    });
    const cacheLog = new RecordingLogger();
    const cache = new AsyncCache<string>({ remoteCache: bob, logger: cacheLog });
    try {
      assert.equal(await cache.get("k", { loader: () => "loaded" }), "loaded");
      await cache.flush();
      assert.ok(cache.getMetrics().l2Errors >= 1);
      // A refused command is not an outage: logged as an error, the breaker stays closed.
      assert.ok(cacheLog.errors.some((w) => /NOPERM/.test(w)), cacheLog.errors.join("\n"));
      assert.equal(cache.getMetrics().breaker, "closed");
    } finally {
      await cache.close();
      await bob.close();
    }
  });

  test("a wrong password: RedisAuthError on direct use, the cache still serves", async () => {
    const log = new RecordingLogger();
    const wrong = new RedisBackend({
      host: "127.0.0.1",
      port: secured.port,
      password: "nope",
      connectTimeout: 500,
      logger: log,
    });
    await assert.rejects(wrong.get("k"), { name: "RedisAuthError" });
    const cache = new AsyncCache<string>({ remoteCache: wrong, logger: new RecordingLogger() });
    for (let i = 0; i < 5; i++) assert.equal(await cache.get(`k${i}`, { loader: () => "v" }), "v");
    await cache.close();
    await wrong.close();
    const authLines = log.errors.filter((m) => /WRONGPASS|auth/i.test(m));
    assert.equal(authLines.length, 1, authLines.join("\n"));
  });

  test("TLS with a private CA (rediss:// URL plus ca)", async () => {
    const backend = new RedisBackend({
      url: `rediss://localhost:${tls.port}`,
      tls: { ca: tls.caPem, servername: "localhost" },
    });
    try {
      await backend.set("tls", { secure: true });
      assert.deepEqual(await backend.get("tls"), { secure: true });
    } finally {
      await backend.close();
    }
  });

  test("TLS without the CA is refused, and the cache still serves", async () => {
    const log = new RecordingLogger();
    const untrusted = new RedisBackend({
      host: "localhost",
      port: tls.port,
      tls: true,
      connectTimeout: 1_000,
      logger: log,
    });
    const cache = new AsyncCache<string>({ remoteCache: untrusted, logger: new RecordingLogger() });
    assert.equal(await cache.get("k", { loader: () => "v" }), "v");
    assert.ok(cache.getMetrics().l2Errors >= 1);
    await cache.close();
    await untrusted.close();
  });

  test("decorators share results through Redis, namespaced by function name", async () => {
    const backend = () =>
      new RedisBackend({ host: "127.0.0.1", port: secured.port, password: "s3cret" });
    let calls = 0;
    async function productName(id: number) {
      calls++;
      return `product ${id}`;
    }
    const [redisA, redisB] = [backend(), backend()];
    const podA = AsyncTTL({ timeToLive: "60s", remoteCache: redisA })(productName);
    const podB = AsyncTTL({ timeToLive: "60s", remoteCache: redisB })(productName);
    try {
      assert.equal(await podA(7), "product 7");
      await podA.cache.flush();
      assert.equal(await podB(7), "product 7");
      assert.equal(calls, 1);
      assert.equal(podB.getMetrics().l2Hits, 1);
      const keys = await podA.cache.getMetrics();
      assert.equal(keys.l2Writes, 1);
    } finally {
      await podA.cache.close();
      await podB.cache.close();
      await redisA.close();
      await redisB.close();
    }
  });
});
