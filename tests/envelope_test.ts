/**
 * Issue 16 item 6: a stored value shaped like the internal envelope (or
 * like the old stamp) is the application's value, never taken for ours;
 * a malformed envelope is a corrupt entry (a logged miss), never an outage.
 * Two instances, each on its own RedisBackend (tracking on), on a real
 * redis-server.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { RecordingLogger } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
let unique = 0;

describe("issue 16: values shaped like the envelope", { skip }, () => {
  let server: RedisServer;
  const opened: { close(): Promise<void> }[] = [];
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const c of opened.reverse()) await c.close();
    await server?.stop();
  });

  const instance = (namespace: string, maxEntryBytes?: number) => {
    const logger = new RecordingLogger();
    const backend = new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      prefix: "env:",
      logger,
      maxEntryBytes,
    });
    const cache = new AsyncCache<unknown>({ remoteCache: backend, namespace, logger });
    opened.push(backend, cache);
    return { cache, backend, logger };
  };

  const lookAlikes: [string, unknown][] = [
    ["the old stamp", ["\u0000async-cache:stamp:1", [], [], { v: "planted" }]],
    ["the old stamp with a non-string tag", ["\u0000async-cache:stamp:1", [7], [1], "planted"]],
    ["the current envelope", ["\u0000async-cache:entry:2", "", 1, [], null, 0, "planted"]],
    ["an envelope with a non-string tag", ["\u0000async-cache:entry:2", "", 1, [7], null, 0, "x"]],
    ["an envelope of another namespace", ["\u0000async-cache:entry:2", "other", 1, [], null, 0, 1]],
  ];

  for (const [name, value] of lookAlikes) {
    for (
      const [namespace, tags] of [["", undefined], ["", ["t"]], ["tenant", undefined]] as const
    ) {
      const how = `namespace "${namespace}", ${tags ? "tagged" : "untagged"}`;
      test(`16.6 ${name} set by the app reads back as itself (${how})`, async () => {
        const a = instance(namespace);
        const b = instance(namespace);
        const key = `look${++unique}`;
        await a.cache.set(key, value, { tags });
        await a.cache.flush();
        assert.deepEqual(await b.cache.get(key), value, "another instance reads the app's value");
        assert.deepEqual(await a.cache.get(key), value);
        const metrics = b.cache.getMetrics();
        assert.equal(metrics.l2Hits, 1);
        assert.equal(metrics.l2Errors, 0);
        assert.equal(metrics.breaker, "closed");
      });
    }
  }

  test("16.3 an entry over maxEntryBytes is a logged miss: the loader answers, L2 stays in use", async () => {
    const a = instance("big");
    const b = instance("big", 1_000);
    const key = `big${++unique}`;
    await a.cache.set(key, "x".repeat(10_000));
    await a.cache.set(`${key}-small`, "fits");
    await a.cache.flush();
    assert.equal(await b.cache.get(key, { loader: () => "loaded" }), "loaded");
    assert.equal(await b.cache.get(`${key}-small`), "fits");
    assert.ok(
      b.logger.warnings.some((w) => /maxEntryBytes|too large|longer than/i.test(w)),
      b.logger.warnings.join("\n"),
    );
    const metrics = b.cache.getMetrics();
    assert.equal(metrics.l2Hits, 1);
    assert.equal(metrics.breaker, "closed");
  });
});
