/**
 * The system clock as the L1 stores read it: `Date.now()` at most once per
 * millisecond. The first read caches the time and arms a 1 ms timer that
 * forgets it; every 16th read also rereads it, so a synchronous loop that
 * holds the event loop (and so the timer) still sees time pass. An entry is
 * therefore served at most ~1 ms (or 16 reads) past its expiry, and a hit
 * on an entry with a TTL costs about what a hit without one does (after
 * lru-cache's `ttlResolution`).
 *
 * Only for the default clock: an injected one (a `FakeClock`) is read as is.
 *
 * Internal.
 *
 * @module
 */
import { type Clock, systemClock } from "../time.ts";

/** The time read last (0: none held), and how many more reads may use it. */
let cached = 0;
let left = 0;

function forget(): void {
  cached = 0;
}

function read(): number {
  const armed = cached !== 0;
  cached = Date.now();
  left = 15;
  if (!armed) {
    const timer = setTimeout(forget, 1) as unknown as { unref?: () => void };
    if (typeof timer === "object") timer.unref?.();
  }
  return cached;
}

/** See the module doc. */
export const coarseClock: Clock = {
  now(): number {
    return --left > 0 && cached !== 0 ? cached : read();
  },
};

/** The clock a store reads: the coarse one in place of the system clock. */
export function storeClock(clock: Clock): Clock {
  return clock === systemClock ? coarseClock : clock;
}
