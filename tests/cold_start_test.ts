/**
 * Found while testing issue 18 (the Prometheus scrape showed 43 loads for 40
 * keys): in a fresh namespace, the first write creates the namespace's
 * counter at its own stamp, so loads that started earlier and finish later
 * read as invalidated: dropped from L1, and misses for every other instance
 * (a reload storm at cold start, exactly when loads are many and slow).
 * In the default configuration: two instances, each on its own
 * RedisBackend (tracking on), a namespace and tags, a real redis-server.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { RecordingLogger } from "./_helpers.ts";
import { redisForSuite, redisServerAvailable, SKIP_MESSAGE } from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("cold start: concurrent first loads in a fresh namespace", { skip }, () => {
  const redis = redisForSuite({ before, after });
  const opened = redis.opened;
  const instance = (namespace: string) => {
    const backend = new RedisBackend({
      host: "127.0.0.1",
      port: redis.server.port,
      prefix: "cold:",
      logger: new RecordingLogger(),
    });
    const cache = new AsyncCache<string>({
      remoteCache: backend,
      namespace,
      defaultTtl: 60_000,
      logger: new RecordingLogger(),
    });
    opened.push(backend, cache);
    return cache;
  };

  for (const tags of [undefined, ["t"]]) {
    test(`every load that finished is kept in L1 and current in L2${tags ? " (tagged)" : ""}`, async () => {
      const ns = `fresh${tags ? "-tagged" : ""}`;
      const a = instance(ns);
      const b = instance(ns);
      const ids = Array.from({ length: 40 }, (_, i) => `id${i}`);
      // Loads that end in an order unrelated to the order they began (as real ones do).
      const delay = (i: number) => 45 - i; // the first to begin ends last
      await Promise.all(ids.map((id, i) =>
        a.get(id, {
          tags,
          loader: () => new Promise<string>((r) => setTimeout(() => r(`v-${id}`), delay(i))),
        })
      ));
      await a.flush();
      assert.equal(a.getMetrics().size, 40, "loaded entries dropped from L1");
      let loads = 0;
      for (const id of ids) {
        assert.equal(await b.get(id, { tags, loader: () => (loads++, "reloaded") }), `v-${id}`);
      }
      assert.equal(loads, 0, "entries another instance wrote read as invalidated");
      for (const id of ids) assert.equal(await a.get(id), `v-${id}`);
      assert.equal(a.getMetrics().loads, 40);
    });
  }
});
