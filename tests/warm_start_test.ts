/**
 * Issue 10 item 5: an instance that restarts from its disk snapshot while
 * Redis is shared never serves an entry that was changed or removed in
 * Redis while it was down; the snapshot serves only when Redis cannot.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, DiskBackend, encodeValue, type FileStore, RedisBackend } from "../mod.ts";
import { FakeRedis } from "../src/testing/fake_redis.ts";
import { entryKey, RecordingLogger } from "./_helpers.ts";

function memoryFiles(): FileStore {
  const files = new Map<string, Uint8Array>();
  return {
    read: (path) => Promise.resolve(files.get(path)),
    writeAtomic: (path, bytes) => Promise.resolve(void files.set(path, bytes)),
  };
}

describe("disk warm start with a shared Redis", () => {
  test("L2's answer wins over the snapshot; the snapshot serves only while L2 is down", async () => {
    const fake = new FakeRedis();
    const fileStore = memoryFiles();
    const start = () => {
      const redis = new RedisBackend({
        transport: fake.connect,
        socketTimeout: 100,
        connectTimeout: 100,
        logger: new RecordingLogger(),
      });
      const cache = new AsyncCache<string>({
        remoteCache: redis,
        backup: new DiskBackend("snap", { fileStore }),
        logger: new RecordingLogger(),
      });
      return { redis, cache };
    };
    const first = start();
    await first.cache.set("changed", "old");
    await first.cache.set("removed", "old");
    await first.cache.set("kept", "same");
    await first.cache.flush();
    await first.cache.saveToBackup();
    await first.cache.close();
    await first.redis.close();

    // While this instance is down, others change and remove entries in Redis.
    fake.set("ac:" + entryKey("changed"), encodeValue("new"));
    const admin = new RedisBackend({ transport: fake.connect, tracking: false });
    await admin.delete(entryKey("removed"));
    await admin.close();

    const second = start();
    try {
      assert.equal(await second.cache.get("changed"), "new");
      assert.equal(await second.cache.get("removed"), undefined);
      assert.equal(await second.cache.get("removed", { loader: () => "reloaded" }), "reloaded");
      assert.equal(await second.cache.get("kept"), "same");
    } finally {
      await second.cache.close();
      await second.redis.close();
    }

    // Redis unreachable at the restart: the snapshot is all there is, and it serves.
    const snapshotOnly = memoryFiles();
    const third = start();
    await third.cache.set("k", "from snapshot");
    await third.cache.flush();
    const saver = new AsyncCache<string>({
      backup: new DiskBackend("snap", { fileStore: snapshotOnly }),
    });
    await saver.set("k", "from snapshot");
    await saver.saveToBackup();
    await saver.close();
    await third.cache.close();
    await third.redis.close();
    fake.refuse();
    const redis = new RedisBackend({
      transport: fake.connect,
      socketTimeout: 100,
      connectTimeout: 100,
      logger: new RecordingLogger(),
    });
    const offline = new AsyncCache<string>({
      remoteCache: redis,
      backup: new DiskBackend("snap", { fileStore: snapshotOnly }),
      logger: new RecordingLogger(),
    });
    try {
      assert.equal(await offline.get("k", { loader: () => "loader" }), "from snapshot");
    } finally {
      await offline.close();
      await redis.close();
      await fake.close();
    }
  });
});
