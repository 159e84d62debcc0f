/**
 * The state one `AsyncCache` works on (its L1 store, tag index, loads in
 * flight, L2 tier, counters, events, lifecycle) and the ways L1 changes
 * besides a load: a write (`put`), a forgotten write (`forget`), and the
 * drops an invalidation makes (of keys, tags, a prefix, everything). Every
 * drop goes through `drop`/`dropTags`/`dropByPrefix` here, so a drop always
 * reaches the store, the tag index and the loads in flight together.
 *
 * Internal: the public API is `AsyncCache` (`async_cache.ts`); the miss
 * path is `_miss_path.ts`.
 *
 * @module
 */
import type { BreakerState } from "../remote/circuit_breaker.ts";
import type { Logger } from "../logger.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import { type Dropped, RemoteTier } from "../remote/_remote_tier.ts";
import { BackupLink } from "./_backup_link.ts";
import { Flights } from "./_flights.ts";
import { Events } from "./_events.ts";
import { Probes } from "./_probe.ts";
import type { ServePlan } from "./_serve.ts";
import { Cancellations } from "./_timeouts.ts";
import { Lifecycle } from "./_lifecycle.ts";
import { Counters } from "./_metrics.ts";
import type { CacheConfig } from "./_options.ts";
import { LruStore } from "./lru_store.ts";
import { createStore, type L1Store, sizeFor } from "./_l1_store.ts";
import { TagIndex } from "./_tag_index.ts";

/** See the module doc. */
export class CacheState<V> {
  readonly store: L1Store<V>;
  readonly config: CacheConfig;
  readonly defaultTtl: number | undefined;
  readonly logger: Logger;
  remote: RemoteTier | undefined;
  readonly flights: Flights<V>;
  readonly counters: Counters = new Counters();
  readonly life: Lifecycle = new Lifecycle();
  readonly backup: BackupLink<V> | undefined;
  /** What `get` probes first: the store, or (while a `"hit"` listener exists) an empty one. */
  probe: L1Store<V>;
  readonly serve: ServePlan | undefined;
  lease: CacheConfig["lease"];
  readonly events: Events;
  readonly cancels: Cancellations = new Cancellations();
  readonly hitWatchers: ((slow: boolean) => void)[] = [];
  /** Instrumentation of the miss path (`@async-cache/cache/otel`). */
  readonly probes: Probes = new Probes();
  /** Tags of the tagged entries in L1, and recent tag drops. */
  readonly tags: TagIndex;
  /** Resolves once the `backup` snapshot is loaded (at once without one). */
  readonly ready: Promise<void>;

  constructor(config: CacheConfig) {
    this.config = config;
    this.defaultTtl = config.defaultTtl;
    this.logger = config.logger;
    this.store = createStore<V>(config.maxsize, config.clock, config);
    this.tags = new TagIndex(
      (k) => this.store.has(k),
      () => 2 * Math.min(config.maxsize, 1e6) + 1024,
    );
    this.flights = new Flights<V>(() => this.tags.mark());
    this.serve = config.serve;
    // Early refresh needs a look at each hit: hits take the slow path (and only then).
    this.probe = (config.serve?.refreshAhead ?? 0) > 0
      ? new LruStore<V>(0, config.clock)
      : this.store;
    this.lease = config.lease;
    this.events = new Events(config.logger, (active) => this.#observeHits(active));
    if (config.remote !== undefined) this.bindRemote(config.remote, config.namespace);
    if (config.backup === undefined) {
      this.ready = Promise.resolve();
    } else {
      this.backup = new BackupLink(
        config.backup,
        this.store,
        config.maxsize,
        config.clock,
        config.logger,
        () => this.life.open,
        config.remote !== undefined,
        (k, value) => this.sizeOf(k, value),
      );
      this.ready = this.backup.ready;
    }
  }

  /** Puts the L2 tier in `namespace` of `backend`; its invalidations reach L1 through `drop`. */
  bindRemote(backend: RemoteCacheBackend, namespace: string): void {
    const { logger, clock } = this.config;
    this.remote = new RemoteTier(backend, namespace, logger, clock, (d) => this.#drop(d));
    this.remote.onBreaker = (state, previous) => this.#breakerChanged(state, previous);
    this.remote.lowWater = () => this.flights.oldestStamp();
  }

  /**
   * Sets an L1 entry and its tags; with a serving plan, also kept
   * `plan.keep` ms past its TTL (for stale reads) and marked for early
   * refresh (`full`: the entry's whole TTL, of which `ttl` is what is left).
   */
  put(
    k: string,
    value: V,
    ttl: number | undefined,
    tags: readonly string[] | undefined,
    plan?: ServePlan,
    full?: number,
  ): void {
    const size = this.sizeOf(k, value);
    if (plan === undefined || ttl === undefined || ttl === Infinity) {
      this.store.set(k, value, ttl, 0, 0, size);
    } else {
      const refresh = plan.refreshAhead > 0 && full !== undefined && full !== Infinity
        ? Math.max(1, ttl - (1 - plan.refreshAhead) * full)
        : 0;
      this.store.set(k, value, ttl, plan.keep, refresh, size);
    }
    this.tags.set(k, tags);
  }

  /**
   * The size of an L1 entry for the byte budget (0 without one; `Infinity`,
   * so not kept, when it has no size: logged once per cache).
   */
  sizeOf(k: string, value: V): number {
    if (this.config.maxBytes === Infinity) return 0;
    const size = sizeFor(this.config.sizeOf, value, k);
    if (!Number.isNaN(size)) return size;
    if (!this.#unsized) {
      this.#unsized = true;
      this.logger.warn(
        `async-cache: no size for key "${k}" (${
          this.config.sizeOf === undefined
            ? "the codec cannot encode the value"
            : "sizeOf threw or returned no number >= 0"
        }); such entries are served but not kept in L1 (maxBytes)`,
      );
    }
    return Infinity;
  }
  #unsized = false;

  /** Drops `k` from L1 (its write turned out to be invalidated already). */
  forget(k: string): void {
    this.store.delete(k);
    this.tags.delete(k);
  }

  /** While a `"hit"` listener exists, L1 hits take the slow path (which emits them). */
  #observeHits(active: boolean): void {
    const slow = active || (this.serve?.refreshAhead ?? 0) > 0;
    this.probe = slow ? new LruStore<V>(0, this.config.clock) : this.store;
    for (const watch of this.hitWatchers) watch(slow);
  }

  #breakerChanged(state: BreakerState, previous: BreakerState): void {
    if (this.events.lists.breaker !== undefined) this.events.emit("breaker", { state, previous });
  }

  /** Applies an invalidation reported by the L2 tier. */
  #drop(dropped: Dropped): void {
    const events = this.events.lists.invalidate !== undefined ? this.events : undefined;
    if (dropped.kind === "all") {
      this.flights.invalidatePrefix("");
      this.store.clear();
      this.tags.clear();
      events?.emit("invalidate", { reason: "remote" });
    } else if (dropped.kind === "keys") {
      for (const k of dropped.keys) {
        this.flights.invalidate(k);
        this.store.delete(k);
        this.tags.delete(k);
        events?.emit("invalidate", { key: k, reason: "remote" });
      }
    } else {
      this.dropTags(dropped.tags);
    }
  }

  dropTags(tags: readonly string[]): void {
    if (this.events.lists.invalidate !== undefined) {
      this.events.emit("invalidate", { tags, reason: "tags" });
    }
    this.flights.invalidateTags(new Set(tags));
    for (const k of this.tags.drop(tags)) this.store.delete(k);
  }

  dropByPrefix(prefix: string): number {
    if (this.events.lists.invalidate !== undefined) {
      this.events.emit("invalidate", { prefix, reason: "prefix" });
    }
    this.flights.invalidatePrefix(prefix);
    const doomed: string[] = [];
    for (const k of this.store.keys()) if (k.startsWith(prefix)) doomed.push(k);
    for (const k of doomed) this.store.delete(k);
    return doomed.length;
  }
}
