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
import {
  checkL2Hits,
  compareInFlight,
  loader,
  lruOverIoredis,
  ourPair,
  userKeys,
  userValue,
} from "../_two_tier_common.mjs";

/** The seed nodes the runner started (`BENCH_CLUSTER_SEEDS=host:port,...`). */
function seeds() {
  const text = process.env.BENCH_CLUSTER_SEEDS;
  if (!text) throw new Error("BENCH_CLUSTER_SEEDS is not set: run the suite through bench/run.ts");
  return text.split(",").map((s) => {
    const [host, port] = s.split(":");
    return { host, port: Number(port) };
  });
}

const ioredisCluster = (nodes) =>
  lruOverIoredis(new Redis.Cluster(nodes, { enableAutoPipelining: true }));

export async function run(lib) {
  const { AsyncCache, RedisBackend } = lib;
  const nodes = seeds();
  const keys = userKeys();
  const run = Date.now().toString(36);

  const { reader: ours, close: closeOurs } = await ourPair(
    AsyncCache,
    () => new RedisBackend({ cluster: { nodes }, prefix: `bench-acc-${run}:` }),
    keys,
  );
  const ioWriter = ioredisCluster(nodes);
  const io = ioredisCluster(nodes);
  const ioKeys = keys.map((k) => `io-${run}:${k}`);
  await Promise.all(ioKeys.map((k, i) => ioWriter.set(k, userValue(i))));

  const candidates = [
    {
      name: "async-cache (AsyncCache + RedisBackend cluster)",
      get: (k) => ours.get(k, { loader }),
      keys,
    },
    { name: "lru-cache + ioredis Cluster", get: (k) => io.get(k, loader), keys: ioKeys },
  ];
  await checkL2Hits(candidates);
  const par = await compareInFlight(candidates, "cluster L2 hit x100");
  await closeOurs();
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
