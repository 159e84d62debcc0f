import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InvalidOptionError, RedisBackend } from "../mod.ts";
import { resolveRedisOptions } from "../src/remote/redis_options.ts";

describe("RedisBackend options", () => {
  test("defaults", () => {
    const o = resolveRedisOptions();
    assert.equal(o.host, "localhost");
    assert.equal(o.port, 6379);
    assert.equal(o.db, 0);
    assert.equal(o.prefix, "ac:");
    assert.equal(o.connectTimeoutMs, 5_000);
    assert.equal(o.socketTimeoutMs, 5_000);
    assert.equal(o.tls, undefined);
    assert.equal(o.password, undefined);
  });

  test("redis:// URL with user, password, port and db", () => {
    const o = resolveRedisOptions({ url: "redis://alice:p%40ss@cache.internal:6380/3" });
    assert.equal(o.host, "cache.internal");
    assert.equal(o.port, 6380);
    assert.equal(o.db, 3);
    assert.equal(o.username, "alice");
    assert.equal(o.password, "p@ss");
    assert.equal(o.tls, undefined);
  });

  test("password-only URL, rediss:// turns TLS on, IPv6 host", () => {
    const o = resolveRedisOptions({ url: "rediss://:secret@[::1]:7000" });
    assert.equal(o.username, undefined);
    assert.equal(o.password, "secret");
    assert.equal(o.host, "::1");
    assert.equal(o.tls, true);
  });

  test("unix socket URLs", () => {
    assert.equal(resolveRedisOptions({ url: "unix:///run/redis.sock" }).path, "/run/redis.sock");
    const o = resolveRedisOptions({ url: "redis+unix:///tmp/r.sock?db=2" });
    assert.equal(o.path, "/tmp/r.sock");
    assert.equal(o.db, 2);
  });

  test("explicit options override the URL", () => {
    const o = resolveRedisOptions({ url: "redis://h:1/1", port: 2, db: 5, tls: false });
    assert.equal(o.host, "h");
    assert.equal(o.port, 2);
    assert.equal(o.db, 5);
    assert.equal(o.tls, false);
  });

  test("durations accept ms and unit strings", () => {
    const o = resolveRedisOptions({ connectTimeout: 250, socketTimeout: "2s" });
    assert.equal(o.connectTimeoutMs, 250);
    assert.equal(o.socketTimeoutMs, 2_000);
  });

  test("bad options throw InvalidOptionError naming the option", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ port: 70000 }, "port"],
      [{ port: 0 }, "port"],
      [{ db: -1 }, "db"],
      [{ host: "" }, "host"],
      [{ url: "http://example" }, "url"],
      [{ url: "not a url" }, "url"],
      [{ url: "redis://h/notadb" }, "url"],
      [{ socketTimeout: "5 parsecs" }, "socketTimeout"],
      [{ connectTimeout: -1 }, "connectTimeout"],
      [{ username: "alice" }, "password"],
      [{ prefix: 1 }, "prefix"],
      [{ tls: "yes" }, "tls"],
      [{ transport: 1 }, "transport"],
      [{ clientName: "has space" }, "clientName"],
      [{ logger: {} }, "logger"],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => new RedisBackend(options),
        (e: unknown) =>
          e instanceof InvalidOptionError && e.option === option &&
          e.message.startsWith(`Cannot create RedisBackend: ${option}`),
        option,
      );
    }
  });

  test("a password never appears in an error message", () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => new RedisBackend({ password: 12345 as any }),
      (e: unknown) => e instanceof InvalidOptionError && !e.message.includes("12345"),
    );
  });
});
