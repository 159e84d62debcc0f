import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, InvalidOptionError, RedisBackend, SerializationError } from "../mod.ts";
import { entryKey, RecordingLogger } from "./_helpers.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

/** Calls of one command since the last CONFIG RESETSTAT. */
async function calls(backend: RedisBackend, command: string): Promise<number> {
  const info = await backend.client.command(["INFO", "commandstats"]);
  const text = new TextDecoder().decode(info as Uint8Array);
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

describe("RedisBackend against redis-server", { skip }, () => {
  let server: RedisServer;
  let redis: RedisBackend;
  const backends: RedisBackend[] = [];
  const open = (prefix = "ac:", logger = new RecordingLogger(), tracking = true) => {
    const b = new RedisBackend({ port: server.port, host: "127.0.0.1", prefix, logger, tracking });
    backends.push(b);
    return b;
  };

  before(async () => {
    server = await startRedisServer();
    redis = open();
  });
  after(async () => {
    for (const b of backends) await b.close();
    await server?.stop();
  });

  test("values round-trip; a miss is undefined and null is a value", async () => {
    const value = {
      s: "text",
      n: 1.5,
      big: 12345678901234567890n,
      when: new Date(0),
      m: new Map([[1, "one"]]),
      set: new Set(["a"]),
      bytes: new Uint8Array([0, 255]),
      list: [1, undefined, null],
    };
    await redis.set("obj", value);
    assert.deepEqual(await redis.get("obj"), value);
    assert.equal(await redis.get("absent"), undefined);
    await redis.set("nothing", null);
    assert.equal(await redis.get("nothing"), null);
    await redis.delete("nothing");
    assert.equal(await redis.get("nothing"), undefined);
  });

  test("keys are binary-safe: CRLF, spaces, non-ASCII, glob characters", async () => {
    const keys = ["a\r\nb", "with space", "ключ🔑", "*?[x]\\", ""];
    for (const [i, k] of keys.entries()) await redis.set(k, i);
    for (const [i, k] of keys.entries()) assert.equal(await redis.get(k), i, JSON.stringify(k));
    assert.deepEqual(await redis.getMany(keys), [0, 1, 2, 3, 4]);
  });

  test("set with a TTL uses PX; without tracking getManyWithTtl reports the remaining TTL", async () => {
    const untracked = open("ac:", new RecordingLogger(), false);
    await untracked.set("ttl", "v", 60_000);
    const pttl = await untracked.client.command(["PTTL", "ac:ttl"]);
    assert.ok(typeof pttl === "number" && pttl > 59_000 && pttl <= 60_000, String(pttl));
    await untracked.set("forever", "v");
    const [a, b, c] = await untracked.getManyWithTtl(["ttl", "forever", "missing"]);
    assert.equal(untracked.coherence, "ttl");
    assert.equal(a?.value, "v");
    assert.ok(a!.ttlMs! > 59_000 && a!.ttlMs! <= 60_000);
    assert.deepEqual(b, { value: "v", ttlMs: undefined });
    assert.equal(c, undefined);
  });

  test("an unencodable value throws SerializationError synchronously", () => {
    assert.throws(() => redis.set("fn", () => 1), SerializationError);
  });

  test("a corrupt or foreign entry is a logged miss", async () => {
    const logger = new RecordingLogger();
    const b = open("ac:", logger);
    await b.client.command(["SET", "ac:garbage", "not an envelope"]);
    await b.client.command(["HSET", "ac:hash", "f", "v"]);
    assert.equal(await b.get("garbage"), undefined);
    assert.deepEqual(await b.getMany(["garbage", "hash"]), [undefined, undefined]);
    assert.ok(logger.warnings.some((w) => w.includes("ac:garbage")), logger.warnings.join("\n"));
  });

  test("clear() deletes only its prefix, even with glob characters in it", async () => {
    const mine = open("app*[1]:");
    const other = open("app:");
    const lookalike = open("appX1]:"); // would match an unescaped app*[1]* pattern
    for (let i = 0; i < 2500; i++) await mine.set(`k${i}`, i); // > one SCAN page
    await other.set("keep", 1);
    await lookalike.set("keep", 2);
    await mine.clear();
    assert.equal(await mine.get("k0"), undefined);
    assert.equal(await mine.get("k2499"), undefined);
    assert.equal(await other.get("keep"), 1);
    assert.equal(await lookalike.get("keep"), 2);
    const left = await mine.client.command(["KEYS", "app\\*\\[1\\]:*"]);
    assert.deepEqual(left, []);
  });

  test("an empty prefix refuses clear() instead of wiping the database", async () => {
    const bare = open("");
    await assert.rejects(bare.clear(), InvalidOptionError);
  });

  test("getMany is one MGET", async () => {
    await redis.client.command(["CONFIG", "RESETSTAT"]);
    const keys = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await redis.getMany(keys);
    assert.equal(await calls(redis, "mget"), 1);
    assert.equal(await calls(redis, "get"), 0);
  });
});

describe("AsyncCache with a RedisBackend", { skip }, () => {
  let server: RedisServer;
  const closers: { close(): Promise<void> }[] = [];
  const backend = (prefix = "two:") => {
    const b = new RedisBackend({ port: server.port, host: "127.0.0.1", prefix });
    closers.push(b);
    return b;
  };

  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const c of closers) await c.close().catch(() => {});
    await server?.stop();
  });

  test("two instances share entries: L1 → L2 → loader", async () => {
    const a = new AsyncCache<string>({ remoteCache: backend(), defaultTtl: "60s" });
    const b = new AsyncCache<string>({ remoteCache: backend(), defaultTtl: "60s" });
    closers.push(a, b);
    let loads = 0;
    const loader = () => (loads++, "loaded");
    assert.equal(await a.get("k", { loader }), "loaded");
    await a.flush();
    assert.equal(await b.get("k", { loader }), "loaded");
    assert.equal(loads, 1);
    assert.equal(b.getMetrics().l2Hits, 1);
    assert.equal(await b.get("k", { loader }), "loaded");
    assert.equal(b.getMetrics().l1Hits, 1);
  });

  test("an L2 hit fills L1 with the entry's remaining TTL", async () => {
    const writer = new AsyncCache<string>({ remoteCache: backend() });
    const clock = new FakeClock();
    const reader = new AsyncCache<string>({ remoteCache: backend(), defaultTtl: "1h", clock });
    closers.push(writer, reader);
    await writer.set("short", "v", { ttl: "2s" });
    await writer.flush();
    assert.equal(await reader.get("short"), "v");
    assert.equal(reader.getMetrics().l2Hits, 1);
    clock.advance(1_000);
    assert.equal(await reader.get("short"), "v");
    assert.equal(reader.getMetrics().l1Hits, 1, "still in L1 after 1 s");
    clock.advance(1_001);
    await reader.get("short");
    assert.equal(reader.getMetrics().l1Hits, 1, "the L1 copy expired with its L2 entry");
    assert.equal(reader.getMetrics().expirations, 1);
  });

  test("100 concurrent misses: one MGET, one loader", async () => {
    const b = backend();
    const cache = new AsyncCache<number>({ remoteCache: b });
    closers.push(cache);
    await b.client.command(["CONFIG", "RESETSTAT"]);
    let loads = 0;
    const loader = async () => (loads++, 7);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => cache.get("herd", { loader })),
    );
    assert.deepEqual(new Set(results), new Set([7]));
    assert.equal(loads, 1);
    assert.equal(await calls(b, "mget"), 1);
    assert.equal(await calls(b, "get"), 0);
  });

  test("concurrent misses on different keys share one MGET", async () => {
    const b = backend();
    const cache = new AsyncCache<string>({ remoteCache: b });
    closers.push(cache);
    await b.client.command(["CONFIG", "RESETSTAT"]);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => cache.get(`d${i}`, { loader: () => `v${i}` })),
    );
    assert.equal(await calls(b, "mget"), 1);
  });

  test("a batch does one MGET, loads only the L2 misses, writes them back", async () => {
    const b = backend();
    const writer = new AsyncCache<string>({ remoteCache: backend() });
    const cache = new AsyncCache<string>({ remoteCache: b });
    closers.push(writer, cache);
    await writer.set("u1", "from-redis");
    await writer.flush();
    await b.client.command(["CONFIG", "RESETSTAT"]);
    const asked: string[][] = [];
    const batchLoader = (keys: string[]) => (asked.push(keys), keys.map((k) => `loaded-${k}`));
    const got = await Promise.all(["u1", "u2", "u3"].map((k) => cache.get(k, { batchLoader })));
    assert.deepEqual(got, ["from-redis", "loaded-u2", "loaded-u3"]);
    assert.deepEqual(asked, [["u2", "u3"]]);
    assert.equal(await calls(b, "mget"), 1);
    await cache.flush();
    assert.equal(await calls(b, "set"), 2);
    assert.equal(await writer.get("u3"), "loaded-u3");
  });

  test("set of an unencodable value rejects at set time and stores nothing", async () => {
    const cache = new AsyncCache<unknown>({ remoteCache: backend() });
    closers.push(cache);
    await assert.rejects(cache.set("bad", { f: () => 1 }), SerializationError);
    assert.equal(await cache.get("bad"), undefined);
  });

  test("delete and clear reach L2; namespaces keep caches apart", async () => {
    const shared = backend("ns:");
    const users = new AsyncCache<string>({ remoteCache: shared, namespace: "users" });
    const posts = new AsyncCache<string>({ remoteCache: backend("ns:"), namespace: "posts" });
    const users2 = new AsyncCache<string>({ remoteCache: backend("ns:"), namespace: "users" });
    closers.push(users, posts, users2);
    await users.set("1", "ada");
    await posts.set("1", "hello");
    await users.flush();
    await posts.flush();
    assert.equal(await users2.get("1"), "ada");
    assert.equal(await shared.client.command(["EXISTS", "ns:" + entryKey("1", "users")]), 1);
    await users.delete("1");
    assert.equal(await shared.client.command(["EXISTS", "ns:" + entryKey("1", "users")]), 0);
    assert.equal(await posts.get("1"), "hello");
  });

  test("null round-trips through L2", async () => {
    const a = new AsyncCache<null>({ remoteCache: backend() });
    const b = new AsyncCache<null>({ remoteCache: backend() });
    closers.push(a, b);
    await a.set("null", null);
    await a.flush();
    assert.equal(await b.get("null", { loader: () => assert.fail("loader ran") }), null);
  });
});
