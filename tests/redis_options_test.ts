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

  test("an invalid URL's error does not print its password", () => {
    const urls = [
      "redis://alice:hunter2@host:notaport",
      "redis://:hunter2@host/notadb",
      "redis://alice:hunter2@host:6379/1?db=x",
      "http://alice:hunter2@host",
      "redis://alice:hunter2@[::1",
      "unix://alice:hunter2@",
    ];
    for (const url of urls) {
      assert.throws(
        () => new RedisBackend({ url }),
        (e: unknown) => {
          assert.ok(e instanceof InvalidOptionError, String(e));
          assert.equal(e.option, "url");
          assert.ok(!e.message.includes("hunter2"), e.message);
          assert.match(e.message, /alice:\*\*\*@|:\*\*\*@/);
          return true;
        },
        url,
      );
    }
  });

  test("bad percent-encoding in a URL is an InvalidOptionError, not a URIError", () => {
    for (
      const url of ["redis://alice:%E0%A4%A@host", "redis://%zz:pw@host", "unix:///tmp/%E0%A4"]
    ) {
      assert.throws(
        () => new RedisBackend({ url }),
        (e: unknown) =>
          e instanceof InvalidOptionError && e.option === "url" && !e.message.includes("%E0%A4%A"),
        url,
      );
    }
  });

  test("clientName: null turns the connection name off; the default is async-cache", () => {
    assert.equal(resolveRedisOptions().clientName, "async-cache");
    assert.equal(resolveRedisOptions({ clientName: null }).clientName, null);
    assert.equal(resolveRedisOptions({ clientName: "svc-a" }).clientName, "svc-a");
  });

  test("parserLimits is validated at construction and kept", () => {
    const limits = { maxBulkLength: 1024, maxDepth: 8 };
    assert.deepEqual(resolveRedisOptions({ parserLimits: limits }).parserLimits, limits);
    for (
      const parserLimits of [
        { maxBulkLength: 0 },
        { maxDepth: 1.5 },
        { maxLineLength: "big" },
        "big",
        null,
      ]
    ) {
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => new RedisBackend({ parserLimits: parserLimits as any }),
        (e: unknown) => e instanceof InvalidOptionError && e.option === "parserLimits",
        JSON.stringify(parserLimits),
      );
    }
  });

  test("a prefix must end with a separator, so clear() cannot reach another prefix's keys", () => {
    for (const prefix of ["svc", "app1", "café"]) {
      assert.throws(
        () => new RedisBackend({ prefix }),
        (e: unknown) =>
          e instanceof InvalidOptionError && e.option === "prefix" && /separator/.test(e.message),
        prefix,
      );
    }
    for (const prefix of ["svc:", "app1/", "a.b.", "x-", "t_", "{tag}", ""]) {
      assert.equal(resolveRedisOptions({ prefix }).prefix, prefix);
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
