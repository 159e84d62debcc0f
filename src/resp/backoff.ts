/**
 * Reconnect delays: exponential backoff with jitter, as pure functions of the
 * attempt number (and of the random source, so tests can pin it).
 *
 * @module
 */

/** Options for {@linkcode createBackoff}. */
export interface BackoffOptions {
  /** The delay scale of the first retry, in milliseconds. Default 50. */
  baseMs?: number;
  /** The largest delay, in milliseconds. Default 2000. */
  capMs?: number;
}

/**
 * A backoff policy: the delay before reconnect attempt `attempt` (0 for the
 * first retry after a failure). `random` returns a number in [0, 1).
 */
export type Backoff = (attempt: number, random?: () => number) => number;

/**
 * Makes a backoff policy: the delay doubles with each attempt up to `capMs`,
 * and "equal jitter" spreads it over its upper half, so clients that lost the
 * same server do not reconnect in lockstep and a delay is never zero (no tight
 * loop, however the server fails).
 *
 * @param options Base and cap.
 * @returns The policy.
 * @throws {RangeError} If `baseMs` or `capMs` is not positive, or `capMs < baseMs`.
 *
 * @example
 * ```ts
 * import { createBackoff } from "./backoff.ts";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const backoff = createBackoff({ baseMs: 100, capMs: 1000 });
 * assertEquals(backoff(0, () => 0), 50);
 * assertEquals(backoff(3, () => 0.5), 600);
 * assert(backoff(50) <= 1000);
 * ```
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseMs ?? 50;
  const cap = options.capMs ?? 2000;
  if (!(base > 0) || !Number.isFinite(base)) {
    throw new RangeError(
      `Cannot create backoff: baseMs must be a positive number: received ${base}`,
    );
  }
  if (!(cap >= base) || !Number.isFinite(cap)) {
    throw new RangeError(
      `Cannot create backoff: capMs must be a finite number >= baseMs (${base}): received ${cap}`,
    );
  }
  return (attempt: number, random: () => number = Math.random): number => {
    const n = attempt > 0 && Number.isFinite(attempt) ? Math.floor(attempt) : 0;
    // 2 ** n overflows to Infinity for huge n; min() with cap keeps it finite.
    const ceiling = Math.min(cap, base * 2 ** Math.min(n, 60));
    return ceiling / 2 + random() * (ceiling / 2);
  };
}

/**
 * The default policy: 25-50 ms for the first retry, doubling, capped at 2000 ms.
 *
 * @example
 * ```ts
 * import { backoff } from "./backoff.ts";
 * import { assert } from "@std/assert";
 *
 * for (let attempt = 0; attempt < 100; attempt++) {
 *   const ms = backoff(attempt);
 *   assert(ms > 0 && ms <= 2000);
 * }
 * ```
 */
export const backoff: Backoff = createBackoff();
