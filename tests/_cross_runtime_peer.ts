/**
 * Spawned by cross_runtime_test.ts in another runtime: reads `readKey` through
 * an AsyncCache + RedisBackend, writes what it read back under `writeKey`, and
 * prints its runtime name. Usage: `<runtime> _cross_runtime_peer.ts PORT READ WRITE`.
 */
import process from "node:process";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { runtimeName } from "../runtimes/mod.ts";

const [port, readKey, writeKey] = process.argv.slice(-3);
const redis = new RedisBackend({ host: "127.0.0.1", port: Number(port), prefix: "xrt:" });
const cache = new AsyncCache<unknown>({ remoteCache: redis });
const value = await cache.get(readKey);
if (value === undefined) {
  console.error(`peer (${runtimeName}): ${readKey} not found`);
  process.exit(2);
}
await cache.set(writeKey, value);
await cache.close();
await redis.close();
console.log(runtimeName);
