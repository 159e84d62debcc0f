import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, keySlot, RedisBackend, type RedisClusterClient } from "../mod.ts";
import { entryKey, loadLoop, RecordingLogger, sleep, storedValue, waitFor } from "./_helpers.ts";
import { redisServerAvailable, SKIP_MESSAGE } from "./_redis_server.ts";
import { cli, type RedisCluster, startRedisCluster } from "./_redis_cluster.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("RedisBackend on a Redis Cluster (3 primaries + 3 replicas)", { skip }, () => {
  let cluster: RedisCluster;
  const backends: RedisBackend[] = [];
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    for (const b of backends) await b.close();
    await cluster?.stop();
  });

  const backend = (options: Record<string, unknown> = {}) => {
    const b = new RedisBackend({
      // One seed is enough: the rest is discovered.
      cluster: { nodes: [cluster.seeds[0]] },
      logger: new RecordingLogger(),
      ...options,
    });
    backends.push(b);
    return b;
  };
  const clusterClient = (b: RedisBackend) => b.client as RedisClusterClient;

  test("keySlot agrees with CLUSTER KEYSLOT, hash tags included", async () => {
    const b = backend();
    const keys = ["foo", "123456789", "{user1000}.following", "a{}b", "{}{x}", "é{tag}x", "{a}{b}"];
    for (let i = 0; i < 40; i++) keys.push(`key:${i * 7919}`);
    for (const key of keys) {
      assert.equal(await b.client.command(["CLUSTER", "KEYSLOT", key]), keySlot(key), key);
    }
  });

  test("keys on every slot range: written through one seed, on all three primaries", async () => {
    const b = backend({ prefix: "spread:" });
    const keys = Array.from({ length: 600 }, (_, i) => `k${i}`);
    await b.setMany(keys.map((k, i) => [k, { i }, 60_000]));
    const primaries = await clusterClient(b).primaries();
    assert.equal(primaries.length, 3);
    const sizes = await Promise.all(primaries.map((p) => p.command(["DBSIZE"])));
    for (const size of sizes) assert.ok((size as number) > 100, `uneven spread: ${sizes}`);
    const values = await b.getMany(keys);
    assert.deepEqual(values, keys.map((_, i) => ({ i })));
  });

  test("MGET across slots: split per slot, one round trip per node, values in key order", async () => {
    const b = backend({ prefix: "mget:" });
    const keys = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? `{tag}${i}` : `m${i}`));
    await b.setMany(keys.map((k, i) => [k, `v${i}`]));
    const values = await b.getMany([...keys, "absent"]);
    assert.deepEqual(values, [...keys.map((_, i) => `v${i}`), undefined]);
    const withTtl = await b.getManyWithTtl(keys.slice(0, 10));
    assert.deepEqual(withTtl.map((e) => e?.value), keys.slice(0, 10).map((_, i) => `v${i}`));
    // Hash-tagged keys share one slot: a raw MGET of them goes to one node as is.
    const tagged = keys.filter((k) => k.startsWith("{tag}")).map((k) => "mget:" + k);
    assert.equal(new Set(tagged.map(keySlot)).size, 1);
    const raw = await b.client.command(["MGET", ...tagged]) as unknown[];
    assert.equal(raw.length, tagged.length);
    assert.ok(raw.every((v) => v instanceof Uint8Array));
    // Multi-key UNLINK is split by slot too, and the counts summed.
    assert.equal(await b.client.command(["UNLINK", ...keys.map((k) => "mget:" + k)]), 200);
  });

  test("clear() deletes its prefix on every primary, and nothing else", async () => {
    const a = backend({ prefix: "ca:" });
    const other = backend({ prefix: "cb:" });
    const keys = Array.from({ length: 300 }, (_, i) => `x${i}`);
    await a.setMany(keys.map((k) => [k, 1]));
    await other.setMany(keys.map((k) => [k, 2]));
    await a.clear();
    assert.deepEqual(await a.getMany(keys), keys.map(() => undefined));
    assert.deepEqual(await other.getMany(keys), keys.map(() => 2));
    assert.equal(await other.deleteByPrefix(""), 300);
  });

  test("coherence: every primary tracks; a write on A drops B's L1 copy, whatever the slot", async () => {
    const [ra, rb] = [backend({ prefix: "coh:" }), backend({ prefix: "coh:" })];
    const a = new AsyncCache<string>({ remoteCache: ra, logger: new RecordingLogger() });
    const b = new AsyncCache<string>({ remoteCache: rb, logger: new RecordingLogger() });
    try {
      const keys = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]; // several slots
      for (const k of keys) await a.set(k, "v1");
      await a.flush();
      for (const k of keys) assert.equal(await b.get(k), "v1");
      assert.equal(b.getMetrics().coherence, "tracking");
      for (const k of keys) await a.set(k, "v2");
      await a.flush();
      for (const k of keys) await waitFor(async () => (await b.get(k)) === "v2", 3_000);
      assert.ok(b.getMetrics().invalidations >= keys.length);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("batch loads are written back: B's batch get of A's keys loads nothing (issue 15 item 10)", async () => {
    const [ra, rb] = [backend({ prefix: "batch:" }), backend({ prefix: "batch:" })];
    const logger = new RecordingLogger();
    const a = new AsyncCache<string>({ remoteCache: ra, logger });
    const b = new AsyncCache<string>({ remoteCache: rb, logger });
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `b${i}`); // several slots
      const loaded: string[][] = [];
      const batchLoader = (ks: string[]) => {
        loaded.push(ks);
        return ks.map((k) => `v:${k}`);
      };
      assert.deepEqual(
        await Promise.all(keys.map((k) => a.get(k, { batchLoader }))),
        keys.map((k) => `v:${k}`),
      );
      await a.flush();
      assert.deepEqual(loaded.flat().sort(), [...keys].sort());
      assert.deepEqual(
        (await rb.getMany(keys.map((k) => entryKey(k)))).map(storedValue),
        keys.map((k) => `v:${k}`),
        "not written back to L2",
      );
      loaded.length = 0;
      assert.deepEqual(
        await Promise.all(keys.map((k) => b.get(k, { batchLoader }))),
        keys.map((k) => `v:${k}`),
      );
      assert.deepEqual(loaded, [], "B loaded again what A's batch loaded");
      assert.equal(b.getMetrics().l2Hits, keys.length);
      assert.equal(
        a.getMetrics().l2Errors,
        0,
        `L2 errors: ${JSON.stringify([...logger.warnings, ...logger.errors])}`,
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("connections to primaries open as their slots are used, not all at discovery (issue 16 item 8)", async () => {
    const b = backend({ prefix: "lazy:", healthCheckInterval: 50 });
    await b.get("x");
    await sleep(300); // several health checks: they ping open connections only
    const primaries = await clusterClient(b).primaries();
    assert.equal(primaries.length, 3);
    const open = primaries.filter((p) => p.status === "ready").length;
    // The seed the topology was read from, and the primary of "x" (perhaps the same one).
    assert.ok(open >= 1 && open <= 2, `${open} of 3 primaries connected after one get`);
    await b.getMany(Array.from({ length: 30 }, (_, i) => `k${i}`));
    await waitFor(() => primaries.every((p) => p.status === "ready"), 3_000);
  });

  test("the health check PINGs every primary each interval, not one in turn (issue 15 item 21)", async () => {
    const INTERVAL = 50;
    const b = backend({ prefix: "hc:", healthCheckInterval: INTERVAL });
    // Keys on every primary (connections open as slots are used).
    await b.getMany(Array.from({ length: 30 }, (_, i) => `x${i}`));
    await waitFor(() => b.coherence === "tracking", 3_000);
    const primaries = await clusterClient(b).primaries();
    assert.equal(primaries.length, 3);
    await waitFor(() => primaries.every((p) => p.status === "ready"), 3_000);
    // Count the PINGs each primary's connection is given (wrapping its command()).
    const pings = primaries.map(() => 0);
    primaries.forEach((p, i) => {
      const command = p.command.bind(p);
      p.command = (args) => {
        if (String(args[0]).toUpperCase() === "PING") pings[i]++;
        return command(args);
      };
    });
    // Intervals elapsed, counted by a timer of the same period (robust to a busy machine).
    let ticks = 0;
    const ticker = setInterval(() => ticks++, INTERVAL);
    await sleep(20 * INTERVAL);
    clearInterval(ticker);
    for (let i = 0; i < pings.length; i++) {
      assert.ok(
        pings[i] >= ticks * 0.7,
        `primary ${i} got ${pings[i]} PINGs in ${ticks} intervals (all: ${pings})`,
      );
    }
  });

  test("a slot migrated during load: ASK, then MOVED, and no command fails", async () => {
    const b = backend({ prefix: "mig:" });
    const client = clusterClient(b);
    const keys = Array.from({ length: 60 }, (_, i) => `{mig}:${i}`);
    const slot = keySlot("mig");
    await b.setMany(keys.map((k, i) => [k, i]));
    const source = await cluster.owner(slot);
    const nodes = await cluster.nodes();
    const target = nodes.find((n) => n.primary && !n.failed && n.id !== source.id)!;

    let stop = false;
    let reads = 0;
    const failures: string[] = [];
    const load = (async () => {
      while (!stop) {
        await Promise.all(keys.map(async (k, i) => {
          try {
            const v = await b.get(k);
            if (v !== i) failures.push(`${k}: ${v}`);
            reads++;
          } catch (error) {
            failures.push(`${k}: ${(error as Error).message}`);
          }
        }));
        await sleep(1);
      }
    })();

    await cli(target.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id);
    await cli(source.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", target.id);
    const migrate = (names: string[]) =>
      cli(
        source.port,
        "MIGRATE",
        "127.0.0.1",
        String(target.port),
        "",
        "0",
        "5000",
        "KEYS",
        ...names,
      );
    const full = keys.map((k) => `mig:${k}`);
    await migrate(full.slice(0, 30));
    // A migrated key is now answered with ASK by the source.
    assert.equal(await b.get(keys[0]), 0);
    await sleep(150);
    assert.ok(client.redirects.ask > 0, "ASK was never followed");
    await migrate(full.slice(30));
    const movedBefore = client.redirects.moved;
    // The documented order: the target first, then the source, then the others.
    const others = nodes.filter((n) =>
      n.primary && !n.failed && n !== target && n.id !== source.id
    );
    for (const n of [target, source, ...others]) {
      await cli(n.port, "CLUSTER", "SETSLOT", String(slot), "NODE", target.id);
    }
    await waitFor(() => client.redirects.moved > movedBefore, 5_000).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(client.redirects)} ${failures.slice(0, 3)}`);
    });
    await sleep(200);
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(reads > keys.length * 2, `only ${reads} reads`);
    assert.equal(await b.get(keys[59]), 59);
    assert.equal((await cluster.owner(slot)).id, target.id);
  });

  test("a primary killed during load: 0 failed gets, L2 back after the failover", async () => {
    const b = backend({ prefix: "fo:", socketTimeout: "300ms", connectTimeout: "300ms" });
    const probe = backend({ prefix: "fo:", cluster: { nodes: cluster.seeds } });
    const cache = new AsyncCache<string>({
      maxsize: 20,
      remoteCache: b,
      logger: new RecordingLogger(),
    });
    const keys = Array.from({ length: 150 }, (_, i) => `f${i}`);
    for (const k of keys) await cache.set(k, `v:${k}`);
    await cache.flush();
    // The victim: the primary of the first key's slot.
    const victim = await cluster.owner(keySlot("fo:" + entryKey(keys[0])));
    const load = loadLoop(cache, keys);
    await sleep(200);
    await cluster.server(victim.port).kill();
    const killedAt = Date.now();
    await cluster.waitHealthy(20_000);
    // L2 back: a write through the cache to a key of the failed-over slots reaches Redis.
    await waitFor(async () => {
      const key = `after${Math.random()}`.slice(0, 12);
      const k = keys[0];
      await cache.set(k, `v:${k}`);
      await cache.flush();
      await cache.set(key, "x");
      await cache.flush();
      try {
        return storedValue(await probe.get(entryKey(k))) === `v:${k}` &&
          storedValue(await probe.get(entryKey(key))) === "x";
      } catch {
        return false;
      }
    }, 20_000);
    const l2Back = Date.now() - killedAt;
    const hitsBefore = cache.getMetrics().l2Hits;
    await sleep(300);
    const { gets, failures } = await load.stop();
    await cache.close();
    assert.deepEqual(failures, []);
    assert.ok(gets > 1000, `only ${gets} gets`);
    assert.ok(cache.getMetrics().l2Hits > hitsBefore, "no L2 hit after the failover");
    console.log(`  failover: L2 back ${l2Back} ms after the kill; ${gets} gets, 0 failed`);
  });
});
