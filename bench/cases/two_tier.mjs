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
import { compare } from "../_common.mjs";
import {
  checkL2Hits,
  compareInFlight,
  KEYS,
  L1,
  loader,
  lruOverIoredis,
  ourPair,
  TTL,
  userKeys,
  userValue,
} from "../_two_tier_common.mjs";

const handRolled = (port) =>
  lruOverIoredis(new Redis({ port, host: "127.0.0.1", enableAutoPipelining: true }));

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
  const keys = userKeys();
  const run = Date.now().toString(36);

  // Ours.
  const { reader: ours, close: closeOurs } = await ourPair(
    AsyncCache,
    () => new RedisBackend({ port, prefix: `bench-ac-${run}:` }),
    keys,
  );
  // bentocache.
  const bentoWriter = bento(port, `bench-bento-${run}`);
  const bentoReader = bento(port, `bench-bento-${run}`);
  for (let i = 0; i < KEYS; i++) {
    await bentoWriter.set({ key: keys[i], value: userValue(i), ttl: TTL });
  }
  // Hand-rolled.
  const handWriter = handRolled(port);
  const hand = handRolled(port);
  await Promise.all(keys.map((k, i) => handWriter.set(`hand-${run}:${k}`, userValue(i))));
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
  await checkL2Hits(candidates);

  const seq = await compare(candidates.map((c) => {
    let i = 0;
    return [c.name, () => c.get(c.keys[i = (i + 1) % KEYS]), { tag: "L2 hit seq" }];
  }));
  const par = await compareInFlight(candidates, "L2 hit x100");
  let m = 0;
  const miss = await compare(candidates.map((c) => {
    const prefix = c.keys === handKeys ? `hand-${run}:` : "";
    return [c.name, () => c.get(`${prefix}miss:${m++}`), { tag: "full miss" }];
  }));
  await closeOurs();
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
