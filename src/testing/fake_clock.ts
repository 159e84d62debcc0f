/**
 * A clock the test moves by hand.
 *
 * @module
 */
import type { Clock } from "../time.ts";

/**
 * A {@linkcode Clock} the test moves by hand: TTL tests advance time instead
 * of sleeping. Give it as the `clock` option of `AsyncCache`, `AsyncLRU`,
 * `AsyncTTL` or `AgentCache`, and as `now: () => clock.now()` of `FakeRedis`.
 *
 * @example An entry expires when the test says so
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import { FakeClock } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const clock = new FakeClock();
 * const cache = new AsyncCache<string>({ clock, defaultTtl: "1m" });
 * await cache.set("k", "v");
 * clock.advance(59_999);
 * assertEquals(await cache.get("k"), "v");
 * clock.advance(1);
 * assertEquals(await cache.get("k"), undefined);
 * await cache.close();
 * ```
 */
export class FakeClock implements Clock {
  /** The current time in ms (settable). Starts at 1 000 000, not 0. */
  time: number;

  /**
   * A clock stopped at `start`.
   *
   * @param start The time to start at, in ms.
   */
  constructor(start = 1_000_000) {
    this.time = start;
  }

  /**
   * The current time.
   *
   * @returns The time in ms.
   */
  now(): number {
    return this.time;
  }

  /**
   * Moves time forward.
   *
   * @param ms How far, in ms (negative values move it back).
   */
  advance(ms: number): void {
    this.time += ms;
  }
}
