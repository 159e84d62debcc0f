/**
 * One loader per fleet. On an L2 miss a cache with a `lease` tries to take
 * the key's lease in L2. The holder loads, writes the value, then releases
 * the lease (on the same connection, after the write). The others poll L2
 * every `poll` ms: the value appears → they use it; the lease is free
 * again (the holder failed, stored nothing, or died and the lease expired)
 * → one of them takes it and loads (after one more lookup: `#leasedLoad`);
 * `wait` passes → each loads itself. So a crashed holder delays the others by
 * at most the lease TTL.
 *
 * The wait has the caller's bound: it ends at the caller's `hardTimeout`
 * (a `LoaderTimeoutError`, and no load) and at once when the cache closes
 * (its signal aborts: no load either). A wait that ends earlier says how
 * much of the bound is left, for the load that follows.
 *
 * @module
 */
import { LoaderTimeoutError } from "../errors.ts";
import type { RemoteTier, TierEntry } from "../remote/_remote_tier.ts";
import { type Clock, scheduleOn } from "../time.ts";
import type { LeasePlan } from "./_serve.ts";

/** How a wait for another instance's load ended (`leftMs`: what is left of the caller's bound). */
export type LeaseOutcome =
  | { kind: "value"; entry: TierEntry }
  | { kind: "acquired"; leftMs: number }
  | { kind: "gave-up"; leftMs: number };

/**
 * Waits for the value of `key` loaded by the lease holder, polling L2.
 *
 * @param signal Ends the wait at once (the cache closed): rejects with its reason.
 * @param hardMs The caller's `hardTimeout` (0: none): the wait ends there and
 *   rejects with a `LoaderTimeoutError` (`onTimeout` runs first).
 */
export function awaitLeasedValue(
  remote: RemoteTier,
  key: string,
  lease: LeasePlan,
  clock: Clock,
  signal: AbortSignal,
  hardMs: number,
  onTimeout: () => void,
  tags?: readonly string[],
): Promise<LeaseOutcome> {
  return new Promise<LeaseOutcome>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const started = clock.now();
    let done = false;
    let cancelSleep = () => {};
    let cancelHard = () => {};
    const end = () => {
      done = true;
      cancelSleep();
      cancelHard();
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      if (done) return;
      end();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort);
    if (hardMs > 0) {
      cancelHard = scheduleOn(clock, () => {
        if (done) return;
        end();
        onTimeout();
        reject(new LoaderTimeoutError(key, hardMs));
      }, hardMs);
    }
    const sleep = (ms: number) =>
      new Promise<void>((wake) => {
        cancelSleep = scheduleOn(clock, wake, ms);
      });
    const poll = async (): Promise<
      { kind: "value"; entry: TierEntry } | { kind: "acquired" | "gave-up" } | undefined
    > => {
      const deadline = started + lease.wait;
      for (;;) {
        const left = deadline - clock.now();
        if (left <= 0) return { kind: "gave-up" };
        await sleep(Math.min(lease.poll, left));
        if (done) return undefined;
        const { entry } = await remote.lookup(key, tags);
        if (done) return undefined;
        if (entry !== undefined) return { kind: "value", entry };
        const held = await remote.acquireLease(key, lease.ttl);
        if (done) {
          // Taken after the caller stopped waiting: let the others have it.
          if (held === true) void remote.releaseLease(key);
          return undefined;
        }
        if (held === true) return { kind: "acquired" };
        if (held === undefined) return { kind: "gave-up" }; // L2 unusable: load
      }
    };
    poll().then(
      (outcome) => {
        if (done || outcome === undefined) return;
        end();
        if (outcome.kind === "value") return resolve(outcome);
        const leftMs = hardMs > 0 ? hardMs - (clock.now() - started) : Infinity;
        resolve({ kind: outcome.kind, leftMs });
      },
      (error) => {
        if (done) return;
        end();
        reject(error);
      },
    );
  });
}
