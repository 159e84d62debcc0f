/**
 * `npm run demo`: the cache at work, in a few seconds.
 *
 * 1. L1: a slow loader, herd protection, batching, TTL, metrics.
 * 2. Two tiers: two cache instances (as two pods would be) sharing Redis:
 *    `REDIS_URL` if set; else a redis-server started here on a free loopback
 *    port if the binary exists; else L1 only, saying so.
 */
import { AsyncCache, AsyncTTL } from "../mod.ts";

const ms = (start: number) => `${(performance.now() - start).toFixed(2)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

async function fakeDb(id: number): Promise<{ id: number; name: string }> {
  await sleep(50); // a slow database
  return { id, name: `user ${id}` };
}

console.log("== L1: in-process LRU + TTL");
const cache = new AsyncCache<{ id: number; name: string }>({ maxsize: 1000, defaultTtl: "300s" });

let t = performance.now();
await cache.get("user:1", { loader: () => fakeDb(1) });
console.log(`first get user:1   -> loader  ${ms(t)}`);
t = performance.now();
await cache.get("user:1", { loader: () => fakeDb(1) });
console.log(`second get user:1  -> L1      ${ms(t)}`);

let loaderCalls = 0;
t = performance.now();
await Promise.all(
  Array.from({ length: 100 }, () =>
    cache.get("user:2", {
      loader: () => {
        loaderCalls++;
        return fakeDb(2);
      },
    })),
);
console.log(`100 concurrent gets of user:2 -> ${loaderCalls} loader call (${ms(t)})`);

const batches: number[][] = [];
// One function for the whole batch: gets are grouped by batchLoader identity.
const usersByIds = async (ids: number[]) => {
  batches.push(ids);
  await sleep(50);
  return new Map(ids.map((i) => [i, { id: i, name: `user ${i}` }]));
};
t = performance.now();
const users = await Promise.all(
  [10, 11, 12, 13].map((id) => cache.get(id, { batchLoader: usersByIds })),
);
console.log(
  `4 gets with a batchLoader -> ${batches.length} batch call with keys [${batches[0]}] (${
    ms(t)
  }): ${users.map((u) => u?.name).join(", ")}`,
);

class Pricing {
  calls = 0;
  @AsyncTTL({ timeToLive: "60s" })
  async price(sku: string): Promise<number> {
    this.calls++;
    await sleep(20);
    return sku.length * 100;
  }
}
const pricing = new Pricing();
await pricing.price("ABC");
await pricing.price("ABC");
console.log(`@AsyncTTL method called twice -> ${pricing.calls} real call`);

console.log("metrics:", cache.getMetrics());

// A disk snapshot: the next process starts warm.
const { DiskBackend } = await import("../mod.ts");
const dir = await Deno.makeTempDir({ prefix: "async-cache-demo-" });
const snapshot = new DiskBackend(`${dir}/cache.snap`);
const before = new AsyncCache<{ id: number; name: string }>({
  backup: snapshot,
  defaultTtl: "300s",
});
await before.set("user:1", (await cache.get("user:1"))!);
await before.saveToBackup();
await before.close();
const restarted = new AsyncCache<{ id: number; name: string }>({ backup: snapshot });
t = performance.now();
const warm = await restarted.get("user:1", { loader: () => fakeDb(1) });
console.log(`after a restart, get user:1 -> from the disk snapshot (${ms(t)}): ${warm?.name}`);
await restarted.close();
await Deno.remove(dir, { recursive: true });
await cache.close();

// ---------------------------------------------------------------------------
console.log("\n== Two tiers: two instances (two pods) sharing Redis");

const { RedisBackend } = await import("../mod.ts");
const { redisServerAvailable, startRedisServer } = await import("../tests/_redis_server.ts");

let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;
let url = Deno.env.get("REDIS_URL");
if (url === undefined) {
  let available = false;
  try {
    available = redisServerAvailable();
  } catch { /* CI=true without redis-server: fall through to L1 only */ }
  if (available) {
    server = await startRedisServer();
    url = server.url;
    console.log(`started redis-server on ${url} (pid ${server.pid})`);
  }
} else {
  console.log(`using REDIS_URL=${url.replace(/\/\/[^@]*@/, "//***@")}`);
}

if (url === undefined) {
  console.log("no REDIS_URL and no redis-server binary: skipping the two-tier part (L1 only).");
} else {
  type User = { id: number; name: string };
  const quiet = { warn() {}, error() {} };
  // Each pod owns its connection; it closes it after its cache (the ownership rule).
  const pod = () => {
    const redis = new RedisBackend({ url, prefix: "demo:", socketTimeout: "500ms", logger: quiet });
    const cache = new AsyncCache<User>({
      maxsize: 1000,
      defaultTtl: "300s",
      remoteCache: redis,
      logger: quiet,
    });
    return Object.assign(cache, { redis });
  };
  const podA = pod();
  const podB = pod();
  await podA.clear(); // start from an empty demo prefix

  const read = async (name: string, c: AsyncCache<User>, id: number) => {
    const before = c.getMetrics();
    const start = performance.now();
    const user = await c.get(`user:${id}`, { loader: () => fakeDb(id) });
    const after = c.getMetrics();
    const path = after.l1Hits > before.l1Hits
      ? "L1    "
      : after.l2Hits > before.l2Hits
      ? "L2    "
      : "loader";
    console.log(`${name} get user:${id} -> ${path} ${ms(start).padStart(9)}  ${user?.name}`);
  };

  await read("pod A", podA, 42);
  await read("pod A", podA, 42);
  await podA.flush(); // the L2 write happens in the background; flush() awaits it
  await read("pod B", podB, 42);
  await read("pod B", podB, 42);

  // Coherence: pod A changes user 42; pod B's L1 copy is dropped by Redis's invalidation.
  const started = performance.now();
  let dropped = 0;
  const off = podB.redis.onInvalidate(() => dropped ||= performance.now());
  await podA.set("user:42", { id: 42, name: "user 42 (renamed on pod A)" });
  await podA.flush();
  while (dropped === 0 && performance.now() - started < 1_000) {
    await new Promise((r) => setTimeout(r, 1));
  }
  off();
  console.log(
    `pod A set user:42 -> pod B's L1 copy dropped ${
      ((dropped || performance.now()) - started).toFixed(2)
    } ms later (coherence: ${podB.getMetrics().coherence})`,
  );
  await read("pod B", podB, 42);

  if (server !== undefined) {
    await server.kill();
    console.log(
      "redis-server killed: L1 copies the connection guarded are dropped; reads go on from the loader and L1",
    );
    await read("pod A", podA, 42);
    await read("pod A", podA, 7);
    await read("pod A", podA, 8);
    await read("pod A", podA, 9);
    const m = podA.getMetrics();
    console.log(`pod A: l2Errors=${m.l2Errors}, breaker=${m.breaker}`);
    await server.restart();
    console.log("redis-server restarted on the same port");
    await new Promise((r) => setTimeout(r, 1_000)); // the reconnect (the breaker follows it)
    await read("pod B", podB, 100);
    await podB.flush();
    await read("pod A", podA, 100);
  }

  console.log("pod B metrics:", podB.getMetrics());
  await podA.close();
  await podA.redis.close();
  await podB.close();
  await podB.redis.close();
  await server?.stop();
}
