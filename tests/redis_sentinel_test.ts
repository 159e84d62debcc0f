import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, RedisBackend, RedisClient } from "../mod.ts";
import { replyToString } from "../src/resp/parser.ts";
import { entryKey, loadLoop, RecordingLogger, sleep, waitFor } from "./_helpers.ts";
import { redisServerAvailable, SKIP_MESSAGE } from "./_redis_server.ts";
import { cli, type SentinelSetup, startSentinelSetup } from "./_redis_cluster.ts";

const role = (reply: unknown) => replyToString((reply as Uint8Array[])[0]);
const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("RedisBackend through Redis Sentinel (primary + replica + 3 sentinels)", { skip }, () => {
  let setup: SentinelSetup;
  before(async () => {
    setup = await startSentinelSetup();
  });
  after(async () => {
    await setup?.stop();
  });

  test("finds the primary through the sentinels and writes there", async () => {
    const log = new RecordingLogger();
    // The first sentinel address is dead: the next one answers.
    const dead = { host: "127.0.0.1", port: 1 };
    const b = new RedisBackend({
      sentinels: [dead, ...setup.addresses],
      name: setup.name,
      prefix: "s:",
      logger: log,
    });
    try {
      await b.set("k", { v: 1 });
      assert.deepEqual(await b.get("k"), { v: 1 });
      assert.equal(await cli(setup.primary.port, "EXISTS", "s:k"), "1");
      assert.equal(
        await b.client.command(["ROLE"]).then(role),
        "master",
      );
    } finally {
      await b.close();
    }
  });

  test("a failover during load: 0 failed gets, writes follow the new primary", async () => {
    const log = new RecordingLogger();
    const b = new RedisBackend({
      sentinels: setup.addresses,
      name: setup.name,
      prefix: "f:",
      socketTimeout: "500ms",
      connectTimeout: "500ms",
      logger: log,
    });
    const cache = new AsyncCache<string>({ maxsize: 20, remoteCache: b, logger: log });
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    try {
      for (const k of keys) await cache.set(k, `v:${k}`);
      await cache.flush();
      const before = await setup.primaryPort();
      const load = loadLoop(cache, keys);
      await sleep(200);
      let readyAt = 0;
      b.client.addEventListener("ready", () => (readyAt = Date.now()));
      await cli(setup.sentinels[0].port, "SENTINEL", "FAILOVER", setup.name);
      const started = Date.now();
      await waitFor(async () => (await setup.primaryPort()) !== before, 20_000);
      const announcedAt = Date.now();
      const announced = announcedAt - started;
      const after = await setup.primaryPort();
      // Writes land on the new primary, soon after the sentinels announce it.
      await waitFor(async () => {
        const key = `w${Date.now()}`;
        await cache.set(key, "x");
        await cache.flush();
        return await cli(after, "GET", `f:${entryKey(key)}`).then(
          (v) => v.includes("x"),
          () => false,
        );
      }, 10_000);
      const followed = Date.now() - announcedAt;
      // The connection follows +switch-master at once; the cache's writes
      // resume once its breaker's cooldown (1 s) has passed.
      const reconnected = readyAt - announcedAt;
      assert.ok(readyAt > 0 && reconnected < 2_000, `reconnected ${reconnected} ms after`);
      await sleep(200);
      const { gets, failures } = await load.stop();
      assert.deepEqual(failures, []);
      assert.ok(gets > 1000, `only ${gets} gets`);
      // Followed through +switch-master (or a reconnect that asked the sentinels again).
      assert.ok(
        log.warnings.some((w) => /failed over to|primary of "mymaster" is now/.test(w)),
        log.warnings.join("\n"),
      );
      assert.equal(
        await b.client.command(["ROLE"]).then(role),
        "master",
      );
      console.log(
        `  sentinel failover: announced after ${announced} ms; connection on the new primary ` +
          `${reconnected} ms and cache writes there ${followed} ms after that; ${gets} gets, 0 failed`,
      );
    } finally {
      await cache.close();
      await b.close();
    }
  });

  test("options: sentinels need a name; not with cluster or host", async () => {
    assert.throws(() => new RedisBackend({ sentinels: setup.addresses }), {
      name: "InvalidOptionError",
      message: /name/,
    });
    assert.throws(
      () => new RedisBackend({ sentinels: setup.addresses, name: "x", host: "h" }),
      { name: "InvalidOptionError", message: /host/ },
    );
    assert.throws(() => new RedisBackend({ name: "x" }), { name: "InvalidOptionError" });
    const b = new RedisBackend({ sentinels: setup.addresses, name: "x" });
    assert.ok(b.client instanceof RedisClient);
    await b.close();
  });
});
