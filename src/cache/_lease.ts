/**
 * One loader per fleet. On an L2 miss a cache with a `lease` tries to take
 * the key's lease in L2. The holder loads, writes the value, then releases
 * the lease (on the same connection, after the write). The others poll L2
 * every `poll` ms: the value appears → they use it; the lease is free
 * again (the holder failed, stored nothing, or died and the lease expired)
 * → one of them takes it and loads; `wait` passes → each loads itself. So a
 * crashed holder delays the others by at most the lease TTL.
 *
 * @module
 */
import type { RemoteTier, TierEntry } from "../remote/_remote_tier.ts";
import type { Clock } from "../time.ts";
import type { LeasePlan } from "./_serve.ts";
import { sleepOn } from "./_timeouts.ts";

/** How a wait for another instance's load ended. */
export type LeaseOutcome =
  | { kind: "value"; entry: TierEntry }
  | { kind: "acquired" }
  | { kind: "gave-up" };

/**
 * Waits for the value of `key` loaded by the lease holder, polling L2.
 *
 * @param wanted Whether the caller still wants it (false once the cache closes or the key is invalidated).
 */
export async function awaitLeasedValue(
  remote: RemoteTier,
  key: string,
  lease: LeasePlan,
  clock: Clock,
  wanted: () => boolean,
  tags?: readonly string[],
): Promise<LeaseOutcome> {
  const deadline = clock.now() + lease.wait;
  for (;;) {
    const left = deadline - clock.now();
    if (left <= 0 || !wanted()) return { kind: "gave-up" };
    await sleepOn(clock, Math.min(lease.poll, left));
    if (!wanted()) return { kind: "gave-up" };
    const { entry } = await remote.lookup(key, tags);
    if (entry !== undefined) return { kind: "value", entry };
    const held = await remote.acquireLease(key, lease.ttl);
    if (held === true) return { kind: "acquired" };
    if (held === undefined) return { kind: "gave-up" }; // L2 unusable: load
  }
}
