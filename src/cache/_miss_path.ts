/**
 * The miss path of `AsyncCache`: everything a `get` does when L1 cannot
 * answer at once. Options are checked (on hits too), a stale entry may
 * answer (`staleWhileRevalidate`, `grace`, `softTimeout`), concurrent
 * misses share one flight, L2 is looked up, then the loader runs (alone,
 * in a batch, or under a fleet-wide lease) and its value is kept in both
 * tiers unless an invalidation made it stale while it ran.
 *
 * Internal: the public API is `AsyncCache` (`async_cache.ts`); the state it
 * works on and the drops are `_cache_state.ts`.
 *
 * @module
 */
import { CacheClosedError } from "../errors.ts";
import { l1TtlFor, type TierEntry } from "../remote/_remote_tier.ts";
import {
  type AnyBatchLoader,
  Batcher,
  type BatchSlot,
  callBatchLoader,
  pickResult,
  rejectSlot,
  resolveSlot,
} from "./_batcher.ts";
import type { Flight, Loader } from "./_flights.ts";
import { awaitLeasedValue } from "./_lease.ts";
import {
  hasServingOptions,
  isNoCache,
  NO_PLAN,
  NO_STORE,
  planOf,
  type ServePlan,
  ttlFor,
  type TtlSpec,
} from "./_serve.ts";
import {
  boundWait,
  hardLeft,
  raceSoft,
  reportHardTimeout,
  SOFT_TIMEOUT,
  withHardTimeout,
} from "./_timeouts.ts";
import { checkGetOptions } from "./_options.ts";
import { isWellFormed, normalizeKey } from "./keys.ts";
import { checkTags } from "./_tag_index.ts";
import { CacheState } from "./_cache_state.ts";
import type { CacheKey, GetOptions } from "./cache_options.ts";

/** See the module doc. */
export class MissPath<V> extends CacheState<V> {
  readonly batcher: Batcher = new Batcher(
    this.config.batchWindowMs,
    this.config.maxBatchSize,
    (loader, slots) => this.#runBatch(loader, slots),
    this.config.clock,
  );
  /** Errors already logged (one load's failure reaches many callers). */
  readonly #reported = new WeakSet<object>();

  /** Checks the options (on hits too), then answers the hit or goes to the miss path. */
  checked(
    original: CacheKey,
    k: string,
    hit: V | undefined,
    options: GetOptions<V> | undefined,
  ): Promise<V | undefined> {
    let ttl: TtlSpec = this.defaultTtl;
    let tags: readonly string[] | undefined;
    if (options !== undefined) {
      try {
        ttl = checkGetOptions(options, ttl);
        tags = checkTags("AsyncCache.get", options.tags);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (hit !== undefined && this.life.open) {
      this.counters.l1Hits++;
      return Promise.resolve(hit);
    }
    // A string key skipped normalizeKey on the hit path (no L1 key is ill-formed): check it here.
    if (typeof original === "string" && !isWellFormed(k)) {
      try {
        normalizeKey(k);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#served(original, k, options, ttl, tags);
  }

  /**
   * The miss path, with serving: a probe that skipped L1 (a `"hit"`
   * listener, early refresh) looks now; a stale entry may answer.
   */
  #served(
    original: CacheKey,
    k: string,
    options: GetOptions<V> | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
  ): Promise<V | undefined> {
    let plan = this.serve;
    if (options !== undefined && hasServingOptions(options)) {
      try {
        plan = planOf("AsyncCache.get", options, plan ?? NO_PLAN);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.probe !== this.store) {
      const hit = this.store.get(k);
      if (hit !== undefined) {
        this.counters.l1Hits++;
        if (this.events.lists.hit !== undefined) this.events.emit("hit", { key: k, tier: "l1" });
        if (plan !== undefined && plan.refreshAhead > 0 && options?.loader !== undefined) {
          this.#refreshAhead(original, k, options.loader, ttl, tags, plan);
        }
        return Promise.resolve(hit);
      }
    }
    this.counters.l1Misses++;
    const loader = options?.loader;
    const batchLoader = options?.batchLoader;
    if (plan !== undefined && plan.keep > 0) {
      const stale = this.store.stale(k);
      if (stale !== undefined) {
        return this.#staleRead(
          original,
          k,
          stale,
          this.store.staleAge,
          loader,
          batchLoader,
          ttl,
          tags,
          plan,
        );
      }
    }
    return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
  }

  #miss(
    original: CacheKey,
    k: string,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags?: readonly string[],
    plan?: ServePlan,
  ): Promise<V | undefined> {
    if (!this.life.open) return Promise.reject(new CacheClosedError());
    const loading = this.backup?.loading;
    if (loading !== undefined) {
      return loading.then(() => {
        const value = this.store.get(k);
        if (value === undefined) {
          return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
        }
        this.counters.l1Hits++;
        return value;
      });
    }
    const pending = this.flights.get(k);
    if (pending !== undefined) {
      this.counters.coalesced++;
      pending.joined++;
      // A lookup without a loader adopts this caller's, so it never answers `undefined` to it.
      if (pending.lookingUp && pending.loader === undefined && pending.batchLoader === undefined) {
        pending.loader = loader;
        pending.batchLoader = batchLoader;
        pending.ttl = ttl;
        pending.tags = tags;
      }
      // This caller's own bound: it stops waiting there; the load goes on for the others.
      return boundWait(pending.promise, plan?.hard ?? 0, this.config.clock, k);
    }
    if (loader === undefined && batchLoader === undefined && this.remote === undefined) {
      this.counters.misses++;
      if (this.events.lists.miss !== undefined) this.events.emit("miss", { key: k });
      return Promise.resolve(undefined);
    }
    const flight = this.flights.start(k, loader, batchLoader, ttl, tags, plan);
    const run = batchLoader !== undefined
      ? () => this.#batched(original, k, flight, batchLoader, false)
      : () => this.#lookupThenLoad(original, k, flight);
    const probe = this.probes.active;
    flight.promise = probe === undefined ? run() : probe.flight(k, flight, run);
    return flight.promise;
  }

  /**
   * A read that found only a stale entry (`age` ms past its TTL): within
   * `staleWhileRevalidate` it answers at once and refreshes in the
   * background; within `grace` it waits for the load, up to `softTimeout`,
   * and answers the stale value if the load fails or is slow.
   */
  #staleRead(
    original: CacheKey,
    k: string,
    stale: V,
    age: number,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan: ServePlan,
  ): Promise<V | undefined> {
    const canReload = loader !== undefined || batchLoader !== undefined ||
      this.remote !== undefined;
    if (!canReload || !this.life.open) {
      return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
    }
    if (age < plan.swr) {
      this.#revalidate(original, k, loader, batchLoader, ttl, tags, plan, 0);
      return Promise.resolve(this.#servedStale(k, stale, "swr", age));
    }
    if (age >= plan.grace) return this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
    const load = this.#miss(original, k, loader, batchLoader, ttl, tags, plan);
    const onError = (error: unknown) => {
      this.#reportFailure(k, "load", error, "stale");
      return this.#servedStale(k, stale, "grace", age);
    };
    if (plan.soft === 0) return load.then(undefined, onError);
    return raceSoft(load, plan.soft, this.config.clock).then((value) => {
      if (value !== SOFT_TIMEOUT) return value;
      load.catch((error) => this.#reportFailure(k, "refresh", error, "stale"));
      this.counters.softTimeouts++;
      if (this.events.lists.timeout !== undefined) {
        this.events.emit("timeout", { key: k, kind: "soft", timeoutMs: plan.soft });
      }
      return this.#servedStale(k, stale, "soft-timeout", age);
    }, onError);
  }

  #servedStale(k: string, stale: V, reason: "swr" | "grace" | "soft-timeout", age: number): V {
    this.counters.stale++;
    if (this.events.lists.stale !== undefined) {
      this.events.emit("stale", { key: k, reason, ageMs: age });
    }
    return stale;
  }

  /** A hit with a loader: starts one background refresh once the entry passed its `refreshAhead` mark. */
  #refreshAhead(
    original: CacheKey,
    k: string,
    loader: Loader<V>,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan: ServePlan,
  ) {
    if (!this.store.refreshDue(k) || this.flights.get(k) !== undefined) return;
    // An L2 copy counts as a refresh only if it outlives the L1 one.
    const left = this.store.remainingTtl(k) ?? 0;
    this.#revalidate(original, k, loader, undefined, ttl, tags, plan, left === Infinity ? 0 : left);
  }

  /**
   * Starts one background load of `k` (unless one runs): L2 first (an entry
   * with at most `minL2Ttl` ms left does not count), then the loader. Its
   * failure is logged and emitted, never thrown.
   */
  #revalidate(
    original: CacheKey,
    k: string,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan: ServePlan,
    minL2Ttl: number,
  ): void {
    if (this.flights.get(k) !== undefined || !this.life.open || this.backup?.loading) return;
    this.counters.refreshes++;
    const flight = this.flights.start(k, loader, batchLoader, ttl, tags, plan);
    const run = () => this.#lookupThenLoad(original, k, flight, minL2Ttl, true);
    const probe = this.probes.active;
    flight.promise = probe === undefined ? run() : probe.flight(k, flight, run, true);
    flight.promise.catch((error) => this.#reportFailure(k, "refresh", error, "stale"));
  }

  /** Logs (once per error) and emits a failure the caller does not see. */
  #reportFailure(k: string, op: "load" | "refresh", error: unknown, served: "stale" | "error") {
    if (this.events.lists.error !== undefined) {
      this.events.emit("error", { key: k, op, error, served });
    }
    if (typeof error === "object" && error !== null) {
      if (this.#reported.has(error)) return;
      this.#reported.add(error);
    }
    this.logger.warn(
      `async-cache: ${op === "load" ? "loading" : "refreshing"} key ${
        JSON.stringify(k)
      } failed; serving its stale value:`,
      error,
    );
  }

  async #lookupThenLoad(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    minL2Ttl = 0,
    background = false,
  ): Promise<V | undefined> {
    if (this.remote !== undefined) {
      flight.lookingUp = true;
      const { entry, stale, failed, older } = await this.remote.lookup(k, flight.tags);
      flight.lookingUp = false;
      if (failed) flight.writeBack = "none";
      // L2 holds an entry too old to use (or of an older format): the load replaces it (SET NX would keep it).
      else if (entry !== undefined || stale !== undefined || older) flight.writeBack = "force";
      // A warm-start snapshot entry: L2's answer wins; used only when L2 cannot answer.
      const held = this.backup?.take(k);
      if (entry !== undefined && (entry.ttlMs === undefined || entry.ttlMs > minL2Ttl)) {
        this.flights.end(k, flight);
        return this.#fill(k, flight, entry, flight.ttl);
      }
      if (failed && held !== undefined && flight.current) {
        this.flights.end(k, flight);
        this.counters.l1Hits++;
        this.put(k, held[0], held[1], undefined);
        return held[0];
      }
      if (stale !== undefined && !background) {
        const served = this.#staleFromL2(original, k, flight, stale);
        if (served !== undefined) return served;
      }
    }
    return this.#loadAfterLookup(original, k, flight, background);
  }

  /**
   * An L2 entry past its TTL but within the stale window of this get's plan
   * (L2 keeps entries that long: an expiry is not a change): kept in L1 as
   * stale, then served as a stale L1 entry would be (`staleWhileRevalidate`:
   * at once, refreshed in the background; `grace`: if the load fails).
   * `undefined` when the plan keeps no stale copy this old.
   */
  #staleFromL2(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    stale: TierEntry,
  ): Promise<V | undefined> | undefined {
    const plan = flight.plan;
    const age = -(stale.ttlMs ?? 0);
    if (plan === undefined || age >= plan.keep || !flight.current) return undefined;
    if (this.tags.droppedSince(stale.tags, flight.mark)) return undefined;
    const value = stale.value as V;
    this.store.set(k, value, -age, plan.keep, 0, this.sizeOf(k, value));
    this.tags.set(k, stale.tags);
    if (age < plan.swr) {
      this.flights.end(k, flight);
      const { loader, batchLoader, ttl, tags } = flight;
      this.#revalidate(original, k, loader, batchLoader, ttl, tags, plan, 0);
      flight.source = "stale";
      this.counters.l2Stale++;
      return Promise.resolve(this.#servedStale(k, value, "swr", age));
    }
    if (age >= plan.grace) return undefined;
    return this.#loadAfterLookup(original, k, flight, false).catch((error) => {
      this.#reportFailure(k, "load", error, "stale");
      flight.source = "stale";
      this.counters.l2Stale++;
      return this.#servedStale(k, value, "grace", age);
    });
  }

  /** After an L2 lookup that found nothing usable: the loader (or a batch, or the lease). */
  #loadAfterLookup(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    background: boolean,
  ): Promise<V | undefined> {
    const { loader, batchLoader } = flight;
    if (loader === undefined && batchLoader !== undefined) {
      return this.#batched(original, k, flight, batchLoader, true);
    }
    if (!background) {
      this.counters.misses++;
      if (this.events.lists.miss !== undefined) this.events.emit("miss", { key: k });
    }
    if (loader === undefined) {
      this.flights.end(k, flight);
      return Promise.resolve(undefined);
    }
    if (this.lease !== undefined && this.remote !== undefined) {
      return this.#leasedLoad(k, flight, loader);
    }
    return this.load(k, flight, loader);
  }

  /** Loads under the key's lease in L2, or waits for the holder's value (see `_lease.ts`). */
  async #leasedLoad(k: string, flight: Flight<V>, loader: Loader<V>): Promise<V | undefined> {
    const remote = this.remote!;
    const lease = this.lease!;
    let held = await remote.acquireLease(k, lease.ttl);
    if (held === false) {
      this.counters.leaseWaits++;
      // Not `flight.current`: with coherence, the holder's write invalidates
      // the key here, which is the news we wait for (the value is then
      // answered but not kept in L1: the invalidation wins). The wait ends
      // at the caller's hardTimeout and at once on close() (no load then).
      const hard = flight.plan?.hard ?? 0;
      const context = this.cancels.context();
      const onTimeout = () => reportHardTimeout(this.counters, this.events, k, hard);
      const clock = this.config.clock;
      const outcome = await awaitLeasedValue(
        remote,
        k,
        lease,
        clock,
        context.signal,
        hard,
        onTimeout,
        flight.tags,
      ).catch((error) => {
        this.flights.end(k, flight);
        throw error;
      }).finally(() => context.done());
      if (outcome.kind === "value") {
        this.flights.end(k, flight);
        return this.#fill(k, flight, outcome.entry, flight.ttl);
      }
      held = outcome.kind === "acquired" ? true : undefined;
      if (held === true) this.counters.leaseTakeovers++;
      flight.plan = hardLeft(flight.plan, outcome.leftMs); // the load ends within the bound too
    }
    if (held !== true) return this.load(k, flight, loader);
    // A free lease is not proof that nobody loaded: the last holder may have written its value
    // and released between our lookup (a miss) and our SET NX. One more lookup before loading,
    // or two instances load (seen under load with 6 instances on a real Redis).
    const { entry } = await remote.lookup(k, flight.tags);
    if (entry !== undefined) {
      void remote.releaseLease(k);
      this.flights.end(k, flight);
      return this.#fill(k, flight, entry, flight.ttl);
    }
    this.counters.leases++;
    try {
      return await this.load(k, flight, loader);
    } finally {
      // After the L2 write of the value (#keep started it): waiters never
      // see the lease gone before the value is there.
      void remote.flush().then(() => remote.releaseLease(k));
    }
  }

  async load(k: string, flight: Flight<V>, loader: Loader<V>): Promise<V | undefined> {
    this.counters.loads++;
    const plan = flight.plan;
    const events = this.events;
    const started = events.lists.load !== undefined ? this.config.clock.now() : 0;
    const context = this.cancels.context();
    let ok = false;
    let kept = false;
    flight.source = "loader";
    try {
      const probe = this.probes.active;
      let result = probe === undefined ? loader(context) : probe.load(k, () => loader(context));
      if (plan !== undefined && plan.hard > 0) {
        result = withHardTimeout(
          Promise.resolve(result),
          plan.hard,
          this.config.clock,
          k,
          context,
          () => {
            this.counters.timeouts++;
            if (events.lists.timeout !== undefined) {
              events.emit("timeout", { key: k, kind: "hard", timeoutMs: plan.hard });
            }
          },
        );
      }
      const raw = await result;
      const value = (isNoCache(raw) ? raw.value : raw) as V | undefined;
      kept = this.#keep(k, flight, raw, flight.ttl);
      ok = true;
      return value;
    } catch (error) {
      this.counters.loadErrors++;
      throw error;
    } finally {
      context.done();
      this.flights.end(k, flight);
      if (events.lists.load !== undefined) {
        const durationMs = this.config.clock.now() - started;
        events.emit("load", { key: k, durationMs, ok, cached: kept });
      }
    }
  }

  #batched(
    original: CacheKey,
    k: string,
    flight: Flight<V>,
    batchLoader: AnyBatchLoader,
    looked: boolean,
  ): Promise<V | undefined> {
    const done = this.batcher.add(batchLoader, original, k, looked, flight, flight.ttl);
    return (done as Promise<V | undefined>).finally(() => this.flights.end(k, flight));
  }

  /**
   * Runs one batch: one L2 lookup for the keys not looked up yet, then the
   * loader for the misses. Anything it throws settles the rest (see Batcher).
   */
  async #runBatch(loader: AnyBatchLoader, slots: BatchSlot[]): Promise<void> {
    let misses = slots;
    const remote = this.remote;
    if (remote !== undefined) {
      const toLook = slots.filter((slot) => !slot.looked);
      misses = slots.filter((slot) => slot.looked);
      const { entries, stale, failed, older } = toLook.length === 0
        ? { entries: [], stale: [], failed: false, older: undefined }
        : await remote.lookupMany(toLook.map((s) => s.key), batchTags(toLook));
      for (let i = 0; i < toLook.length; i++) {
        for (const waiter of toLook[i].waiters) {
          const flight = waiter.flight as Flight<V>;
          if (failed) flight.writeBack = "none";
          else if (stale[i] !== undefined || older?.[i]) flight.writeBack = "force";
        }
      }
      for (let i = 0; i < toLook.length; i++) {
        const slot = toLook[i];
        const entry = entries[i];
        if (entry === undefined) {
          misses.push(slot);
          continue;
        }
        let value: V | undefined;
        for (const waiter of slot.waiters) {
          value = this.#fill(slot.key, waiter.flight as Flight<V>, entry, waiter.ttl);
        }
        resolveSlot(slot, value);
      }
      if (misses.length === 0) return;
    }
    const n = misses.length;
    this.counters.batches++;
    this.counters.misses += n;
    if (this.events.lists.miss !== undefined) {
      for (const slot of misses) this.events.emit("miss", { key: slot.key });
    }
    this.counters.loads += n;
    const events = this.events;
    const started = events.lists.load !== undefined ? this.config.clock.now() : 0;
    /** One `load` event per key, as for a loader. */
    const loaded = (slot: BatchSlot, ok: boolean, cached: boolean) => {
      if (events.lists.load === undefined) return;
      const durationMs = this.config.clock.now() - started;
      events.emit("load", { key: slot.key, durationMs, ok, cached });
    };
    let result: unknown;
    try {
      const onTimeout = (key: string, ms: number) =>
        reportHardTimeout(this.counters, this.events, key, ms);
      const context = this.cancels.context();
      const call = () => callBatchLoader(loader, misses, context, this.config.clock, onTimeout);
      for (const slot of misses) {
        for (const waiter of slot.waiters) (waiter.flight as Flight<V>).source = "loader";
      }
      const probe = this.probes.active;
      result = await (probe === undefined ? call() : probe.load(misses[0].key, call, n));
      if (result === null || typeof result !== "object") {
        throw new TypeError(
          `AsyncCache.get: batchLoader must return a Map, an object or an array: received ${result}`,
        );
      }
      if (Array.isArray(result) && result.length !== n) {
        throw new TypeError(
          `AsyncCache.get: batchLoader returned ${result.length} values for ${n} keys`,
        );
      }
    } catch (error) {
      this.counters.loadErrors += n;
      for (const slot of misses) {
        loaded(slot, false, false);
        rejectSlot(slot, error);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const slot = misses[i];
      try {
        const value = pickResult(result, slot, i) as V | undefined;
        if (value instanceof Error) {
          this.counters.loadErrors++;
          loaded(slot, false, false);
          rejectSlot(slot, value);
          continue;
        }
        let cached = false;
        for (const waiter of slot.waiters) {
          cached = this.#keep(slot.key, waiter.flight as Flight<V>, value, waiter.ttl) || cached;
        }
        loaded(slot, true, cached);
        resolveSlot(slot, isNoCache(value) ? value.value : value);
      } catch (error) {
        this.counters.loadErrors++;
        loaded(slot, false, false);
        rejectSlot(slot, error);
      }
    }
  }

  /** Stores an L2 hit in L1 (unless made stale), never longer than it has left in L2. */
  #fill(k: string, flight: Flight<V>, entry: TierEntry, ttl: TtlSpec): V {
    const value = entry.value as V;
    flight.source = "l2";
    if (this.events.lists.hit !== undefined) this.events.emit("hit", { key: k, tier: "l2" });
    if (
      flight.current && value !== undefined && this.life.state !== "closed" &&
      !this.tags.droppedSince(entry.tags, flight.mark)
    ) {
      const local = ttlFor(ttl, value, this.defaultTtl);
      if (local !== NO_STORE) {
        this.put(k, value, l1TtlFor(local, entry.ttlMs), entry.tags, flight.plan, local);
      }
    }
    return value;
  }

  /**
   * Stores a loaded value (or `noCache(value)`) in both tiers, unless a
   * set/delete/clear or an invalidation made it stale; returns whether L1
   * kept it. L2 first: the write announces itself to the other caches of
   * this process, and must not drop this fresh L1 copy.
   */
  #keep(k: string, flight: Flight<V>, raw: unknown, ttl: TtlSpec): boolean {
    const value = (isNoCache(raw) ? raw.value : raw) as V | undefined;
    if (value === undefined || !flight.current || this.life.state === "closed") return false;
    const ms = ttlFor(ttl, value, this.defaultTtl);
    if (ms === NO_STORE || value !== raw) {
      this.counters.uncached++;
      return false;
    }
    try {
      if (flight.writeBack !== "none") {
        const ifAbsent = flight.writeBack === "absent";
        this.remote?.write(k, value, ms, {
          tags: flight.tags,
          stamp: flight.stamp,
          ifAbsent,
          keepMs: flight.plan?.keep,
          onInvalidated: () => this.forget(k),
        });
      }
    } catch (error) {
      this.logger.error(`async-cache: cannot store key ${JSON.stringify(k)} in L2:`, error);
    }
    // Loaded while L2 could not be asked: early in an outage of a coherent
    // backend nothing would tell this copy it changed, so it is served, not kept.
    if (flight.writeBack === "none" && this.remote?.keepsUnguarded() === false) return false;
    this.put(k, value, ms, flight.tags, flight.plan, ms);
    return true;
  }
}

/** The tags of a batch's keys, for one lookup of their generations. */
function batchTags(slots: BatchSlot[]): string[] | undefined {
  let tags: Set<string> | undefined;
  for (const slot of slots) {
    for (const waiter of slot.waiters) {
      const list = (waiter.flight as Flight<unknown>).tags;
      if (list !== undefined) { for (const t of list) (tags ??= new Set()).add(t); }
    }
  }
  return tags && [...tags];
}
