/**
 * Least privilege (issue 9 item 2): the library works for an ACL user limited
 * to its prefix and the commands it uses, and never takes a permission error
 * for a wrong password.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, AsyncTTL, RedisBackend, RedisClient } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { RecordingLogger } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

/** The ACL the README documents: the prefix, no channels, and only the commands the library sends. */
export const LEAST_PRIVILEGE_ACL =
  "~ac:* resetchannels -@all +get +mget +set +pttl +unlink +scan +zadd +zscore +eval +ping +hello +client|tracking";

const decoder = new TextDecoder();

describe("RedisBackend with a least-privilege ACL user", { skip }, () => {
  let server: RedisServer;
  let admin: RedisClient;

  before(async () => {
    server = await startRedisServer({
      password: "root",
      users: [
        `cache on >pw ${LEAST_PRIVILEGE_ACL}`,
        // A user that may not even SELECT: a setup failure that is not an auth failure.
        `noselect on >pw ~ac:* resetchannels -@all +get +set +mget`,
      ],
    });
    admin = new RedisClient({ connect: defaultConnect, port: server.port, password: "root" });
  });
  after(async () => {
    await admin?.close();
    await server?.stop();
  });

  /** The names of the connections of user `user`, from `CLIENT LIST`. */
  async function clientNames(user: string): Promise<string[]> {
    const list = await admin.command(["CLIENT", "LIST"]);
    const text = typeof list === "string" ? list : decoder.decode(list as Uint8Array);
    return text.split("\n").filter((l) => l.includes(` user=${user} `)).map((l) =>
      / name=(\S*)/.exec(l)![1]
    );
  }

  const open = (extra: Record<string, unknown> = {}, logger = new RecordingLogger()) =>
    new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      username: "cache",
      password: "pw",
      connectTimeout: 2_000,
      logger,
      ...extra,
    });

  test("every RedisBackend operation works, and the client name is set through HELLO", async () => {
    const backend = open();
    try {
      await backend.set("a", { n: 1 }, 60_000);
      await backend.setMany([["b", 2, 60_000], ["c", [3]]]);
      assert.deepEqual(await backend.get("a"), { n: 1 });
      assert.deepEqual(await backend.getMany(["a", "b", "c", "none"]), [
        { n: 1 },
        2,
        [3],
        undefined,
      ]);
      const [withTtl] = await backend.getManyWithTtl(["a"]);
      // The user may track keys: expiries arrive as invalidations, so no PTTL is read.
      assert.equal(backend.coherence, "tracking");
      assert.deepEqual(withTtl, { value: { n: 1 } });
      await backend.delete("a");
      assert.equal(await backend.get("a"), undefined);
      assert.equal(await backend.deleteByPrefix("b"), 1);
      await backend.clear();
      assert.equal(await backend.get("c"), undefined);
      assert.deepEqual(await clientNames("cache"), ["async-cache"]);
    } finally {
      await backend.close();
    }
  });

  test("AsyncCache and a decorator over it: no L2 error", async () => {
    const backend = open();
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ remoteCache: backend, defaultTtl: "60s", logger });
    const fn = AsyncTTL({ timeToLive: "60s", remoteCache: backend, logger })(
      function aclValue(id: number) {
        return Promise.resolve(`v${id}`);
      },
    );
    try {
      assert.equal(await cache.get("k", { loader: () => "loaded" }), "loaded");
      await cache.set("k2", "v2");
      await cache.flush();
      await cache.delete("k2");
      assert.equal(await fn(1), "v1");
      await fn.cache.flush();
      await cache.clear();
      await cache.flush();
      assert.equal(cache.getMetrics().l2Errors, 0, logger.warnings.join("\n"));
      assert.equal(fn.getMetrics().l2Errors, 0, logger.warnings.join("\n"));
    } finally {
      await cache.close();
      await fn.cache.close();
      await backend.close();
    }
  });

  test("clientName: null sends no name", async () => {
    const backend = open({ clientName: null });
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      username: "cache",
      password: "pw",
      clientName: null,
    });
    try {
      await backend.set("x", 1);
      await client.command(["PING"]);
      assert.deepEqual(await clientNames("cache"), ["", ""]);
    } finally {
      await backend.close();
      await client.close();
    }
  });

  test("RESP2: a NOPERM on CLIENT SETNAME is logged once and the connection is used", async () => {
    const logger = new RecordingLogger();
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      username: "cache",
      password: "pw",
      protocol: 2,
      clientName: "resp2-app",
      logger,
      backoff: () => 10,
    });
    try {
      assert.equal(await client.command(["SET", "ac:r2", "v"]), "OK");
      assert.equal(client.protocol, 2);
      // Reconnect: the warning is not repeated.
      const ready = new Promise((r) => client.addEventListener("ready", r, { once: true }));
      await admin.command(["CLIENT", "KILL", "USER", "cache"]);
      await ready;
      assert.equal(await client.command(["PING"]), "PONG");
      const lines = logger.warnings.filter((w) => /SETNAME/.test(w));
      assert.equal(lines.length, 1, logger.warnings.join("\n"));
      assert.match(lines[0], /NOPERM/);
      assert.equal(logger.errors.length, 0, logger.errors.join("\n"));
    } finally {
      await client.close();
    }
  });

  test("a NOPERM on a command fails that command only, never as an auth error", async () => {
    const backend = open();
    try {
      await assert.rejects(backend.client.command(["GET", "other:key"]), (e: Error) => {
        assert.equal(e.name, "RedisReplyError");
        assert.match(e.message, /NOPERM/);
        return true;
      });
      await assert.rejects(backend.client.command(["CONFIG", "GET", "maxmemory"]), {
        name: "RedisReplyError",
      });
      assert.equal(backend.client.status, "ready");
      await backend.set("still", "fine");
      assert.equal(await backend.get("still"), "fine");
    } finally {
      await backend.close();
    }
  });

  test("a NOPERM while connecting (SELECT) is not reported as refused credentials", async () => {
    const logger = new RecordingLogger();
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      username: "noselect",
      password: "pw",
      db: 1,
      logger,
      backoff: () => 1_000,
    });
    try {
      await assert.rejects(client.connect(), (e: Error) => {
        assert.notEqual(e.name, "RedisAuthError");
        assert.match(e.message, /NOPERM/);
        return true;
      });
      assert.ok(!logger.errors.some((m) => /credentials/i.test(m)), logger.errors.join("\n"));
    } finally {
      await client.close();
    }
  });
});
