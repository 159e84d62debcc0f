/**
 * Case 4: two tiers. Two instances share one Redis: a writer fills L2, and a
 * reader whose small L1 (100 entries) cycles through 2,000 keys, so every
 * read misses L1 and hits L2. Sequential, and 100 reads in flight. Then a
 * full miss (neither tier has the key) with a trivial loader. Against
 * bentocache (memory L1 + Redis L2) and a hand-rolled lru-cache + ioredis
 * (auto-pipelined, JSON values).
 *
 * Writes on a miss: async-cache and the hand-rolled pair write L2 in the
 * background; bentocache awaits its write.
 *
 * @module
 */
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisDriver } from "bentocache/drivers/redis";
import Redis from "ioredis";
import { LRUCache } from "lru-cache";
import { compare, smoke } from "../_common.mjs";

const KEYS = smoke ? 300 : 2000;
const L1 = 100;
const TTL = 3_600_000;

function handRolled(port) {
  const redis = new Redis({ port, host: "127.0.0.1", enableAutoPipelining: true });
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

function bento(port, prefix) {
  return new BentoCache({
    default: "cache",
    prefix,
    stores: {
      cache: bentostore()
        .useL1Layer(memoryDriver({ maxItems: L1 }))
        .useL2Layer(redisDriver({ connection: { host: "127.0.0.1", port } })),
    },
  });
}

export async function run(lib, port) {
  const { AsyncCache, RedisBackend } = lib;
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  const value = (i) => ({ id: i, name: `user ${i}`, active: true });
  const loader = () => ({ id: -1, name: "loaded", active: false });
  const run = Date.now().toString(36);

  // Ours.
  const backends = [];
  const oursOpts = () => ({
    maxsize: L1,
    defaultTtl: TTL,
    remoteCache:
      backends[backends.push(new RedisBackend({ port, prefix: `bench-ac-${run}:` })) - 1],
  });
  const oursWriter = new AsyncCache(oursOpts());
  const ours = new AsyncCache(oursOpts());
  for (let i = 0; i < KEYS; i++) await oursWriter.set(keys[i], value(i));
  await oursWriter.flush();
  // bentocache.
  const bentoWriter = bento(port, `bench-bento-${run}`);
  const bentoReader = bento(port, `bench-bento-${run}`);
  for (let i = 0; i < KEYS; i++) await bentoWriter.set({ key: keys[i], value: value(i), ttl: TTL });
  // Hand-rolled.
  const handWriter = handRolled(port);
  const hand = handRolled(port);
  await Promise.all(keys.map((k, i) => handWriter.set(`hand-${run}:${k}`, value(i))));
  const handKeys = keys.map((k) => `hand-${run}:${k}`);

  const candidates = [
    { name: "async-cache (AsyncCache + RedisBackend)", get: (k) => ours.get(k, { loader }), keys },
    {
      name: "bentocache (memory + redis)",
      get: (k) => bentoReader.getOrSet({ key: k, factory: loader, ttl: TTL }),
      keys,
    },
    { name: "lru-cache + ioredis (hand-rolled)", get: (k) => hand.get(k, loader), keys: handKeys },
  ];
  // Check that the reads really hit L2 (and warm up).
  for (const c of candidates) {
    const v = await c.get(c.keys[1]);
    if (v?.id !== 1) throw new Error(`${c.name}: expected an L2 hit, got ${JSON.stringify(v)}`);
  }

  let b = 0;
  const seq = await compare(candidates.map((c) => {
    let i = 0;
    return [c.name, () => c.get(c.keys[i = (i + 1) % KEYS]), { tag: "L2 hit seq" }];
  }));
  const par = await compare(candidates.map((c) => [c.name, () => {
    const ps = new Array(100);
    for (let j = 0; j < 100; j++) ps[j] = c.get(c.keys[(b + j) % KEYS]);
    b = (b + 100) % KEYS;
    return Promise.all(ps);
  }, { ops: 100, tag: "L2 hit x100" }]));
  let m = 0;
  const miss = await compare(candidates.map((c) => {
    const prefix = c.keys === handKeys ? `hand-${run}:` : "";
    return [c.name, () => c.get(`${prefix}miss:${m++}`), { tag: "full miss" }];
  }));
  await ours.close();
  await oursWriter.close();
  for (const backend of backends) await backend.close();
  await bentoWriter.disconnect();
  await bentoReader.disconnect();
  await hand.close();
  await handWriter.close();
  const base = "lru-cache + ioredis (hand-rolled)";
  return [
    {
      id: "tier_seq",
      title: "Two tiers: L1 miss → L2 hit, sequential",
      baseline: base,
      unit: "time",
      rows: seq,
    },
    {
      id: "tier_par",
      title: "Two tiers: L1 miss → L2 hit, 100 in flight",
      baseline: base,
      unit: "ops",
      rows: par,
    },
    {
      id: "tier_miss",
      title: "Two tiers: full miss, trivial loader (sequential)",
      baseline: base,
      unit: "time",
      rows: miss,
    },
  ];
}
