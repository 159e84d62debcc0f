/**
 * Time: the injectable {@linkcode Clock} and durations. A duration number is milliseconds (the JavaScript convention, as in
 * lru-cache and ioredis); a string carries its unit: `"300ms"`, `"5s"`,
 * `"2m"`, `"1h"`, `"1d"` (decimals allowed: `"1.5s"`).
 *
 * @module
 */
import { InvalidOptionError } from "./errors.ts";

/** A clock: milliseconds since an arbitrary origin. Injectable for tests. */
export interface Clock {
  /** The current time in milliseconds. */
  now(): number;
  /**
   * Optional: runs `fn` once, `ms` from now, and returns a function that
   * cancels it. Caches use it for loader timeouts and lease polls, so a fake
   * clock can drive them; without it they use `setTimeout`.
   */
  schedule?(fn: () => void, ms: number): () => void;
}

/** The default clock: `Date.now()`. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * Runs `fn` after `ms` on `clock` (its `schedule`, else `setTimeout`) and
 * returns the cancel function. Not unref'd: a caller is awaiting each of
 * these timers (a timeout, a lease poll), and each is cleared when what it
 * bounds settles.
 */
export function scheduleOn(clock: Clock, fn: () => void, ms: number): () => void {
  if (clock.schedule !== undefined) return clock.schedule(fn, ms);
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}

/** A duration: milliseconds as a number, or a string with a unit (`"300ms"`, `"5s"`, `"2m"`, `"1h"`, `"1d"`). */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)\s*$/;

/**
 * Converts a {@linkcode Duration} to milliseconds.
 *
 * @param value The duration.
 * @param what What is being configured, for the error message (e.g. `"AsyncCache"`).
 * @param option The option's name, for the error message (e.g. `"defaultTtl"`).
 * @returns Milliseconds, a finite number > 0, or `Infinity`.
 * @throws {InvalidOptionError} When the value is not a positive duration.
 *
 * @example
 * ```ts
 * import { parseDuration, InvalidOptionError } from "@async-cache/cache";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(parseDuration("300s"), 300_000);
 * assertEquals(parseDuration(250), 250);
 * assertThrows(() => parseDuration("5 parsecs", "AsyncCache", "defaultTtl"), InvalidOptionError, "defaultTtl");
 * ```
 */
export function parseDuration(value: unknown, what = "duration", option = "duration"): number {
  if (typeof value === "number") {
    if (value > 0 && !Number.isNaN(value)) return value;
  } else if (typeof value === "string") {
    const m = PATTERN.exec(value);
    if (m) {
      const ms = Number(m[1]) * UNIT_MS[m[2]];
      if (ms > 0 && Number.isFinite(ms)) return ms;
    }
  }
  throw new InvalidOptionError(
    what,
    option,
    'a positive number of milliseconds or a string like "300ms", "5s", "2m", "1h", "1d"',
    value,
  );
}

/** Like {@linkcode parseDuration}, but `undefined` passes through (meaning "not set"). */
export function parseOptionalDuration(
  value: unknown,
  what: string,
  option: string,
): number | undefined {
  return value === undefined ? undefined : parseDuration(value, what, option);
}
