import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type Connect,
  keySlot,
  RedisBackend,
  RedisClusterClient,
  RedisClusterError,
} from "../mod.ts";
import { FakeRedis, resp } from "../src/testing/fake_redis.ts";
import { parseClusterShards, parseClusterSlots } from "../src/resp/cluster/topology.ts";
import { clusterCommandObservers } from "../src/resp/cluster/cluster_client.ts";
import { RecordingLogger } from "./_helpers.ts";

const enc = new TextEncoder();
const b = (s: string) => resp.bulk(s);

/** Fake nodes on ports 7000.., answering CLUSTER SHARDS (RESP3 maps) from `layout`. */
function fakeCluster(ports: number[]) {
  const nodes = new Map(ports.map((p) => [p, new FakeRedis()]));
  const layout = { owners: new Map<number, [number, number][]>() };
  const shards = () =>
    resp.array([...layout.owners].map(([port, ranges]) =>
      resp.map([
        [b("slots"), resp.array(ranges.flat().map((n) => resp.int(n)))],
        [
          b("nodes"),
          resp.array([resp.map([
            [b("id"), b(`id${port}`)],
            [b("port"), resp.int(port)],
            [b("ip"), b("127.0.0.1")],
            [b("endpoint"), b("127.0.0.1")],
            [b("role"), b("master")],
            [b("health"), b("online")],
          ])]),
        ],
      ])
    ));
  for (const fake of nodes.values()) {
    fake.onCommand((
      args,
    ) => (args[0] === "CLUSTER" && args[1] === "SHARDS" ? shards() : undefined));
  }
  const connect: Connect = (o, h) => {
    const fake = nodes.get(o.port);
    return fake ? fake.connect(o, h) : Promise.reject(new Error("ECONNREFUSED"));
  };
  return {
    nodes,
    layout,
    connect,
    close: () => Promise.all([...nodes.values()].map((n) => n.close())),
  };
}

describe("cluster topology parsing", () => {
  test("CLUSTER SHARDS: the online master is the primary; replicas, tls-port, '?' endpoints", () => {
    const node = (port: number, role: string, health = "online") => [
      "id",
      `n${port}`,
      "port",
      port,
      "tls-port",
      port + 1000,
      "ip",
      "10.0.0.9",
      "endpoint",
      "?",
      "role",
      role,
      "health",
      health,
    ];
    const reply = [
      ["slots", [0, 100, 200, 300], "nodes", [
        node(7000, "master", "failed"),
        node(7001, "master"),
      ]],
      ["slots", [], "nodes", [node(7002, "master")]], // serves nothing: left out
    ];
    const asked = { host: "asked.example", port: 7000 };
    assert.deepEqual(parseClusterShards(reply, asked), {
      shards: [{
        primary: { host: "10.0.0.9", port: 7001 },
        replicas: [{ host: "10.0.0.9", port: 7000 }],
        slots: [[0, 100], [200, 300]],
      }],
    });
    assert.equal(parseClusterShards(reply, asked, true).shards[0].primary.port, 8001);
    assert.throws(() => parseClusterShards("x", asked), { name: "RedisProtocolError" });
    assert.throws(
      () => parseClusterShards([["slots", [5, 16384], "nodes", [node(1, "master")]]], asked),
      { name: "RedisProtocolError" },
    );
  });

  test("CLUSTER SLOTS: empty ip means the node asked; ranges of one primary gathered", () => {
    const reply = [
      [0, 5460, ["", 7000, "a"], ["127.0.0.1", 7003, "d"]],
      [5461, 10922, ["127.0.0.1", 7001, "b"]],
      [10923, 16383, ["", 7000, "a"]],
    ];
    const t = parseClusterSlots(reply, { host: "seed", port: 7000 });
    assert.deepEqual(t.shards.map((s) => [s.primary, s.slots]), [
      [{ host: "seed", port: 7000 }, [[0, 5460], [10923, 16383]]],
      [{ host: "127.0.0.1", port: 7001 }, [[5461, 10922]]],
    ]);
    assert.throws(() => parseClusterSlots([[1, 2]], { host: "h", port: 1 }), {
      name: "RedisProtocolError",
    });
  });
});

describe("RedisClusterClient against fake nodes", () => {
  let env: ReturnType<typeof fakeCluster>;
  let client: RedisClusterClient | undefined;
  afterEach(async () => {
    await client?.close();
    await env?.close();
  });

  test("routes by slot over RESP3 CLUSTER SHARDS; MGET split and reassembled", async () => {
    env = fakeCluster([7000, 7001]);
    env.layout.owners.set(7000, [[0, 8191]]).set(7001, [[8192, 16383]]);
    client = new RedisClusterClient({
      connect: env.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
    });
    const keys = Array.from({ length: 40 }, (_, i) => `key${i}`);
    for (const k of keys) await client.command(["SET", k, k]);
    for (const k of keys) {
      const owner = keySlot(k) < 8192 ? 7000 : 7001;
      assert.equal(env.nodes.get(owner)!.getString(k), k);
    }
    assert.equal(client.protocol, 3);
    const values = await client.command(["MGET", ...keys, "nope"]);
    assert.deepEqual(values, [...keys.map((k) => enc.encode(k)), null]);
    assert.equal((await client.primaries()).length, 2);
  });

  test("MOVED: retried on the named node, topology refreshed", async () => {
    env = fakeCluster([7000, 7001]);
    env.layout.owners.set(7000, [[0, 16383]]);
    client = new RedisClusterClient({
      connect: env.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
    });
    await client.command(["PING"]);
    const slot = keySlot("foo");
    env.nodes.get(7001)!.set("foo", "bar");
    env.layout.owners.set(7000, [[0, slot - 1], [slot + 1, 16383]]).set(7001, [[slot, slot]]);
    const stop = env.nodes.get(7000)!.onCommand((args) =>
      args[1] === "foo" ? resp.error(`MOVED ${slot} 127.0.0.1:7001`) : undefined
    );
    assert.deepEqual(await client.command(["GET", "foo"]), enc.encode("bar"));
    assert.equal(client.redirects.moved, 1);
    stop();
    await client.refresh();
    assert.deepEqual(await client.command(["GET", "foo"]), enc.encode("bar"));
    assert.equal(client.redirects.moved, 1);
  });

  test("command observers (instrumentation) see every node's round trips, a MOVED one too", async () => {
    env = fakeCluster([7000, 7001]);
    env.layout.owners.set(7000, [[0, 16383]]);
    client = new RedisClusterClient({
      connect: env.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
    });
    await client.command(["PING"]);
    const seen: string[] = [];
    const off = clusterCommandObservers(client).add({
      start: (args, server) => (error) =>
        seen.push(`${args[0]} ${server.address}:${server.port} ${error?.name ?? "ok"}`),
    });
    const slot = keySlot("foo");
    env.nodes.get(7001)!.set("foo", "bar");
    env.layout.owners.set(7000, [[0, slot - 1], [slot + 1, 16383]]).set(7001, [[slot, slot]]);
    const stop = env.nodes.get(7000)!.onCommand((args) =>
      args[1] === "foo" ? resp.error(`MOVED ${slot} 127.0.0.1:7001`) : undefined
    );
    assert.deepEqual(await client.command(["GET", "foo"]), enc.encode("bar"));
    stop();
    off();
    await client.command(["GET", "foo"]);
    assert.ok(seen.includes("GET 127.0.0.1:7000 RedisReplyError"), seen.join(" | "));
    assert.ok(seen.includes("GET 127.0.0.1:7001 ok"), seen.join(" | "));
    assert.equal(seen.filter((s) => s.startsWith("GET")).length, 2, seen.join(" | "));
  });

  test("ASK: ASKING then the command on the importing node, once; the slot map unchanged", async () => {
    env = fakeCluster([7000, 7001]);
    env.layout.owners.set(7000, [[0, 16383]]);
    client = new RedisClusterClient({
      connect: env.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
    });
    const slot = keySlot("k");
    env.nodes.get(7000)!.onCommand((args) =>
      args[0] === "GET" ? resp.error(`ASK ${slot} 127.0.0.1:7001`) : undefined
    );
    env.nodes.get(7001)!.set("k", "v");
    assert.deepEqual(await client.command(["GET", "k"]), enc.encode("v"));
    const seen = env.nodes.get(7001)!.commands.map((c) => c[0]);
    assert.deepEqual(seen.slice(-2), ["ASKING", "GET"]);
    assert.equal(client.redirects.ask, 1);
    await client.command(["GET", "k"]); // still asked at 7000 first
    assert.equal(client.redirects.ask, 2);
  });

  test("redirects are bounded: a MOVED loop ends in RedisClusterError", async () => {
    env = fakeCluster([7000, 7001]);
    env.layout.owners.set(7000, [[0, 16383]]);
    client = new RedisClusterClient({
      connect: env.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
      maxRedirects: 3,
    });
    const slot = keySlot("loop");
    env.nodes.get(7000)!.onCommand((a) =>
      a[1] === "loop" ? resp.error(`MOVED ${slot} 127.0.0.1:7001`) : undefined
    );
    env.nodes.get(7001)!.onCommand((a) =>
      a[1] === "loop" ? resp.error(`MOVED ${slot} 127.0.0.1:7000`) : undefined
    );
    await assert.rejects(client.command(["GET", "loop"]), {
      name: "RedisClusterError",
      message: /more than 3 times/,
    });
  });

  test("no reachable seed: RedisClusterError naming every node; transactions refused", async () => {
    env = fakeCluster([7000]);
    const log = new RecordingLogger();
    client = new RedisClusterClient({
      connect: env.connect,
      nodes: [{ host: "127.0.0.1", port: 6999 }, { host: "127.0.0.1", port: 6998 }],
      logger: log,
      connectTimeoutMs: 200,
    });
    const error = await client.command(["GET", "k"]).catch((e) => e);
    assert.ok(error instanceof RedisClusterError);
    assert.match(error.message, /6999.*6998/);
    await assert.rejects(client.command(["MULTI"]), { name: "InvalidOptionError" });
  });

  test("RedisBackend options: cluster is validated and excludes host, path, db, sentinels", async () => {
    const nodes = [{ host: "127.0.0.1", port: 7000 }];
    for (
      const bad of [
        { cluster: { nodes: [] } },
        { cluster: { nodes: [{ host: "", port: 1 }] } },
        { cluster: { nodes: [{ host: "h", port: 70000 }] } },
        { cluster: { nodes, maxRedirects: -1 } },
        { cluster: { nodes }, host: "h" },
        { cluster: { nodes }, port: 6379 },
        { cluster: { nodes }, db: 1 },
        { cluster: { nodes }, sentinels: nodes, name: "m" },
        { sentinels: nodes },
        { sentinelPassword: "x" },
      ]
    ) {
      assert.throws(
        () => new RedisBackend(bad as never),
        { name: "InvalidOptionError" },
        JSON.stringify(bad),
      );
    }
    env = fakeCluster([7000]);
    env.layout.owners.set(7000, [[0, 16383]]);
    const backend = new RedisBackend({ cluster: { nodes }, transport: env.connect, prefix: "p:" });
    await backend.set("a", 1);
    assert.equal(await backend.get("a"), 1);
    assert.equal(await backend.deleteByPrefix(""), 1);
    await backend.close();
  });
});
