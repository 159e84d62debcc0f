/**
 * The figures the asynchronous instruments report, read from a cache's
 * counters at collection time (nothing is counted on the hit path for them),
 * and kept monotonic across `clear()` (which zeroes the cache's counters).
 *
 * @module
 */
import type { InvalidationKind, L2ErrorKind } from "../remote/_remote_tier.ts";
import { L2_ERROR_KINDS } from "../remote/_remote_tier.ts";
import type { Target } from "./_target.ts";

/** A snapshot of one cache's figures. */
export interface Figures {
  series: {
    requests: [string, string, number][];
    loads: number;
    loadErrors: number;
    coalesced: number;
    refreshes: number;
    evictions: [string, number][];
    invalidations: [InvalidationKind, number][];
    l2Errors: [L2ErrorKind, number][];
    leaseWaits: number;
    leaseTakeovers: number;
  };
  entries: number;
  bytes: number;
  /** The breaker's state; undefined without L2. */
  breaker: "closed" | "open" | "half-open" | undefined;
}

const INVALIDATION_KINDS: readonly InvalidationKind[] = ["key", "tag", "namespace", "flush"];

/** Reads `target`'s figures now (undefined: nothing to read). */
export function readFigures(target: Target): Figures | undefined {
  const i = target.internals;
  if (i === undefined) return target.metrics === undefined ? undefined : fromMetrics(target);
  const c = i.counters;
  const store = i.store;
  const tier = i.remote();
  const r = tier?.counters;
  const requests: [string, string, number][] = [
    ["l1", "hit", c.l1Hits],
    ["l1", "miss", c.l1Misses],
    ["l1", "stale", c.stale - c.l2Stale],
  ];
  if (r !== undefined) {
    requests.push(["l2", "hit", r.l2Hits], ["l2", "miss", r.l2Misses], ["l2", "stale", c.l2Stale]);
  }
  return {
    series: {
      requests,
      loads: c.loads,
      loadErrors: c.loadErrors,
      coalesced: c.coalesced,
      refreshes: c.refreshes,
      evictions: [
        ["size", store.evictions - store.byteEvictions - store.rejections],
        ["bytes", store.byteEvictions],
        ["expired", store.expirations],
        ["rejected", store.rejections],
      ],
      invalidations: r === undefined
        ? []
        : INVALIDATION_KINDS.map((k) => [k, r.invalidationKinds[k]] as [InvalidationKind, number]),
      l2Errors: r === undefined
        ? []
        : L2_ERROR_KINDS.map((k) => [k, r.errorKinds[k]] as [L2ErrorKind, number]),
      leaseWaits: c.leaseWaits,
      leaseTakeovers: c.leaseTakeovers,
    },
    entries: store.size,
    bytes: store.bytes,
    breaker: tier?.state,
  };
}

/** From `getMetrics()` alone (a target whose cache is not known): the coarser figures it has. */
function fromMetrics(target: Target): Figures {
  const m = target.metrics!();
  const remote = m.breaker !== "none";
  const requests: [string, string, number][] = [["l1", "hit", m.l1Hits]];
  if (remote) requests.push(["l2", "hit", m.l2Hits], ["l2", "miss", m.l2Misses]);
  return {
    series: {
      requests,
      loads: m.loads,
      loadErrors: m.loadErrors,
      coalesced: m.coalesced,
      refreshes: m.refreshes,
      evictions: [["size", m.evictions], ["expired", m.expirations]],
      invalidations: [],
      l2Errors: remote ? [["other", m.l2Errors]] : [],
      leaseWaits: m.leaseWaits,
      leaseTakeovers: 0,
    },
    entries: m.size,
    bytes: m.bytes,
    breaker: m.breaker === "none" ? undefined : m.breaker,
  };
}

/**
 * Turns counter readings into monotonic totals: a reading below the last
 * one (the cache's counters were zeroed by `clear()`) adds the new reading.
 */
export class Monotonic {
  readonly #last = new Map<string, number>();
  readonly #total = new Map<string, number>();

  /** The total of series `id` given its reading `now`. */
  total(id: string, now: number): number {
    const last = this.#last.get(id);
    const total = this.#total.get(id) ?? 0;
    const next = last === undefined ? now : now >= last ? total + (now - last) : total + now;
    this.#last.set(id, now);
    this.#total.set(id, next);
    return next;
  }
}
