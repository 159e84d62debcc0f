/**
 * Hardening of option handling (issue 16, items 7, 13 and 14): no password in an option error,
 * no silently misparsed URL, no silently ignored option name. Each test failed before its fix.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache } from "../src/cache/async_cache.ts";
import { AsyncLRU, AsyncTTL } from "../src/cache/decorators.ts";
import { AgentCache } from "../src/agent/agent_cache.ts";
import { DiskBackend } from "../src/persist/disk_backend.ts";
import { RedisBackend } from "../src/remote/redis_backend.ts";
import { InvalidOptionError } from "../src/errors.ts";
import {
  checkRefreshOptionNames,
  checkSetOptionNames,
  checkWarmupOptionNames,
} from "../src/cache/_options.ts";
import { FakeRedis } from "../src/testing/fake_redis.ts";
import { RedisClient } from "../src/resp/client.ts";
import { RedisClusterClient } from "../src/resp/cluster/cluster_client.ts";
import { SentinelConnector } from "../src/resp/sentinel.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
const quiet = { warn() {}, error() {}, debug() {} };

/** Runs `fn`, expects an InvalidOptionError, and returns it. */
function optionError(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError, String(error));
    return error;
  }
  assert.fail("no InvalidOptionError thrown");
}

/** The error's message, stack and cause chain, as one text. */
function allText(error: Error): string {
  let out = "";
  for (let e: unknown = error; e instanceof Error; e = e.cause) out += e.message + e.stack;
  return out;
}

describe("hardening: option errors carry no password (item 7)", () => {
  test("a URL string passed instead of RedisBackend options", () => {
    const e = optionError(() => new RedisBackend("redis://user:secret-pw@host:6379" as Any));
    assert.ok(!allText(e).includes("secret-pw"), e.message);
    assert.match(e.message, /user:\*\*\*@host/);
  });

  test("url given as a URL object", () => {
    const e = optionError(() =>
      new RedisBackend({ url: new URL("redis://user:secret-pw@host:6379") as Any })
    );
    assert.ok(!allText(e).includes("secret-pw"), e.message);
    assert.match(e.message, /received a URL/);
  });

  test("remoteCache given RedisBackend options ({ url } or { password })", () => {
    for (const remoteCache of [{ url: "redis://u:secret-pw@h" }, { password: "secret-pw" }]) {
      const e = optionError(() => new AsyncCache({ remoteCache: remoteCache as Any }));
      assert.ok(!allText(e).includes("secret-pw"), e.message);
    }
  });

  test("a URL-like string in any option is redacted; a password-like key's value is masked", () => {
    const e1 = optionError(() => new RedisBackend({ port: "redis://u:secret-pw@h" as Any }));
    assert.ok(!e1.message.includes("secret-pw"), e1.message);
    const e2 = optionError(() => new RedisBackend({ password: 12345678 as Any }));
    assert.ok(!e2.message.includes("12345678"), e2.message);
    const e3 = optionError(() =>
      new RedisBackend({
        cluster: { nodes: [{ host: "h", port: 1, password: "secret-pw" }] } as Any,
      })
    );
    assert.ok(!e3.message.includes("secret-pw"), e3.message);
  });
});

describe("hardening: an unencoded ? # or / in a URL password (item 13)", () => {
  for (const password of ["s3cr?et99", "12#3499", "77/et99"]) {
    test(`refuses redis://user:${password}@host:6379 without quoting the password`, () => {
      const e = optionError(() => new RedisBackend({ url: `redis://user:${password}@host:6379` }));
      assert.equal(e.option, "url");
      assert.match(e.message, /percent-encode|%3F/);
      assert.ok(!e.message.includes("et99") && !e.message.includes("3499"), e.message);
    });
  }

  test("the same password percent-encoded is accepted", () => {
    const backend = new RedisBackend({
      url: `redis://user:${encodeURIComponent("s3cr?et#9/9")}@host:6379`,
      logger: quiet,
    });
    return backend.close();
  });
});

describe("hardening: unknown option names are refused, with the closest known one (item 14)", () => {
  test("AsyncCache: defaultTTL and maxSize", () => {
    const e = optionError(() => new AsyncCache({ defaultTTL: "5s" } as Any));
    assert.equal(e.option, "defaultTTL");
    assert.match(e.message, /did you mean `defaultTtl`\?/);
    const e2 = optionError(() => new AsyncCache({ maxSize: 10 } as Any));
    assert.match(e2.message, /did you mean `maxsize`\?/);
  });

  test("an unknown option's value is never quoted (it may be a misspelt password)", () => {
    const e = optionError(() => new RedisBackend({ pasword: "secret-pw" } as Any));
    assert.match(e.message, /did you mean `password`\?/);
    assert.ok(!e.message.includes("secret-pw"), e.message);
  });

  test("RedisBackend: hostname, cluster.maxRedirect, tls.servrname, parserLimits.maxBulk", () => {
    assert.match(
      optionError(() => new RedisBackend({ hostname: "redis.internal" } as Any)).message,
      /did you mean `host`\?/,
    );
    assert.match(
      optionError(() =>
        new RedisBackend({ cluster: { nodes: [{ host: "h", port: 1 }], maxRedirect: 3 } } as Any)
      ).message,
      /did you mean `maxRedirects`\?/,
    );
    assert.match(
      optionError(() => new RedisBackend({ tls: { servrname: "x" } } as Any)).message,
      /did you mean `servername`\?/,
    );
    assert.match(
      optionError(() => new RedisBackend({ parserLimits: { maxBulkLen: 10 } } as Any)).message,
      /did you mean `maxBulkLength`\?/,
    );
    assert.match(
      optionError(() =>
        new RedisBackend(
          { sentinels: [{ host: "h", port: 1 }], name: "m", sentinelPasword: "x" } as Any,
        )
      ).message,
      /did you mean `sentinelPassword`\?/,
    );
  });

  test("decorators, AgentCache and DiskBackend", () => {
    assert.match(optionError(() => AsyncLRU({ maxSize: 3 } as Any)).message, /`maxsize`/);
    assert.match(
      optionError(() => AsyncTTL({ timeToLive: "1s", skipArg: 1 } as Any)).message,
      /did you mean `skipArgs`\?/,
    );
    assert.match(
      optionError(() => AgentCache({ resource: "r", ttl: "1m", scop: "user" } as Any)).message,
      /did you mean `scope`\?/,
    );
    assert.match(
      optionError(() => new DiskBackend("x.snap", { filestore: {} } as Any)).message,
      /did you mean `fileStore`\?/,
    );
    assert.match(
      optionError(() => AsyncLRU({ lease: { ttl: "1s", timeout: "2s" } } as Any)).message,
      /lease/,
    );
  });

  test("RedisClient, RedisClusterClient and SentinelConnector", () => {
    const connect = new FakeRedis().connect;
    assert.match(
      optionError(() => new RedisClient({ connect, hostname: "h" } as Any)).message,
      /did you mean `host`\?/,
    );
    assert.match(
      optionError(() =>
        new RedisClusterClient({ connect, nodes: [{ host: "h", port: 1 }], maxRedirect: 1 } as Any)
      ).message,
      /RedisClusterClient: maxRedirect .*did you mean `maxRedirects`\?/,
    );
    assert.match(
      optionError(() =>
        new SentinelConnector(
          { connect, sentinels: [{ host: "h", port: 1 }], name: "m", timeout: 1 } as Any,
        )
      ).message,
      /did you mean `timeoutMs`\?/,
    );
  });

  test("a name far from every known one lists the known names instead", () => {
    const e = optionError(() => new DiskBackend("x.snap", { zzzzzz: 1 } as Any));
    assert.match(e.message, /known options: fileStore, logger/);
  });

  test("AsyncCache.get refuses an unknown per-call option, on a hit too", async () => {
    const cache = new AsyncCache<number>({ logger: quiet });
    await cache.set("k", 1);
    await assert.rejects(
      cache.get("k", { loader: () => 2, tll: "5s" } as Any),
      (e: unknown) => e instanceof InvalidOptionError && /did you mean `ttl`\?/.test(e.message),
    );
    assert.equal(await cache.get("k", { loader: () => 2 }), 1);
    await cache.close();
  });

  test("set, refresh and warmup refuse an unknown option and change nothing", async () => {
    const cache = new AsyncCache<number>({ logger: quiet });
    await cache.set("k", 1);
    const typo = (re: RegExp) => (e: unknown) =>
      e instanceof InvalidOptionError && re.test(e.message);
    await assert.rejects(cache.set("k", 2, { tag: ["a"] } as Any), typo(/did you mean `tags`\?/));
    await assert.rejects(
      cache.refresh("k", { loader: () => 3, tll: 5 } as Any),
      typo(/did you mean `ttl`\?/),
    );
    await assert.rejects(
      cache.warmup({ k: () => 4 }, { forced: true } as Any),
      typo(/did you mean `force`\?/),
    );
    assert.equal(await cache.get("k"), 1);
    await cache.close();
  });

  test("the exported per-call checkers for set, refresh and warmup", () => {
    checkSetOptionNames({ ttl: 1, tags: [] });
    checkRefreshOptionNames({ loader: () => 1, ttl: 1, tags: [] });
    checkWarmupOptionNames({ ttl: 1, tags: [], force: true });
    assert.throws(() => checkSetOptionNames({ tag: ["a"] }), /did you mean `tags`\?/);
    assert.throws(() => checkRefreshOptionNames({ loder: () => 1 }), /did you mean `loader`\?/);
    assert.throws(() => checkWarmupOptionNames({ forced: true }), /did you mean `force`\?/);
    // Inherited keys are not the caller's: only own enumerable names count.
    checkSetOptionNames(Object.create({ inherited: 1 }));
  });

  test("every documented option is still accepted", async () => {
    const fake = new FakeRedis();
    const backend = new RedisBackend({
      transport: fake.connect,
      logger: quiet,
      prefix: "t:",
      connectTimeout: "1s",
      socketTimeout: "1s",
      clientName: null,
      tracking: false,
      healthCheckInterval: "1s",
      parserLimits: { maxBulkLength: 10, maxAggregateLength: 10, maxDepth: 4, maxLineLength: 100 },
      maxEntryBytes: 1_000,
      tls: { servername: "x", ca: [] },
      db: 1,
      username: "u",
      password: "p",
    });
    const cache = new AsyncCache({
      maxsize: 10,
      defaultTtl: "1s",
      batchWindowMs: 1,
      maxBatchSize: 2,
      remoteCache: backend,
      namespace: "n",
      logger: quiet,
      staleWhileRevalidate: "1s",
      grace: "1s",
      softTimeout: "1s",
      hardTimeout: "2s",
      refreshAhead: 0.5,
      lease: { ttl: "1s", wait: "2s", poll: "100ms" },
    });
    await cache.close();
    await backend.close();
    await fake.close();
  });
});
