/**
 * Case 3: the RESP client alone, against ioredis (with and without
 * auto-pipelining), node-redis and, under Bun, `Bun.redis`: sequential GET
 * latency, 100 GETs in flight, 100 `SET PX` of 1 KiB in flight, and one
 * `MGET` of 100 keys. Under Deno and Bun our client also runs over
 * `node:net` (the Node transport), to compare the native transports with it.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import Redis from "ioredis";
import { createClient } from "redis";
import { compare, runtime, smoke } from "../_common.mjs";

/** The physical reference, run right next to the measurements it is compared with. */
export const REFERENCE_P1 = "redis-benchmark -c 1 -P 1 (C, reference)";
export const REFERENCE_P100 = "redis-benchmark -c 1 -P 100 (C, reference)";

function redisBenchmark(port, pipeline) {
  const n = smoke ? (pipeline === 1 ? 1000 : 10_000) : (pipeline === 1 ? 40_000 : 1_000_000);
  const args = ["-h", "127.0.0.1", "-p", String(port), "-c", "1", "-P", String(pipeline)];
  args.push("-n", String(n), "-t", "get", "-d", "100", "--csv", "--precision", "3");
  const csv = execFileSync("redis-benchmark", args, { encoding: "utf8" });
  const line = csv.split("\n").find((l) => l.startsWith('"GET"'));
  if (!line) throw new Error(`redis-benchmark printed no GET line:\n${csv}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const f = line.split(",").map((x) => Number(x.replaceAll('"', "")));
  return { rps: f[1], p50_ns: f[4] * 1e6, p99_ns: f[6] * 1e6 };
}

/** The best of the reference runs (lowest p50), as the clients get their best round. */
function referenceRow(name, runs, pipeline) {
  const best = runs.reduce((a, r) => (r.p50_ns < a.p50_ns ? r : a));
  const rps = best.rps;
  const row = {
    name,
    avg_ns: (1e9 * pipeline) / rps,
    p50_ns: best.p50_ns,
    p99_ns: best.p99_ns,
    ops_per_call: pipeline,
    ops_per_s: rps,
    samples: runs.length,
  };
  console.log(
    `  ${name.padEnd(64)} p50 ${(row.p50_ns / 1e3).toFixed(1)} µs  ${Math.round(rps)} GET/s`,
  );
  return row;
}

const KEYS = Array.from({ length: 100 }, (_, i) => `bench:str:${i}`);
const SET_KEYS = Array.from({ length: 100 }, (_, i) => `bench:set:${i}`);
const VALUE_100 = "v".repeat(100);
const VALUE_1K = "x".repeat(1024);
const PX = 60_000;

async function clients(lib, port) {
  const { RedisClient, defaultConnect, connectNode } = lib;
  const list = [];
  const ours = async (name, connect) => {
    const c = new RedisClient({ connect, port });
    await c.connect();
    list.push({
      name,
      get: (k) => c.command(["GET", k]),
      set: (k, v) => c.command(["SET", k, v, "PX", PX]),
      mget: (keys) => c.command(["MGET", ...keys]),
      close: () => c.close(),
    });
  };
  await ours(`async-cache RedisClient (${runtime} transport)`, defaultConnect);
  if (runtime !== "node") await ours("async-cache RedisClient (node:net transport)", connectNode);
  for (const auto of [true, false]) {
    const c = new Redis({ port, host: "127.0.0.1", enableAutoPipelining: auto, lazyConnect: true });
    await c.connect();
    list.push({
      name: `ioredis${auto ? " (enableAutoPipelining)" : ""}`,
      get: (k) => c.get(k),
      set: (k, v) => c.set(k, v, "PX", PX),
      mget: (keys) => c.mget(keys),
      close: () => c.quit(),
    });
  }
  {
    const c = createClient({ url: `redis://127.0.0.1:${port}` });
    c.on("error", () => {});
    await c.connect();
    list.push({
      name: "node-redis",
      get: (k) => c.get(k),
      set: (k, v) => c.set(k, v, { expiration: { type: "PX", value: PX } }),
      mget: (keys) => c.mGet(keys),
      close: () => c.close(),
    });
  }
  if (runtime === "bun") {
    const c = new globalThis.Bun.RedisClient(`redis://127.0.0.1:${port}`);
    await c.connect();
    list.push({
      name: "Bun.redis",
      get: (k) => c.get(k),
      set: (k, v) => c.set(k, v, "PX", PX),
      mget: (keys) => c.mget(...keys),
      close: () => c.close(),
    });
  }
  return list;
}

export async function run(lib, port) {
  const list = await clients(lib, port);
  const first = list[0];
  await Promise.all(KEYS.map((k) => first.set(k, VALUE_100)));
  const seq = [];
  const get100 = [];
  const set100 = [];
  const mget = [];
  // The key redis-benchmark GETs.
  await first.set("key:__rand_int__", VALUE_100);
  // Sequential latency is at the mercy of the scheduler (two processes on two
  // cores): measure the reference just before and just after the clients.
  const p1 = [redisBenchmark(port, 1)];
  for (const c of list) {
    // Check the client works (and warm it) before timing it.
    const reply = await c.get(KEYS[0]);
    if (reply === null || reply.length !== 100) throw new Error(`${c.name}: bad GET reply`);
  }
  let i = 0;
  seq.push(
    ...await compare(list.map((c) => [c.name, () => c.get(KEYS[i = (i + 1) % 100]), {
      latency: true,
      tag: "seq GET",
    }])),
  );
  p1.push(redisBenchmark(port, 1));
  seq.push(referenceRow(REFERENCE_P1, p1, 1));
  get100.push(referenceRow(REFERENCE_P100, [redisBenchmark(port, 100)], 100));
  get100.push(
    ...await compare(list.map((c) => [c.name, () => {
      const ps = new Array(100);
      for (let j = 0; j < 100; j++) ps[j] = c.get(KEYS[j]);
      return Promise.all(ps);
    }, { ops: 100, tag: "100 GET" }])),
  );
  set100.push(
    ...await compare(list.map((c) => [c.name, () => {
      const ps = new Array(100);
      for (let j = 0; j < 100; j++) ps[j] = c.set(SET_KEYS[j], VALUE_1K);
      return Promise.all(ps);
    }, { ops: 100, tag: "100 SET" }])),
  );
  mget.push(...await compare(list.map((c) => [c.name, () => c.mget(KEYS), { tag: "MGET 100" }])));
  for (const c of list) await c.close();
  const base = list.find((c) => c.name === "ioredis (enableAutoPipelining)").name;
  return [
    {
      id: "resp_seq",
      title: "RESP: sequential GET (latency)",
      baseline: REFERENCE_P1,
      unit: "latency",
      rows: seq,
    },
    {
      id: "resp_get100",
      title: "RESP: 100 GETs in flight",
      baseline: base,
      unit: "ops",
      rows: get100,
    },
    {
      id: "resp_set100",
      title: "RESP: 100 SET PX of 1 KiB in flight",
      baseline: base,
      unit: "ops",
      rows: set100,
    },
    { id: "resp_mget", title: "RESP: MGET of 100 keys", baseline: base, unit: "time", rows: mget },
  ];
}
