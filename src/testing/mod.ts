/**
 * Test doubles for code that uses the cache: a fake Redis server to inject
 * through the `transport` option, and a clock the test moves by hand.
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
