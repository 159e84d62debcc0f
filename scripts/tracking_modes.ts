/**
 * Which `CLIENT TRACKING` mode (issue 10): default mode (Redis remembers, per
 * key, which connections read it) against `BCAST PREFIX` (Redis remembers
 * only the prefix, and tells every subscribed connection about every write
 * under it), for N = 2, 4, 8 connections, against a throwaway redis-server.
 *
 * - Server memory: each connection reads all K keys (MGET in chunks);
 *   `used_memory` after minus before (same connections, tracking already on)
 *   divided by K, with `tracking_total_keys` / `tracking_total_items` /
 *   `tracking_total_prefixes` from `INFO stats`.
 * - Messages per write: each connection holds a random quarter of the keys
 *   (it has read them, and re-reads a key after each invalidation of it, as
 *   a cache does on the next `get`); a separate client SETs random keys one
 *   at a time; pushes (and keys in them) are counted across connections.
 *
 * Run: `deno run -A scripts/tracking_modes.ts [--keys=10000] [--writes=2000]`
 *
 * @module
 */
import { RedisClient } from "../mod.ts";
import type { PushReply, Reply } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { startRedisServer } from "../tests/_redis_server.ts";

const arg = (name: string, fallback: number) =>
  Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const K = arg("keys", 10_000);
const WRITES = arg("writes", 2_000);
const SUBSET = 0.25;
const PREFIX = "ac:";
const decoder = new TextDecoder();

function text(reply: Reply): string {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  return String(reply);
}

async function info(admin: RedisClient, section: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of text(await admin.command(["INFO", section])).split("\r\n")) {
    const [k, v] = line.split(":");
    if (v !== undefined && !Number.isNaN(Number(v))) out.set(k, Number(v));
  }
  return out;
}

interface Tracked {
  client: RedisClient;
  pushes: number;
  keys: number;
  invalidated: string[];
}

async function connectAll(port: number, n: number, args: string[]): Promise<Tracked[]> {
  const out: Tracked[] = [];
  for (let i = 0; i < n; i++) {
    const t: Tracked = { client: undefined!, pushes: 0, keys: 0, invalidated: [] };
    t.client = new RedisClient({
      connect: defaultConnect,
      host: "127.0.0.1",
      port,
      tracking: args,
      onPush: (push: PushReply) => {
        if (push.kind !== "invalidate") return;
        t.pushes++;
        const keys = push.data[1];
        if (Array.isArray(keys)) {
          t.keys += keys.length;
          for (const k of keys) t.invalidated.push(text(k));
        }
      },
    });
    await t.client.command(["PING"]);
    if (!t.client.tracking) throw new Error("tracking was refused");
    out.push(t);
  }
  return out;
}

async function readKeys(client: RedisClient, keys: readonly string[]): Promise<void> {
  const reads: Promise<Reply>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    reads.push(client.command(["MGET", ...keys.slice(i, i + 100)]));
  }
  await Promise.all(reads);
}

interface Row {
  mode: string;
  n: number;
  bytesPerKey: number;
  trackingKeys: number;
  trackingItems: number;
  prefixes: number;
  pushesPerWrite: number;
  keysPerWrite: number;
}

async function measure(port: number, admin: RedisClient, mode: string, n: number): Promise<Row> {
  const args = mode === "default" ? [] : ["BCAST", "PREFIX", PREFIX];
  const keys = Array.from({ length: K }, (_, i) => `${PREFIX}key:${i}`);
  await admin.command(["FLUSHALL"]); // also empties the tracking table
  for (let i = 0; i < K; i += 500) {
    const batch: (string | number)[] = ["MSET"];
    for (const k of keys.slice(i, i + 500)) batch.push(k, "x".repeat(32));
    await admin.command(batch);
  }
  // Memory: every connection reads every key.
  const clients = await connectAll(port, n, args);
  const before = (await info(admin, "memory")).get("used_memory")!;
  for (const t of clients) await readKeys(t.client, keys);
  for (const t of clients) await t.client.command(["PING"]);
  const after = (await info(admin, "memory")).get("used_memory")!;
  const stats = await info(admin, "stats");
  for (const t of clients) await t.client.close();

  // Messages per write: each connection holds a quarter of the keys.
  await admin.command(["FLUSHALL"]);
  for (let i = 0; i < K; i += 500) {
    const batch: (string | number)[] = ["MSET"];
    for (const k of keys.slice(i, i + 500)) batch.push(k, "x".repeat(32));
    await admin.command(batch);
  }
  const holders = await connectAll(port, n, args);
  const held = holders.map(() => keys.filter(() => Math.random() < SUBSET));
  await Promise.all(holders.map((t, i) => readKeys(t.client, held[i])));
  const writer = new RedisClient({ connect: defaultConnect, host: "127.0.0.1", port });
  for (const t of holders) t.pushes = t.keys = 0;
  for (let w = 0; w < WRITES; w++) {
    await writer.command(["SET", keys[(Math.random() * K) | 0], `v${w}`]);
    // A push is written before the reply to a later command on the same connection.
    await Promise.all(holders.map((t) => t.client.command(["PING"])));
    for (const t of holders) {
      const again = t.invalidated.splice(0);
      if (mode === "default" && again.length > 0) await readKeys(t.client, again);
    }
  }
  const pushes = holders.reduce((a, t) => a + t.pushes, 0);
  const delivered = holders.reduce((a, t) => a + t.keys, 0);
  for (const t of holders) await t.client.close();
  await writer.close();
  return {
    mode: mode === "default" ? "default" : `BCAST PREFIX ${PREFIX}`,
    n,
    bytesPerKey: (after - before) / K,
    trackingKeys: stats.get("tracking_total_keys") ?? 0,
    trackingItems: stats.get("tracking_total_items") ?? 0,
    prefixes: stats.get("tracking_total_prefixes") ?? 0,
    pushesPerWrite: pushes / WRITES,
    keysPerWrite: delivered / WRITES,
  };
}

const server = await startRedisServer();
const admin = new RedisClient({
  connect: defaultConnect,
  host: "127.0.0.1",
  port: server.port,
  protocol: 2,
});
const rows: Row[] = [];
try {
  for (const n of [2, 4, 8]) {
    for (const mode of ["default", "bcast"]) {
      rows.push(await measure(server.port, admin, mode, n));
    }
  }
} finally {
  await admin.close();
  await server.stop();
}
const version = new TextDecoder().decode(
  new Deno.Command("redis-server", { args: ["--version"] }).outputSync().stdout,
).split(" sha=")[0];
console.log(
  `${version.trim()}; K = ${K} keys (32-byte values), ${WRITES} writes, ` +
    `each connection holding ${SUBSET * 100}% of the keys for the write phase\n`,
);
console.log(
  "| mode | N | server bytes / key read by all N | tracking_total_keys | tracking_total_items | tracking_total_prefixes | pushes / write | keys delivered / write |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.mode} | ${r.n} | ${
      r.bytesPerKey.toFixed(1)
    } | ${r.trackingKeys} | ${r.trackingItems} | ${r.prefixes} | ${r.pushesPerWrite.toFixed(2)} | ${
      r.keysPerWrite.toFixed(2)
    } |`,
  );
}
