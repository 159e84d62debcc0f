/**
 * A cache's counters and the {@linkcode CacheMetrics} snapshot built from
 * them. Counting is plain integer increments on fields, nothing else.
 *
 * @module
 */
import type { BreakerState } from "../remote/circuit_breaker.ts";
import type { CoherenceMode } from "../remote/remote_backend.ts";
import type { RemoteCounters } from "../remote/_remote_tier.ts";

/** A snapshot of a cache's counters. */
export interface CacheMetrics {
  /** Reads answered from L1 or L2. */
  hits: number;
  /** Reads that found nothing in either tier (and went to a loader, if any). */
  misses: number;
  /**
   * `hits / (hits + misses)`, 0 before any read. A read that joined a load
   * already in flight (`coalesced`) is in neither count: the load it joined
   * counted once, as a miss.
   */
  hitRate: number;
  /** Live entries in L1 now (expired entries are not counted). */
  size: number;
  /** The sum of the sizes of L1's entries, in bytes (counted only with `maxBytes`; else 0). */
  bytes: number;
  /** Reads answered from L1. */
  l1Hits: number;
  /** Reads answered from L2 (after an L1 miss). */
  l2Hits: number;
  /** L2 lookups that found nothing. */
  l2Misses: number;
  /** Failed L2 operations (logged, never thrown). */
  l2Errors: number;
  /** Successful background L2 writes. */
  l2Writes: number;
  /** Loader runs (a batch counts each key it loads). */
  loads: number;
  /** Loader runs that threw or rejected. */
  loadErrors: number;
  /** `batchLoader` calls. */
  batches: number;
  /** Reads that joined a load already in flight for the same key. */
  coalesced: number;
  /**
   * Live L1 entries dropped to make room (by `maxsize` or `maxBytes`),
   * including, under `policy: "tinylfu"`, new entries refused at admission.
   */
  evictions: number;
  /** L1 entries dropped because their TTL had passed (on a read, or when pushed out). */
  expirations: number;
  /** Reads answered with an entry past its TTL (stale-while-revalidate, grace, soft timeout). */
  stale: number;
  /** Background loads started to refresh an entry (stale-while-revalidate, `refreshAhead`). */
  refreshes: number;
  /** Loads that passed `softTimeout` (they go on in the background). */
  softTimeouts: number;
  /** Loads abandoned at `hardTimeout` (`LoaderTimeoutError`). */
  timeouts: number;
  /** Loaded values not stored: `noCache(value)`, or a TTL function that returned 0. */
  uncached: number;
  /** Leases this cache took before loading (`lease`). */
  leases: number;
  /** Misses that waited for another instance's lease instead of loading. */
  leaseWaits: number;
  /** Invalidations applied to L1: keys, tags or everything changed in L2 (by anyone). */
  invalidations: number;
  /**
   * How L1 copies of L2 entries are kept coherent: `"tracking"` (the backend
   * reports changes, e.g. RESP3 `CLIENT TRACKING`), `"ttl"` (they live until
   * their TTL), `"none"` without L2.
   */
  coherence: CoherenceMode | "none";
  /** The L2 circuit breaker: `"closed"` (in use), `"open"` (skipped), `"half-open"` (probing); `"none"` without L2. */
  breaker: BreakerState | "none";
}

/** What the store reports. */
export interface StoreCounts {
  readonly size: number;
  readonly bytes: number;
  evictions: number;
  expirations: number;
}

/** The counters an `AsyncCache` keeps itself (L2 counters live in the remote tier). */
export class Counters {
  l1Hits = 0;
  misses = 0;
  loads = 0;
  loadErrors = 0;
  batches = 0;
  coalesced = 0;
  stale = 0;
  refreshes = 0;
  softTimeouts = 0;
  timeouts = 0;
  uncached = 0;
  leases = 0;
  leaseWaits = 0;
  /** Reads that found no fresh L1 entry (stale reads served from L1 included). */
  l1Misses = 0;
  /** Reads answered with a stale entry that came from L2 (a subset of `stale`). */
  l2Stale = 0;
  /** Leases taken over after waiting for another holder that never wrote the value. */
  leaseTakeovers = 0;

  /** Zeroes every counter. */
  reset(): void {
    this.l1Hits =
      this.misses =
      this.loads =
      this.loadErrors =
      this.batches =
      this.coalesced =
      this.stale =
      this.refreshes =
      this.softTimeouts =
      this.timeouts =
      this.uncached =
      this.leases =
      this.leaseWaits =
      this.l1Misses =
      this.l2Stale =
      this.leaseTakeovers =
        0;
  }

  /** The snapshot, with the store's and the remote tier's counts. */
  snapshot(
    store: StoreCounts,
    remote: RemoteCounters | undefined,
    breaker: BreakerState | "none",
    coherence: CoherenceMode | "none",
  ): CacheMetrics {
    const l2Hits = remote?.l2Hits ?? 0;
    const hits = this.l1Hits + l2Hits;
    const total = hits + this.misses;
    return {
      hits,
      misses: this.misses,
      hitRate: total === 0 ? 0 : hits / total,
      size: store.size,
      bytes: store.bytes,
      l1Hits: this.l1Hits,
      l2Hits,
      l2Misses: remote?.l2Misses ?? 0,
      l2Errors: remote?.l2Errors ?? 0,
      l2Writes: remote?.l2Writes ?? 0,
      loads: this.loads,
      loadErrors: this.loadErrors,
      batches: this.batches,
      coalesced: this.coalesced,
      evictions: store.evictions,
      expirations: store.expirations,
      stale: this.stale,
      refreshes: this.refreshes,
      softTimeouts: this.softTimeouts,
      timeouts: this.timeouts,
      uncached: this.uncached,
      leases: this.leases,
      leaseWaits: this.leaseWaits,
      invalidations: remote?.invalidations ?? 0,
      coherence,
      breaker,
    };
  }
}
