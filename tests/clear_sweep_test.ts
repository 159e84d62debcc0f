/**
 * A namespaced `clear()` raises the namespace's generation (O(1)), then
 * sweeps the old entries in the background: SCAN, MGET to see which are
 * old, delete those. A write that lands between the sweep's MGET and its
 * delete was lost (deleted in L2, and, through tracking, dropped from the
 * writer's L1): a reload, and the flaky "18. after another instance's
 * clear" in consistency_test.ts under a loaded machine. The sweep now
 * deletes an entry only if it still holds the bytes it read.
 *
 * Real redis-server; the sweeping instance's connection is wrapped so the
 * MGET reply can be held while the other instance writes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, type Connect, RedisBackend } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { FakeRedis, resp } from "../src/testing/mod.ts";
import { RecordingLogger, sleep, waitFor } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes.subarray(0, 4096));

describe("clear(): the background sweep never deletes a newer write", { skip }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server?.stop();
  });

  test("a write between the sweep's read and its delete survives, in L2 and in the writer's L1", async () => {
    let armed = false;
    let holding = false;
    const held: Uint8Array[] = [];
    let deliver: ((bytes: Uint8Array) => void) | undefined;
    const sweeperConnect: Connect = async (options, handlers) => {
      deliver = (bytes) => handlers.onData(bytes);
      const transport = await defaultConnect(options, {
        onClose: (error) => handlers.onClose(error),
        onData(bytes) {
          if (holding) held.push(bytes.slice());
          else handlers.onData(bytes);
        },
      });
      return {
        write(bytes: Uint8Array) {
          // The sweep's MGET (after its SCAN): hold what comes back until released.
          if (armed && latin1(bytes).includes("MGET")) {
            armed = false;
            holding = true;
          }
          transport.write(bytes);
        },
        close: () => transport.close(),
        destroy: () => transport.destroy?.(),
      };
    };
    const backend = (connect?: Connect) =>
      new RedisBackend({
        host: "127.0.0.1",
        port: server.port,
        prefix: "sweep:",
        logger: new RecordingLogger(),
        ...(connect ? { transport: connect } : {}),
      });
    const writerBackend = backend();
    const sweeperBackend = backend(sweeperConnect);
    const options = { namespace: "ns", defaultTtl: 60_000, logger: new RecordingLogger() };
    const writer = new AsyncCache<string>({ remoteCache: writerBackend, ...options });
    const sweeper = new AsyncCache<string>({ remoteCache: sweeperBackend, ...options });
    try {
      await writer.set("k", "old");
      await writer.flush();
      assert.equal(await sweeper.get("k"), "old");
      armed = true;
      await sweeper.clear(); // the generation is raised; the sweep runs in the background
      await waitFor(() => holding);
      // Between the sweep's read and its delete: a new write, read back into the writer's L1.
      await writer.set("k", "new");
      await writer.flush();
      assert.equal(await writer.get("k"), "new");
      holding = false;
      for (const bytes of held.splice(0)) deliver!(bytes);
      await sweeper.flush(); // the sweep is done
      await sleep(50); // any invalidation push has arrived
      const probe = backend();
      try {
        const raw = await probe.get("2:ns:k");
        assert.ok(raw !== undefined, "the newer write was deleted from L2");
      } finally {
        await probe.close();
      }
      let loads = 0;
      assert.equal(await writer.get("k", { loader: () => (loads++, "reloaded") }), "new");
      assert.equal(loads, 0, "the writer's L1 copy was dropped");
      assert.equal(await sweeper.get("k", { loader: () => (loads++, "reloaded") }), "new");
      assert.equal(loads, 0);
    } finally {
      await writer.close();
      await sweeper.close();
      await writerBackend.close();
      await sweeperBackend.close();
    }
  });

  test("where Redis refuses EVAL, the sweep falls back to UNLINK and says so once", async () => {
    const fake = new FakeRedis();
    const stop = fake.onCommand((args) =>
      args[0] === "EVAL"
        ? resp.error("NOPERM this user has no permissions to run 'eval'")
        : undefined
    );
    const logger = new RecordingLogger();
    const redis = new RedisBackend({ transport: fake.connect, prefix: "f:", logger });
    const cache = new AsyncCache<string>({ remoteCache: redis, namespace: "ns", logger });
    try {
      for (let round = 0; round < 2; round++) {
        await cache.set("a", "1");
        await cache.set("b", "2");
        await cache.flush();
        await cache.clear();
        await cache.flush();
        assert.equal(fake.get("f:2:ns:a"), undefined, "the old entry was not swept");
      }
      const said = logger.warnings.filter((w) => w.includes("refused EVAL"));
      assert.equal(said.length, 1, logger.warnings.join("\n"));
    } finally {
      stop();
      await cache.close();
      await redis.close();
      await fake.close();
    }
  });
});
