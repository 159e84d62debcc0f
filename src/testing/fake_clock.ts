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
  #timers: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;

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
    const end = this.time + ms;
    // Timers fire in time order, each seeing the clock at its own due time.
    for (;;) {
      let next: { at: number; seq: number; fn: () => void } | undefined;
      for (const t of this.#timers) {
        if (
          t.at <= end &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
        ) next = t;
      }
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      if (next.at > this.time) this.time = next.at;
      next.fn();
    }
    this.time = end;
  }

  /**
   * Runs `fn` when {@linkcode FakeClock.advance} reaches `ms` from now (the
   * cache's loader timeouts and lease polls use this, so tests drive them).
   *
   * @param fn What to run.
   * @param ms After how long, in ms.
   * @returns A function that cancels it.
   *
   * @example A timer fired by advance()
   * ```ts
   * import { FakeClock } from "@async-cache/cache/testing";
   * import { assertEquals } from "@std/assert";
   *
   * const clock = new FakeClock();
   * let fired = 0;
   * clock.schedule(() => fired++, 100);
   * clock.advance(99);
   * assertEquals(fired, 0);
   * clock.advance(1);
   * assertEquals(fired, 1);
   * ```
   */
  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.time + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      const i = this.#timers.indexOf(timer);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}
