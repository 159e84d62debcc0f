/**
 * Hardening of Cluster and Sentinel against hostile announcements (issue 16, item 8 and the
 * `+switch-master` flood): each test here failed on the code before its fix.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type Connect,
  InvalidOptionError,
  RedisBackend,
  RedisClusterClient,
  RedisClusterError,
} from "../mod.ts";
import { FakeRedis, resp } from "../src/testing/fake_redis.ts";
import { RedisClient } from "../src/resp/client.ts";
import { SentinelConnector } from "../src/resp/sentinel.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { type HostileServer, startHostileServer } from "./_hostile_server.ts";
import type { Socket } from "node:net";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const bulk = (s: string) => `$${new TextEncoder().encode(s).length}\r\n${s}\r\n`;

/** A primary that answers ROLE, PING and SET (and refuses HELLO: RESP2 keeps it simple). */
function primary(): Promise<HostileServer> {
  return startHostileServer((args) => {
    if (args[0] === "ROLE") return `*1\r\n${bulk("master")}`;
    if (args[0] === "HELLO") return "-ERR unknown command 'HELLO'\r\n";
    if (args[0] === "PING") return "+PONG\r\n";
    return "+OK\r\n";
  });
}

/** A sentinel naming `port()` as the primary of "m"; its subscribers are kept for pushing. */
async function sentinel(port: () => number, host = () => "127.0.0.1") {
  const subscribers = new Set<Socket>();
  const server = await startHostileServer((args, socket) => {
    if (args[0] === "SENTINEL") return `*2\r\n${bulk(host())}${bulk(String(port()))}`;
    if (args[0] === "SUBSCRIBE") {
      subscribers.add(socket);
      return `*3\r\n${bulk("subscribe")}${bulk("+switch-master")}:1\r\n`;
    }
    return "+OK\r\n";
  });
  const announce = (payload: string) => {
    for (const s of subscribers) {
      s.write(`*3\r\n${bulk("message")}${bulk("+switch-master")}${bulk(payload)}`);
    }
  };
  return { server, subscribers, announce };
}

const b = (s: string) => resp.bulk(s);

/** CLUSTER SHARDS naming `count` primaries at `host`:7000+i, splitting the slots between them. */
function shardsReply(primaries: { host: string; port: number }[]) {
  const per = Math.floor(16384 / primaries.length);
  return resp.array(primaries.map((p, i) =>
    resp.map([
      [
        b("slots"),
        resp.array([
          resp.int(i * per),
          resp.int(i === primaries.length - 1 ? 16383 : (i + 1) * per - 1),
        ]),
      ],
      [
        b("nodes"),
        resp.array([resp.map([
          [b("id"), b(`id${i}`)],
          [b("port"), resp.int(p.port)],
          [b("ip"), b(p.host)],
          [b("endpoint"), b(p.host)],
          [b("role"), b("master")],
          [b("health"), b("online")],
        ])]),
      ],
    ])
  ));
}

/** A seed fake that answers CLUSTER SHARDS with `reply`; every dial is recorded. */
function hostileSeed(reply: () => ReturnType<typeof resp.array>) {
  const seed = new FakeRedis();
  seed.onCommand((args) => args[0] === "CLUSTER" && args[1] === "SHARDS" ? reply() : undefined);
  const dials: string[] = [];
  const others = new Map<string, FakeRedis>();
  const connect: Connect = (o, h) => {
    const key = `${o.host}:${o.port}`;
    dials.push(key);
    if (key === "127.0.0.1:7000") return seed.connect(o, h);
    const fake = others.get(key);
    return fake ? fake.connect(o, h) : Promise.reject(new Error("ECONNREFUSED"));
  };
  return { seed, dials, others, connect };
}

describe("hardening: cluster topology from a hostile node (item 8)", () => {
  test("a CLUSTER SHARDS reply naming 5,000 nodes is refused and dials nothing", async () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ host: "10.66.0.1", port: 10000 + i }));
    const h = hostileSeed(() => shardsReply(many));
    const cluster = new RedisClusterClient({
      connect: h.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
      password: "pw",
      logger: { warn() {}, error() {} },
    });
    try {
      await assert.rejects(cluster.command(["GET", "k"]), (e: unknown) => {
        assert.ok(e instanceof RedisClusterError);
        assert.match(e.message, /more than 1000 nodes/);
        return true;
      });
      assert.deepEqual([...new Set(h.dials)], ["127.0.0.1:7000"]);
    } finally {
      await cluster.close();
      await h.seed.close();
    }
  });

  test("natMap: announced addresses are dialled where the map says", async () => {
    const h = hostileSeed(() => shardsReply([{ host: "10.0.0.9", port: 6379 }]));
    const target = new FakeRedis();
    h.others.set("127.0.0.1:7001", target);
    const cluster = new RedisClusterClient({
      connect: h.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
      natMap: { "10.0.0.9:6379": { host: "127.0.0.1", port: 7001 } },
    });
    try {
      await cluster.command(["SET", "k", "v"]);
      assert.equal(target.getString("k"), "v");
      assert.ok(!h.dials.includes("10.0.0.9:6379"), h.dials.join());
    } finally {
      await cluster.close();
      await h.seed.close();
      await target.close();
    }
  });

  test("allowNode: a refused announced node and a refused redirect are never dialled", async () => {
    const h = hostileSeed(() =>
      shardsReply([{ host: "127.0.0.1", port: 7000 }, { host: "evil.example", port: 6379 }])
    );
    const warnings: string[] = [];
    const cluster = new RedisClusterClient({
      connect: h.connect,
      nodes: [{ host: "127.0.0.1", port: 7000 }],
      password: "pw",
      allowNode: (a) => a.host === "127.0.0.1",
      logger: { warn: (m) => warnings.push(m), error() {} },
    });
    // As a real node would: a key of the other half is MOVED to its (refused) owner.
    h.seed.onCommand((args) =>
      args[0] === "SET" ? resp.error("MOVED 12539 evil.example:6379") : undefined
    );
    try {
      // "k" hashes to slot 12539: the refused node's half.
      await assert.rejects(
        cluster.command(["SET", "k", "v"]),
        (e: unknown) => e instanceof RedisClusterError && /allowNode/.test(e.message),
      );
      assert.ok(!h.dials.some((d) => d.startsWith("evil.example")), h.dials.join());
      assert.ok(warnings.some((w) => /evil\.example:6379/.test(w)));
    } finally {
      await cluster.close();
      await h.seed.close();
    }
  });
});

describe("hardening: a hostile sentinel (item 8, +switch-master flood)", () => {
  test("a +switch-master flood does not make the client reconnect more than once a second", {
    timeout: 20_000,
  }, async () => {
    const a = await primary();
    const other = await primary();
    const s = await sentinel(() => a.port);
    const connector = new SentinelConnector({
      sentinels: [{ host: "127.0.0.1", port: s.server.port }],
      name: "m",
      connect: defaultConnect,
      logger: { warn() {}, error() {} },
    });
    const client = new RedisClient({ connect: connector.connect, host: "m", backoff: () => 5 });
    try {
      assert.equal(await client.command(["PING"]), "PONG");
      for (let i = 0; i < 50 && s.subscribers.size === 0; i++) await sleep(10);
      assert.equal(s.subscribers.size, 1);
      // 100 announcements in 500 ms that the primary moved away (the sentinel keeps naming a).
      for (let i = 0; i < 100; i++) {
        s.announce(`m 127.0.0.1 ${a.port} 127.0.0.1 ${other.port}`);
        await sleep(5);
      }
      const mainConnections = a.commands.filter((c) => c[0] === "HELLO").length;
      assert.ok(mainConnections <= 3, `${mainConnections} connections in 500 ms`);
      assert.equal(await client.command(["PING"]), "PONG");
    } finally {
      await client.close();
      await connector.close();
      await Promise.all([a.close(), other.close(), s.server.close()]);
    }
  });

  test("a sentinel refusing AUTH with an echo of the password: no password in any log line", async () => {
    const a = await primary();
    const echo = (args: string[]) =>
      `-ERR unknown command '${args[0]}', with args beginning with: ${
        args.slice(1).map((x) => `'${x}'`).join(" ")
      }\r\n`;
    const s = await startHostileServer((args) => echo(args));
    const lines: string[] = [];
    const log = (m: string, ...d: unknown[]) => lines.push([m, ...d.map(String)].join(" "));
    const connector = new SentinelConnector({
      sentinels: [{ host: "127.0.0.1", port: s.port }],
      name: "m",
      sentinelPassword: "sentinel-hunter2",
      connect: defaultConnect,
      backoff: () => 20,
      logger: { warn: log, error: log, debug: log },
    });
    const client = new RedisClient({
      connect: connector.connect,
      host: "m",
      backoff: () => 50,
      logger: { warn: log, error: log, debug: log },
    });
    try {
      const error = await client.command(["PING"]).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof Error);
      for (let e: unknown = error; e instanceof Error; e = e.cause) {
        assert.ok(!e.message.includes("hunter2"), e.message);
      }
      await sleep(150); // the subscription's attempts, logged at debug
      assert.ok(lines.length > 0);
      for (const line of lines) assert.ok(!line.includes("hunter2"), line);
    } finally {
      await client.close();
      await connector.close();
      await Promise.all([a.close(), s.close()]);
    }
  });

  test("allowNode: a primary the sentinel names outside it is never dialled", async () => {
    const a = await primary();
    const s = await sentinel(() => a.port, () => "127.0.0.2");
    const dials: string[] = [];
    const connector = new SentinelConnector({
      sentinels: [{ host: "127.0.0.1", port: s.server.port }],
      name: "m",
      password: "pw",
      connect: (o, h) => {
        dials.push(`${o.host}:${o.port}`);
        return defaultConnect(o, h);
      },
      allowNode: (address) => address.host === "127.0.0.1",
      logger: { warn() {}, error() {} },
    });
    const client = new RedisClient({ connect: connector.connect, host: "m", backoff: () => 50 });
    try {
      await assert.rejects(client.command(["PING"]), /allowNode/);
      assert.ok(!dials.some((d) => d.startsWith("127.0.0.2")), dials.join());
    } finally {
      await client.close();
      await connector.close();
      await Promise.all([a.close(), s.server.close()]);
    }
  });

  test("natMap: the primary the sentinel names is dialled where the map says", async () => {
    const a = await primary();
    const s = await sentinel(() => 6379, () => "10.1.2.3");
    const connector = new SentinelConnector({
      sentinels: [{ host: "127.0.0.1", port: s.server.port }],
      name: "m",
      connect: defaultConnect,
      natMap: (x) => x.host === "10.1.2.3" ? { host: "127.0.0.1", port: a.port } : undefined,
      logger: { warn() {}, error() {} },
    });
    const client = new RedisClient({ connect: connector.connect, host: "m" });
    try {
      assert.equal(await client.command(["PING"]), "PONG");
    } finally {
      await client.close();
      await connector.close();
      await Promise.all([a.close(), s.server.close()]);
    }
  });
});

describe("hardening: RedisBackend passes natMap and allowNode on (item 8)", () => {
  test("cluster: a refused announced node is never dialled through the backend", async () => {
    const h = hostileSeed(() =>
      shardsReply([{ host: "127.0.0.1", port: 7000 }, { host: "evil.example", port: 6379 }])
    );
    const backend = new RedisBackend({
      transport: h.connect,
      cluster: { nodes: [{ host: "127.0.0.1", port: 7000 }] },
      password: "pw",
      allowNode: (a) => a.host === "127.0.0.1",
      natMap: { "127.0.0.9:1": { host: "127.0.0.1", port: 7000 } },
      logger: { warn() {}, error() {} },
    });
    try {
      await backend.client.command(["PING"]);
      assert.ok(!h.dials.some((d) => d.startsWith("evil.example")), h.dials.join());
    } finally {
      await backend.close();
      await h.seed.close();
    }
  });

  test("natMap and allowNode need cluster or sentinels, and are checked", () => {
    assert.throws(() => new RedisBackend({ allowNode: () => true }), InvalidOptionError);
    assert.throws(
      () =>
        new RedisBackend({
          cluster: { nodes: [{ host: "h", port: 1 }] },
          natMap: { "a:1": { host: "", port: 1 } },
        }),
      InvalidOptionError,
    );
  });
});
