/**
 * Guards between the cache and a real Redis (issue 9 items 6, 8, 9):
 * `parserLimits` reaches the connection, a TTL too large for Redis is
 * clamped instead of sent as `PX 1e+21`, and subscribe-family commands are
 * refused on the shared connection instead of corrupting the reply order.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, InvalidOptionError, RedisBackend, RedisClient } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { RecordingLogger } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
const decoder = new TextDecoder();

describe("RedisBackend and RedisClient guards against a real Redis", { skip }, () => {
  let server: RedisServer;
  before(async () => (server = await startRedisServer()));
  after(() => server?.stop());

  const open = (extra: Record<string, unknown> = {}) =>
    new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      logger: new RecordingLogger(),
      ...extra,
    });

  test("parserLimits reaches the connection: a bigger reply is a protocol error", async () => {
    const writer = open();
    const limited = open({ parserLimits: { maxBulkLength: 100 } });
    try {
      await writer.set("big", "x".repeat(1000));
      await writer.set("small", "y");
      await assert.rejects(limited.get("big"), { name: "RedisProtocolError" });
      // The connection was dropped and is remade: small replies still work.
      let small: unknown;
      for (let i = 0; i < 50 && small === undefined; i++) {
        small = await limited.get("small").catch(() => undefined);
        if (small === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(small, "y");
    } finally {
      await writer.close();
      await limited.close();
    }
  });

  test("a TTL too large for Redis is clamped to an integer PX, never sent as 1e+21", async () => {
    const backend = open();
    try {
      await backend.set("forever", "v", 1e21);
      await backend.setMany([["forever2", "w", Number.MAX_VALUE], ["short", "s", 1.5]]);
      assert.equal(await backend.get("forever"), "v");
      assert.equal(await backend.get("forever2"), "w");
      const pttl = await backend.client.command(["PTTL", backend.prefix + "forever"]);
      assert.ok(typeof pttl === "number" && pttl > 1e15, `PTTL ${String(pttl)}`);
      const short = await backend.client.command(["PTTL", backend.prefix + "short"]);
      assert.ok(typeof short === "number" && short <= 2, `PTTL ${String(short)}`);
      const [entry] = await backend.getManyWithTtl(["forever"]);
      assert.equal(entry?.value, "v");
    } finally {
      await backend.close();
    }
  });

  test("AsyncCache with a huge ttl: the L2 write succeeds", async () => {
    const backend = open();
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ remoteCache: backend, logger });
    try {
      await cache.set("k", "v", { ttl: 1e21 });
      await cache.flush();
      assert.equal(cache.getMetrics().l2Errors, 0, logger.warnings.join("\n"));
    } finally {
      await cache.close();
      await backend.close();
    }
  });

  for (const protocol of [3, 2] as const) {
    test(`RESP${protocol}: subscribe-family commands are refused; replies stay in order`, async () => {
      const client = new RedisClient({
        connect: defaultConnect,
        port: server.port,
        protocol,
        socketTimeoutMs: 1_000,
      });
      try {
        await client.command(["SET", "order", "kept"]);
        const refused: unknown[] = [
          ["SUBSCRIBE", "ch"],
          ["subscribe", "ch"],
          ["PSUBSCRIBE", "c*"],
          [new TextEncoder().encode("SSUBSCRIBE"), "ch"],
          ["UNSUBSCRIBE"],
          ["PUNSUBSCRIBE"],
          ["SUNSUBSCRIBE"],
          ["Monitor"],
        ];
        for (const args of refused) {
          await assert.rejects(
            client.command(args as string[]),
            (e: unknown) =>
              e instanceof InvalidOptionError && /dedicated connection/.test(e.message),
            String(args),
          );
        }
        const [pong, value] = await Promise.all([
          client.command(["PING"]),
          client.command(["GET", "order"]),
        ]);
        assert.equal(pong, "PONG");
        assert.equal(decoder.decode(value as Uint8Array), "kept");
        // PUBLISH is an ordinary command.
        assert.equal(await client.command(["PUBLISH", "ch", "m"]), 0);
      } finally {
        await client.close();
      }
    });
  }
});
