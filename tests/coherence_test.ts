/**
 * Issue 10: coherent L1 across instances. Two or three caches, each on its
 * own RedisBackend (its own connection), against a real redis-server:
 * writes on A seen by B, raw writes, a killed connection, a slow loader
 * racing an invalidation, tags and namespace generations across instances,
 * FLUSHDB, the TTL-only fallback, and a write from another process.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { AsyncCache, RedisBackend, RedisClient } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { entryKey, RecordingLogger, repoRoot, sleep, waitFor } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
let unique = 0;

describe("coherence across instances (real Redis, RESP3 tracking)", { skip }, () => {
  let server: RedisServer;
  let admin: RedisClient;
  const backends: RedisBackend[] = [];
  const caches: AsyncCache<unknown>[] = [];

  before(async () => {
    server = await startRedisServer();
    admin = new RedisClient({ connect: defaultConnect, host: "127.0.0.1", port: server.port });
  });
  after(async () => {
    for (const c of caches) await c.close();
    for (const b of backends) await b.close();
    await admin?.close();
    await server?.stop();
  });

  const backend = (options: { tracking?: boolean; logger?: RecordingLogger } = {}) => {
    const b = new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      socketTimeout: 1_000,
      logger: options.logger ?? new RecordingLogger(),
      tracking: options.tracking,
    });
    backends.push(b);
    return b;
  };
  const cache = <V>(b: RedisBackend, namespace = "", defaultTtl: number | undefined = 60_000) => {
    const c = new AsyncCache<V>({
      remoteCache: b,
      namespace,
      defaultTtl,
      logger: new RecordingLogger(),
    });
    caches.push(c as AsyncCache<unknown>);
    return c;
  };
  const pair = <V>(namespace = "") => {
    const a = cache<V>(backend(), namespace);
    const b = cache<V>(backend(), namespace);
    return [a, b] as const;
  };

  test("a set on A drops B's L1 copy; B reads the new value", async () => {
    const [a, b] = pair<string>();
    const key = `k${++unique}`;
    await a.set(key, "v1");
    await a.flush();
    assert.equal(await b.get(key), "v1"); // L2 hit, now in B's L1 (tracked)
    assert.equal(await b.get(key), "v1");
    assert.equal(b.getMetrics().l1Hits, 1);
    assert.equal(b.getMetrics().coherence, "tracking");
    await a.set(key, "v2");
    await a.flush();
    await waitFor(async () => (await b.get(key)) === "v2", 2_000);
    assert.ok(b.getMetrics().invalidations >= 1);
    await a.delete(key);
    await waitFor(async () => (await b.get(key)) === undefined, 2_000);
  });

  test("with tracking, an L2 hit is one MGET (no PTTL)", async () => {
    const [a, b] = pair<string>();
    const key = `one${++unique}`;
    await a.set(key, "v");
    await a.flush();
    const before = await commandCount(admin, "pttl");
    assert.equal(await b.get(key), "v");
    assert.equal(await commandCount(admin, "pttl"), before);
  });

  test("a write by a raw client, expiry and FLUSHDB reach B's L1", async () => {
    const [a, b] = pair<string>();
    const key = `raw${++unique}`;
    await a.set(key, "v1");
    await a.flush();
    assert.equal(await b.get(key), "v1");
    await admin.command(["DEL", `ac:${entryKey(key)}`]);
    await waitFor(async () => (await b.get(key)) === undefined, 2_000);

    const short = `short${++unique}`;
    await a.set(short, "soon gone", { ttl: 150 });
    await a.flush();
    assert.equal(await b.get(short), "soon gone");
    // B keeps its L1 copy for its own TTL (60 s); Redis's expiry is what drops it.
    await waitFor(async () => (await b.get(short)) === undefined, 3_000);

    const flushed = `flush${++unique}`;
    await a.set(flushed, "v");
    await a.flush();
    assert.equal(await b.get(flushed), "v");
    await admin.command(["FLUSHDB"]);
    await waitFor(async () => (await b.get(flushed)) === undefined, 2_000);
  });

  test("CLIENT KILL of B's connection between a write and a read: B drops its copies", async () => {
    const a = cache<string>(backend());
    const bBackend = backend();
    const b = cache<string>(bBackend);
    const key = `kill${++unique}`;
    await a.set(key, "v1");
    await a.flush();
    assert.equal(await b.get(key), "v1");
    // B's connection dies; a write happens while B is not connected to hear it.
    const id = await bBackend.client.command(["CLIENT", "ID"]);
    const seen = b.getMetrics().invalidations;
    await admin.command(["CLIENT", "KILL", "ID", String(id)]);
    await waitFor(() => b.getMetrics().invalidations > seen, 2_000); // B noticed: dropped all
    await a.set(key, "v2");
    await a.flush();
    await waitFor(() => bBackend.client.status === "ready", 5_000);
    assert.equal(await b.get(key), "v2");
  });

  test("a slow loader in B racing a set on A: the older value is neither kept nor written back", async () => {
    const [a, b] = pair<string>();
    const key = `race${++unique}`;
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    const loading = b.get(key, {
      loader: async () => {
        await gate;
        return "old";
      },
    });
    await sleep(30); // B's L2 lookup (a tracked miss) is done; its loader waits
    await a.set(key, "new");
    await a.flush();
    await waitFor(() => b.getMetrics().invalidations >= 1, 2_000);
    release();
    assert.equal(await loading, "old"); // that caller asked before the write completed
    await b.flush();
    assert.equal(await b.get(key), "new");
    const c = cache<string>(backend());
    assert.equal(await c.get(key), "new", "L2 still holds A's value");
  });

  test("tags across instances, and a late write-back under an old tag generation", async () => {
    const [a, b] = pair<string>("tagged");
    const key = `user${++unique}`;
    await a.set(key, "profile", { tags: ["user:1"] });
    await a.flush();
    assert.equal(await b.get(key, { tags: ["user:1"] }), "profile");
    await a.invalidateTags(["user:1"]);
    await waitFor(async () => (await b.get(key)) === undefined, 2_000);
    assert.equal(await a.get(key), undefined);

    // B loads slowly under generation n; A invalidates the tag meanwhile.
    const late = `late${++unique}`;
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    const loading = b.get(late, {
      tags: ["user:2"],
      loader: async () => {
        await gate;
        return "stale";
      },
    });
    await sleep(30);
    await a.invalidateTags(["user:2"]);
    release();
    await loading;
    await b.flush();
    const c = cache<string>(backend(), "tagged");
    assert.equal(await c.get(late, { tags: ["user:2"] }), undefined, "old generation: a miss");
  });

  test("clear() of a namespace on A is O(1) and seen by B", async () => {
    const [a, b] = pair<string>(`ns${++unique}`);
    await a.set("x", "1");
    await a.flush();
    assert.equal(await b.get("x"), "1");
    await a.clear();
    await waitFor(async () => (await b.get("x")) === undefined, 2_000);
    const other = cache<string>(backend(), "unrelated");
    await other.set("x", "kept");
    await other.flush();
    await a.clear();
    await a.flush();
    assert.equal(await cache<string>(backend(), "unrelated").get("x"), "kept");
  });

  test("tracking: false (and a user without +client|tracking) fall back to TTLs", async () => {
    const off = cache<string>(backend({ tracking: false }));
    await off.set("t", "v");
    assert.equal(await off.get("t"), "v");
    assert.equal(off.getMetrics().coherence, "ttl");

    await admin.command([
      "ACL",
      "SETUSER",
      "notrack",
      "on",
      ">pw",
      "~*",
      "+@all",
      "-client|tracking",
    ]);
    const logger = new RecordingLogger();
    const limited = new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      username: "notrack",
      password: "pw",
      logger,
    });
    backends.push(limited);
    const c = cache<string>(limited);
    assert.equal(await c.get("t"), "v");
    assert.equal(c.getMetrics().coherence, "ttl");
    assert.equal(logger.warnings.filter((w) => /CLIENT TRACKING/.test(w)).length, 1);
  });

  test("values loaded while Redis was down at start-up are dropped when tracking starts (issue 15 item 5)", async () => {
    const late = await startRedisServer();
    await late.kill(); // its port is known, and nothing listens on it yet
    const on = (logger = new RecordingLogger()) =>
      new RedisBackend({
        host: "127.0.0.1",
        port: late.port,
        socketTimeout: 300,
        connectTimeout: 300,
        logger,
      });
    const ra = on();
    const rb = on();
    const a = new AsyncCache<string>({
      remoteCache: ra,
      defaultTtl: 60_000,
      logger: new RecordingLogger(),
    });
    const b = new AsyncCache<string>({
      remoteCache: rb,
      defaultTtl: 60_000,
      logger: new RecordingLogger(),
    });
    try {
      // A starts while Redis is down: both values come from the loader into L1 only.
      assert.equal(await a.get("before", { loader: () => "old" }), "old");
      assert.equal(await a.get("after", { loader: () => "old" }), "old");
      assert.equal(a.getMetrics().size, 2);
      await late.restart();
      // Another instance writes a newer value before A's connection is back...
      await b.set("before", "new");
      await b.flush();
      await waitFor(() => ra.coherence === "tracking", 10_000);
      assert.equal(await a.get("before"), "new");
      // ...and after it: A never read "after" from Redis, so only the drop at connect helps.
      await b.set("after", "new");
      await b.flush();
      assert.equal(await a.get("after"), "new");
    } finally {
      await a.close();
      await b.close();
      await ra.close();
      await rb.close();
      await late.stop();
    }
  });

  test("a write from another process drops this process's L1 copy", async () => {
    const b = cache<string>(backend());
    const key = `proc${++unique}`;
    await b.set(key, "mine");
    await b.flush();
    assert.equal(await b.get(key), "mine");
    await runPeer(server.port, key, "theirs");
    await waitFor(async () => (await b.get(key)) === "theirs", 3_000);
  });
});

async function commandCount(admin: RedisClient, name: string): Promise<number> {
  const info = String(await admin.command(["INFO", "commandstats"]));
  const m = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

function runPeer(port: number, key: string, value: string): Promise<void> {
  const root = repoRoot();
  const bin = join(root, "node_modules", ".bin", "deno");
  const script = join(root, "tests", "_coherence_peer.ts");
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["run", "-A", script, String(port), key, value], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => err += d);
    child.on("error", reject);
    child.on("exit", (code) => code === 0 ? resolve() : reject(new Error(`peer: ${code} ${err}`)));
  });
}
