/**
 * Test doubles for code that uses the cache, so its tests need no server and
 * no sleeps: {@linkcode FakeRedis}, an in-memory Redis to inject through
 * `new RedisBackend({ transport: fake.connect })`, scriptable per command
 * (error replies, delays, silence, garbage bytes, resets, refused or hung
 * connections); and {@linkcode FakeClock}, a clock the test moves by hand.
 *
 * @example Testing code that caches through Redis, without a server or sleeps
 * ```ts
 * import { AsyncCache, RedisBackend } from "@async-cache/cache";
 * import { FakeClock, FakeRedis } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const clock = new FakeClock();
 * const fake = new FakeRedis({ now: () => clock.now() });
 * const redis = new RedisBackend({ transport: fake.connect });
 * const cache = new AsyncCache<string>({ remoteCache: redis, clock, defaultTtl: "1m" });
 *
 * let loads = 0;
 * const load = async () => `user ${++loads}`;
 * assertEquals(await cache.get("user:1", { loader: load }), "user 1");
 * assertEquals(await cache.get("user:1", { loader: load }), "user 1"); // cached
 * await cache.flush(); // the Redis write runs in the background
 * assertEquals(fake.commands.filter(([name]) => name === "SET").length, 1);
 * clock.advance(60_000); // expired in memory and in the fake Redis
 * assertEquals(await cache.get("user:1", { loader: load }), "user 2");
 *
 * await cache.close();
 * await redis.close();
 * await fake.close();
 * ```
 *
 * @module
 */

export {
  type CommandHandler,
  type FakeCommand,
  FakeConnection,
  type FakeEntry,
  FakeRedis,
  type FakeRedisOptions,
  type FakeReply,
  NO_REPLY,
  resp,
  type RespBytes,
} from "./fake_redis.ts";
export { FakeClock } from "./fake_clock.ts";
