/**
 * Case 6: two tiers on Redis Cluster (3 primaries + 3 replicas on loopback,
 * started by bench/run.ts). A writer fills L2; a reader whose small L1 (100
 * entries) cycles through 2,000 keys spread over every slot range, so every
 * read misses L1 and hits L2, 100 reads in flight. Against lru-cache +
 * ioredis's `Cluster` (auto-pipelined, JSON values), the same pair as the
 * hand-rolled baseline of case 4.
 *
 * @module
 */
import process from "node:process";
import Redis from "ioredis";
import { LRUCache } from "lru-cache";
import { compare, smoke } from "../_common.mjs";

const KEYS = smoke ? 300 : 2000;
const L1 = 100;
const TTL = 3_600_000;

/** The seed nodes the runner started (`BENCH_CLUSTER_SEEDS=host:port,...`). */
function seeds() {
  const text = process.env.BENCH_CLUSTER_SEEDS;
  if (!text) throw new Error("BENCH_CLUSTER_SEEDS is not set: run the suite through bench/run.ts");
  return text.split(",").map((s) => {
    const [host, port] = s.split(":");
    return { host, port: Number(port) };
  });
}

function ioredisCluster(nodes) {
  const redis = new Redis.Cluster(nodes, { enableAutoPipelining: true });
  const lru = new LRUCache({ max: L1 });
  return {
    redis,
    async get(key, loader) {
      let v = lru.get(key);
      if (v !== undefined) return v;
      const s = await redis.get(key);
      if (s !== null) {
        v = JSON.parse(s);
        lru.set(key, v);
        return v;
      }
      v = await loader();
      lru.set(key, v);
      redis.set(key, JSON.stringify(v), "PX", TTL).catch(() => {});
      return v;
    },
    set: (key, v) => redis.set(key, JSON.stringify(v), "PX", TTL),
    close: () => redis.quit(),
  };
}

export async function run(lib) {
  const { AsyncCache, RedisBackend } = lib;
  const nodes = seeds();
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  const value = (i) => ({ id: i, name: `user ${i}`, active: true });
  const loader = () => ({ id: -1, name: "loaded", active: false });
  const run = Date.now().toString(36);

  const backends = [];
  const oursOpts = () => ({
    maxsize: L1,
    defaultTtl: TTL,
    remoteCache: backends[
      backends.push(new RedisBackend({ cluster: { nodes }, prefix: `bench-acc-${run}:` })) - 1
    ],
  });
  const writer = new AsyncCache(oursOpts());
  const ours = new AsyncCache(oursOpts());
  for (let i = 0; i < KEYS; i++) await writer.set(keys[i], value(i));
  await writer.flush();
  const ioWriter = ioredisCluster(nodes);
  const io = ioredisCluster(nodes);
  const ioKeys = keys.map((k) => `io-${run}:${k}`);
  await Promise.all(ioKeys.map((k, i) => ioWriter.set(k, value(i))));

  const candidates = [
    {
      name: "async-cache (AsyncCache + RedisBackend cluster)",
      get: (k) => ours.get(k, { loader }),
      keys,
    },
    { name: "lru-cache + ioredis Cluster", get: (k) => io.get(k, loader), keys: ioKeys },
  ];
  for (const c of candidates) {
    const v = await c.get(c.keys[1]);
    if (v?.id !== 1) throw new Error(`${c.name}: expected an L2 hit, got ${JSON.stringify(v)}`);
  }
  let b = 0;
  const par = await compare(candidates.map((c) => [c.name, () => {
    const ps = new Array(100);
    for (let j = 0; j < 100; j++) ps[j] = c.get(c.keys[(b + j) % KEYS]);
    b = (b + 100) % KEYS;
    return Promise.all(ps);
  }, { ops: 100, tag: "cluster L2 hit x100" }]));
  await ours.close();
  await writer.close();
  for (const backend of backends) await backend.close();
  await io.close();
  await ioWriter.close();
  return [{
    id: "cluster_par",
    title: "Redis Cluster (3 primaries): L1 miss → L2 hit, 100 in flight",
    baseline: "lru-cache + ioredis Cluster",
    unit: "ops",
    rows: par,
  }];
}
