/**
 * Spawned by coherence_test.ts: another process that sets one key through
 * its own AsyncCache + RedisBackend. Usage: `deno run -A _coherence_peer.ts PORT KEY VALUE`.
 */
import process from "node:process";
import { AsyncCache, RedisBackend } from "../mod.ts";

const [port, key, value] = process.argv.slice(-3);
const redis = new RedisBackend({ host: "127.0.0.1", port: Number(port) });
const cache = new AsyncCache<string>({ remoteCache: redis });
await cache.set(key, value);
await cache.close();
await redis.close();
