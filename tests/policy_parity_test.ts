/**
 * Issue 17: TTL, `staleWhileRevalidate`/`grace` keeps, tags, coherence drops
 * and metrics work the same under both policies, in the default
 * configuration: two instances, each on its own RedisBackend (tracking on),
 * one namespace, tags, against a real redis-server; and with `maxBytes`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, AsyncTTL, RedisBackend } from "../mod.ts";
import { AgentCache } from "../src/agent/mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { cacheInternals } from "../src/cache/async_cache.ts";
import { LruStore } from "../src/cache/lru_store.ts";
import { TinyLfuStore } from "../src/cache/tinylfu_store.ts";
import { RecordingLogger, waitFor } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
let unique = 0;

for (const policy of ["lru", "tinylfu"] as const) {
  for (const maxBytes of [undefined, 1 << 20]) {
    describe(
      `policy "${policy}"${maxBytes ? ", maxBytes" : ""}: the layers compose`,
      { skip },
      () => {
        let server: RedisServer;
        const opened: { close(): Promise<void> }[] = [];
        before(async () => {
          server = await startRedisServer();
        });
        after(async () => {
          for (const c of opened.reverse()) await c.close();
          await server?.stop();
        });
        const instance = <V>(namespace: string, options: Record<string, unknown> = {}) => {
          const backend = new RedisBackend({
            host: "127.0.0.1",
            port: server.port,
            prefix: "p17:",
            logger: new RecordingLogger(),
          });
          const cache = new AsyncCache<V>({
            remoteCache: backend,
            namespace,
            defaultTtl: 60_000,
            logger: new RecordingLogger(),
            maxsize: 50,
            policy,
            maxBytes,
            ...options,
          });
          opened.push(backend, cache);
          return cache;
        };

        test("another instance's set and invalidateTags reach this one's L1 (tracking)", async () => {
          const ns = `ns${++unique}`;
          const a = instance<string>(ns);
          const b = instance<string>(ns);
          await a.set("k", "v1", { tags: ["t"] });
          await a.flush();
          assert.equal(await b.get("k"), "v1");
          assert.equal(b.getMetrics().l2Hits, 1);
          assert.equal(await b.get("k"), "v1");
          assert.equal(b.getMetrics().l1Hits, 1, "now in b's L1");
          await a.set("k", "v2", { tags: ["t"] });
          await a.flush();
          await waitFor(async () => (await b.get("k")) === "v2");
          await b.get("k");
          await a.invalidateTags(["t"]);
          await waitFor(async () => (await b.get("k")) === undefined);
          assert.ok(b.getMetrics().invalidations >= 1);
        });

        test("a delete on one instance drops the other's L1 copy, under eviction pressure", async () => {
          const ns = `ns${++unique}`;
          const a = instance<number>(ns);
          const b = instance<number>(ns);
          // 200 keys through 50 slots, the first ten read often (TinyLFU keeps those).
          for (let round = 0; round < 4; round++) {
            for (let i = 0; i < 200; i++) {
              const key = `k${i < 10 ? i : i + round * 200}`;
              await b.get(key, { loader: () => i });
              if (i < 10) await b.get(key);
            }
          }
          await b.flush();
          assert.ok(b.getMetrics().size <= 50);
          assert.ok(b.getMetrics().evictions > 0);
          assert.equal(await b.get("k3"), 3);
          await a.delete("k3");
          await waitFor(async () => (await b.get("k3")) === undefined);
        });

        test("TTL and staleWhileRevalidate: a stale value is served once, then the refresh", async () => {
          const clock = new FakeClock();
          const cache = new AsyncCache<string>({
            clock,
            defaultTtl: 1000,
            staleWhileRevalidate: 500,
            policy,
            maxBytes,
            maxsize: 10,
          });
          opened.push(cache);
          let n = 0;
          const loader = () => `v${++n}`;
          assert.equal(await cache.get("k", { loader }), "v1");
          clock.advance(1200);
          assert.equal(await cache.get("k", { loader }), "v1", "stale, within the window");
          await waitFor(() => cache.getMetrics().refreshes === 1 && n === 2);
          await waitFor(async () => (await cache.get("k")) === "v2");
          assert.equal(cache.getMetrics().stale, 1);
          clock.advance(2000);
          assert.equal(await cache.get("k"), undefined, "past TTL + window");
        });

        test("grace: a failing loader is answered from the kept entry", async () => {
          const clock = new FakeClock();
          const cache = new AsyncCache<string>({
            clock,
            logger: new RecordingLogger(),
            defaultTtl: 1000,
            grace: 10_000,
            policy,
            maxBytes,
            maxsize: 10,
          });
          opened.push(cache);
          await cache.get("k", { loader: () => "old" });
          clock.advance(5000);
          const got = await cache.get("k", {
            loader: () => {
              throw new Error("db down");
            },
          });
          assert.equal(got, "old");
        });

        test("AsyncTTL and AgentCache take the policy", async () => {
          let calls = 0;
          const f = AsyncTTL({ timeToLive: 60_000, policy, maxBytes })((
            x: number,
          ) => (calls++, x * 2));
          assert.equal(await f(2), 4);
          assert.equal(await f(2), 4);
          assert.equal(calls, 1);
          await f.cache.close();
          const store = policy === "lru" ? LruStore : TinyLfuStore;
          assert.ok(cacheInternals(f.cache).store instanceof store);
          const tool = AgentCache({
            resource: `r${++unique}`,
            ttl: 60_000,
            policy,
            maxBytes,
            name: "search",
          })(
            async (q: string) => (calls++, q.toUpperCase()),
          );
          assert.equal(await tool("a"), "A");
          assert.equal(await tool("a"), "A");
          assert.equal(calls, 2);
          if (maxBytes !== undefined) {
            assert.ok(tool.getMetrics().bytes > 0, "sized: maxBytes reached the tool's cache");
          }
        });
      },
    );
  }
}
