/**
 * The cache's view of its remote (L2) tier: a `RemoteCacheBackend` behind a
 * circuit breaker, under the cache's namespace, with errors logged and never
 * thrown.
 *
 * Reads issued in the same tick are merged into one `getManyWithTtl` call
 * (one MGET on Redis), so 100 concurrent misses on different keys cost one
 * round trip. Writes start synchronously (so a later delete on the same
 * connection is ordered after them) and are tracked until `flush()`.
 *
 * Coherence: the tier listens to the backend's invalidations and turns them
 * into what the cache must drop: keys of its namespace, everything (a
 * flush, a lost connection, its namespace's generation bumped), or tags.
 * With a namespace or tags, entries are stamped with generations
 * (`_generations.ts`), fetched in the same round trip as the entries.
 *
 * The breaker follows the connection: when the backend reports it ready
 * again, the breaker closes at once (no cool-down paid after a reconnect).
 *
 * Failure policy: only an outage (cannot connect, timeout, protocol error)
 * counts against the breaker. A reply error for one command (`OOM`,
 * `WRONGTYPE`, `NOPERM`) or a value the backend refuses fails that operation
 * only: counted, logged, and proof that the server is reachable. Every call
 * the breaker admits settles it, whatever it throws.
 *
 * @module
 */
import { RedisReplyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Clock } from "../time.ts";
import { type BreakerState, CircuitBreaker } from "./circuit_breaker.ts";
import type {
  CoherenceMode,
  RemoteCacheBackend,
  RemoteEntry,
  RemoteSetOptions,
} from "./remote_backend.ts";

const IF_ABSENT: RemoteSetOptions = { ifAbsent: true };

/**
 * How long into an outage a coherent tier still refuses to let loaded
 * values into L1: a value loaded while the connection is being remade is
 * tracked by nothing, and another instance may overwrite it meanwhile. A
 * blip (a killed connection, a failover) is over well within this; past it
 * the outage is real, and L1 serves again so loaders are not hammered.
 */
export const UNGUARDED_HOLD_MS = 1000;
import {
  type Generations,
  isCurrent,
  namespaceKey,
  parseGenerationKey,
  stamp,
  tagKey,
  unstamp,
} from "./_generations.ts";

/** An L2 entry as the cache sees it: the value, its remaining TTL, its tags. */
export interface TierEntry extends RemoteEntry {
  tags?: readonly string[];
}

/** One lookup: its entries and the generations they were checked against (to stamp a load's write-back). */
export interface Lookup {
  entries: (TierEntry | undefined)[];
  gens: Generations | undefined;
  /** True when L2 could not answer (skipped by the breaker, or the read failed). */
  failed?: boolean;
}

/** What the cache must drop after an invalidation. */
export type Dropped =
  | { kind: "all" }
  | { kind: "keys"; keys: string[] }
  | { kind: "tags"; tags: string[] };

/** One key's lookup. */
export interface KeyLookup {
  entry: TierEntry | undefined;
  gens: Generations | undefined;
  /** True when L2 could not answer. */
  failed?: boolean;
}

type Resolve = (lookup: KeyLookup) => void;

/** Counters the cache reports in its metrics. */
export interface RemoteCounters {
  l2Hits: number;
  l2Misses: number;
  l2Errors: number;
  l2Writes: number;
  /** Invalidations that reached this cache (a key, a tag, or everything). */
  invalidations: number;
}

function newCounters(): RemoteCounters {
  return { l2Hits: 0, l2Misses: 0, l2Errors: 0, l2Writes: 0, invalidations: 0 };
}

/** An error that says nothing about the server being reachable. */
function isCommandError(error: unknown): boolean {
  return error instanceof RedisReplyError || (error as Error)?.name === "SerializationError";
}

/**
 * How long an L1 copy of an L2 entry may live: the local TTL, but never
 * longer than the entry has left in L2.
 */
export function l1TtlFor(local: number | undefined, remaining: number | undefined) {
  if (remaining === undefined) return local;
  return local === undefined ? remaining : Math.min(local, remaining);
}

/** See the module doc. */
export class RemoteTier {
  readonly backend: RemoteCacheBackend;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #breaker: CircuitBreaker;
  readonly #clock: Clock;
  /** Whether the backend has reported invalidations (so unguarded L1 copies matter). */
  #wasCoherent = false;
  /** When the current outage began (undefined while L2 answers). */
  #outageStart: number | undefined;
  readonly #pendingWrites = new Set<Promise<void>>();
  /** The namespace's generation counter key (none without a namespace). */
  readonly #nsKey: string | undefined;
  readonly #unsubscribe: (() => void)[];
  /** The generations last seen (forgotten when reported changed): stamps for `set()`. */
  readonly #seen: Generations = new Map();
  #queuedKeys: string[] = [];
  #queuedTags: (readonly string[] | undefined)[] = [];
  #queuedResolves: Resolve[] = [];
  #outageLogged = false;
  #lastCommandError = "";
  counters: RemoteCounters = newCounters();
  /** Told when the breaker changes state (the cache's `"breaker"` event). */
  onBreaker: ((state: BreakerState, previous: BreakerState) => void) | undefined;

  /**
   * @param onDrop Told what to drop from L1 when the backend reports invalidations.
   */
  constructor(
    backend: RemoteCacheBackend,
    namespace: string,
    logger: Logger,
    clock: Clock,
    onDrop: (dropped: Dropped) => void,
  ) {
    this.backend = backend;
    this.#prefix = namespace === "" ? "" : `${namespace}:`;
    this.#nsKey = namespace === "" ? undefined : namespaceKey(namespace);
    this.#logger = logger;
    this.#breaker = new CircuitBreaker(clock);
    this.#clock = clock;
    backend.adoptLogger(logger);
    this.#unsubscribe = [
      backend.onInvalidate((keys) => {
        const dropped = this.#translate(keys);
        if (dropped === undefined) return;
        this.counters.invalidations++;
        onDrop(dropped);
      }),
      backend.onReady(() => this.#succeeded()),
    ];
  }

  /** How L1 copies are kept coherent now. */
  get coherence(): CoherenceMode {
    return this.backend.coherence;
  }

  /** Stops listening to the backend. */
  dispose(): void {
    for (const off of this.#unsubscribe) off();
  }

  /** Turns backend keys into what this cache must drop (undefined: nothing of ours). */
  #translate(keys: readonly string[] | null): Dropped | undefined {
    if (keys === null) return { kind: "all" };
    const prefix = this.#prefix;
    let mine: string[] | undefined;
    let tags: string[] | undefined;
    for (const key of keys) {
      const generation = parseGenerationKey(key);
      if (generation !== undefined) {
        this.#seen.delete(key);
        if ("tag" in generation) (tags ??= []).push(generation.tag);
        else if (namespaceKey(generation.namespace) === this.#nsKey) return { kind: "all" };
      } else if (prefix === "" || key.startsWith(prefix)) {
        (mine ??= []).push(key.slice(prefix.length));
      }
    }
    if (tags !== undefined) {
      if (mine !== undefined) return { kind: "all" }; // rare: both at once
      return { kind: "tags", tags };
    }
    return mine === undefined ? undefined : { kind: "keys", keys: mine };
  }

  /** The breaker's state. */
  get state(): BreakerState {
    return this.#breaker.state;
  }

  /** Zeroes the counters. */
  resetCounters(): void {
    this.counters = newCounters();
  }

  /**
   * Looks one key up (with the tags its caller expects, whose generations
   * are fetched alongside); merged with the other lookups of this tick.
   * Never rejects.
   */
  lookup(
    key: string,
    tags?: readonly string[],
  ): Promise<KeyLookup> {
    return new Promise((resolve) => {
      if (this.#queuedKeys.length === 0) queueMicrotask(() => this.#flushLookups());
      this.#queuedKeys.push(key);
      this.#queuedTags.push(tags);
      this.#queuedResolves.push(resolve);
    });
  }

  /**
   * Looks several keys up in one round trip (entries, and the generations of
   * the namespace and of `tags`). Never rejects: failures read as misses.
   * An entry of an older generation reads as a miss.
   */
  async lookupMany(keys: readonly string[], tags?: readonly string[]): Promise<Lookup> {
    const n = keys.length;
    if (!this.#breaker.allow()) {
      return { entries: new Array(n).fill(undefined), gens: undefined, failed: true };
    }
    const full = this.#prefix === "" ? keys : keys.map((k) => this.#prefix + k);
    const genKeys = this.#genKeys(tags);
    try {
      const [raw, values] = await Promise.all([
        this.backend.getManyWithTtl(full, this.#logger),
        genKeys.length === 0 ? [] : this.backend.getGenerations(genKeys),
      ]);
      const gens: Generations | undefined = genKeys.length === 0 ? undefined : new Map();
      for (let i = 0; i < genKeys.length; i++) {
        gens!.set(genKeys[i], values[i]);
        this.#seen.set(genKeys[i], values[i]);
      }
      const entries = await this.#checkStamps(full, raw, gens);
      if (this.backend.coherence === "tracking") this.#wasCoherent = true;
      this.#succeeded();
      for (const entry of entries) {
        if (entry === undefined) this.counters.l2Misses++;
        else this.counters.l2Hits++;
      }
      return { entries, gens };
    } catch (error) {
      this.#failed("read", error);
      return { entries: new Array(n).fill(undefined), gens: undefined, failed: true };
    }
  }

  /** The counter keys a lookup needs: the namespace's and the tags'. */
  #genKeys(tags: readonly string[] | undefined): string[] {
    const out = this.#nsKey === undefined ? [] : [this.#nsKey];
    if (tags !== undefined) { for (const tag of tags) out.push(tagKey(tag)); }
    return out;
  }

  /** Unwraps stamped entries; those of an older generation become misses (and are removed). */
  async #checkStamps(
    full: readonly string[],
    raw: (RemoteEntry | undefined)[],
    gens: Generations | undefined,
  ): Promise<(TierEntry | undefined)[]> {
    const out: (TierEntry | undefined)[] = new Array(raw.length);
    let missing: Set<string> | undefined;
    for (let i = 0; i < raw.length; i++) {
      const entry = raw[i];
      const stamped = entry === undefined ? undefined : unstamp(entry.value);
      if (stamped === undefined) {
        out[i] = entry;
        continue;
      }
      for (const tag of stamped.tags) {
        if (!gens?.has(tagKey(tag))) (missing ??= new Set()).add(tagKey(tag));
      }
    }
    let all = gens;
    if (missing !== undefined) {
      // Tags the callers did not declare: one more round trip, only for them.
      const extra = [...missing];
      const values = await this.backend.getGenerations(extra);
      all = new Map(gens);
      for (let i = 0; i < extra.length; i++) all.set(extra[i], values[i]);
    }
    for (let i = 0; i < raw.length; i++) {
      const entry = raw[i];
      const stamped = entry === undefined ? undefined : unstamp(entry.value);
      if (stamped === undefined) continue;
      if (isCurrent(stamped, this.#nsKey, all ?? new Map())) {
        out[i] = { value: stamped.value, ttlMs: entry!.ttlMs, tags: stamped.tags };
      } else {
        out[i] = undefined;
        this.backend.delete(full[i]).catch(() => {}); // read repair: an old generation
      }
    }
    return out;
  }

  /**
   * Starts writing `value` in the background. Throws synchronously when the
   * backend refuses the value itself (e.g. `SerializationError`), whether the
   * tier is in use or skipped by the breaker.
   *
   * @param tags The entry's tags.
   * @param gens The generations its value was loaded under (from its lookup);
   * without them, the current ones are fetched first.
   * @param ifAbsent Only if L2 holds nothing there (a loader's write-back:
   * a newer write that landed meanwhile wins).
   */
  write(
    key: string,
    value: unknown,
    ttlMs: number | undefined,
    tags?: readonly string[],
    gens?: Generations,
    ifAbsent = false,
  ): void {
    const options = ifAbsent ? IF_ABSENT : undefined;
    const stamped = this.#nsKey !== undefined || (tags !== undefined && tags.length > 0);
    if (!this.#breaker.allow()) {
      this.backend.checkValue(value);
      return;
    }
    const ttl = ttlMs === Infinity ? undefined : ttlMs;
    let sent: Promise<void>;
    try {
      if (!stamped) sent = this.backend.set(this.#prefix + key, value, ttl, options);
      else {
        this.backend.checkValue(value);
        const full = this.#prefix + key;
        const tagList = tags ?? [];
        const needed = this.#genKeys(tagList);
        const known = gens ?? this.#seen;
        sent = needed.every((k) => known.has(k))
          ? this.backend.set(full, stamp(value, this.#nsKey, tagList, known), ttl, options)
          : this.#fetchThenSet(full, value, ttl, tagList, options);
      }
    } catch (error) {
      this.#breaker.release();
      throw error;
    }
    const done = sent.then(
      () => {
        this.counters.l2Writes++;
        this.#lastCommandError = ""; // a write went through: the next refusal is news
        this.#succeeded();
      },
      (error) => this.#failed("write", error, key),
    ).finally(() => this.#pendingWrites.delete(done));
    this.#pendingWrites.add(done);
  }

  /** Deletes a key remotely; failures are logged. Tried even while the breaker is open. */
  async delete(key: string): Promise<void> {
    try {
      await this.backend.delete(this.#prefix + key);
      this.#succeeded();
    } catch (error) {
      this.#failed("delete", error, key);
    }
  }

  /**
   * Removes this cache's entries remotely. With a namespace: its generation
   * is bumped (O(1): every entry of the old generation is a miss from now on,
   * in every process), then the old entries are deleted in the background
   * (`deleteByPrefix`, awaited by `flush()`). With no namespace: everything
   * the backend owns. Failures are logged.
   */
  async clear(): Promise<void> {
    try {
      if (this.#nsKey === undefined) await this.backend.clear();
      else {
        await this.backend.bumpGenerations([this.#nsKey]);
        this.#track(
          this.backend.deleteByPrefix(this.#prefix).then(
            () => {},
            (error) => this.#failed("clear", error),
          ),
        );
      }
      this.#succeeded();
    } catch (error) {
      this.#failed("clear", error);
    }
  }

  /**
   * Invalidates tags everywhere: bumps their generations (entries stamped
   * with an older one are misses in every process). Failures are logged.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    try {
      await this.backend.bumpGenerations(tags.map(tagKey));
      this.#succeeded();
    } catch (error) {
      this.#failed("invalidateTags", error);
    }
  }

  async #fetchThenSet(
    full: string,
    value: unknown,
    ttl: number | undefined,
    tags: readonly string[],
    options: RemoteSetOptions | undefined,
  ): Promise<void> {
    const keys = this.#genKeys(tags);
    const values = await this.backend.getGenerations(keys);
    const gens: Generations = new Map(keys.map((k, i) => [k, values[i]]));
    for (const [k, n] of gens) this.#seen.set(k, n);
    await this.backend.set(full, stamp(value, this.#nsKey, tags, gens), ttl, options);
  }

  #track(work: Promise<void>): void {
    const done: Promise<void> = work.finally(() => this.#pendingWrites.delete(done));
    this.#pendingWrites.add(done);
  }

  /**
   * Takes the lease of `key` (see `RemoteCacheBackend.acquireLease`):
   * `true` held, `false` held by another; `undefined` (load now, nothing to
   * release) when the tier is skipped or fails: a lease never stands between
   * a caller and its loader.
   */
  async acquireLease(key: string, ttlMs: number): Promise<boolean | undefined> {
    if (!this.#breaker.allow()) return undefined;
    try {
      const held = await this.backend.acquireLease(this.#prefix + key, ttlMs);
      this.#succeeded();
      return held;
    } catch (error) {
      this.#failed("lease", error, key);
      return undefined;
    }
  }

  /** Gives up the lease of `key`; failures are logged (the lease expires anyway). */
  async releaseLease(key: string): Promise<void> {
    try {
      await this.backend.releaseLease(this.#prefix + key);
    } catch (error) {
      this.#failed("lease release", error, key);
    }
  }

  /** Waits for every background write started so far. */
  async flush(): Promise<void> {
    while (this.#pendingWrites.size > 0) await Promise.all(this.#pendingWrites);
  }

  #flushLookups(): void {
    const keys = this.#queuedKeys;
    const tagLists = this.#queuedTags;
    const resolves = this.#queuedResolves;
    this.#queuedKeys = [];
    this.#queuedTags = [];
    this.#queuedResolves = [];
    let tags: Set<string> | undefined;
    for (const list of tagLists) {
      if (list !== undefined) { for (const t of list) (tags ??= new Set()).add(t); }
    }
    this.lookupMany(keys, tags && [...tags]).then(({ entries, gens, failed }) => {
      for (let i = 0; i < resolves.length; i++) resolves[i]({ entry: entries[i], gens, failed });
    });
  }

  /**
   * Whether a value loaded after a failed lookup may go into L1: not early
   * in an outage of a coherent backend (see {@linkcode UNGUARDED_HOLD_MS}).
   */
  keepsUnguarded(): boolean {
    if (!this.#wasCoherent) return true;
    const start = this.#outageStart;
    return start !== undefined && this.#clock.now() - start >= UNGUARDED_HOLD_MS;
  }

  #succeeded(): void {
    this.#outageStart = undefined;
    const previous = this.onBreaker === undefined ? "closed" : this.#breaker.state;
    if (this.#breaker.success() && this.#outageLogged) {
      this.#outageLogged = false;
      this.#logger.warn("async-cache: remote cache is reachable again; using it");
    }
    if (previous !== "closed") this.onBreaker!("closed", previous);
  }

  #failed(op: string, error: unknown, key?: string): void {
    this.counters.l2Errors++;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (isCommandError(error)) {
      // The server answered: it is up. Log each new kind of refusal once.
      const what = key === undefined ? "" : ` of key ${JSON.stringify(key)}`;
      if (message !== this.#lastCommandError) {
        this.#logger.error(`async-cache: remote cache ${op}${what} refused (${message})`);
      }
      this.#succeeded();
      this.#lastCommandError = message;
      return;
    }
    this.#outageStart ??= this.#clock.now();
    const previous = this.onBreaker === undefined ? undefined : this.#breaker.state;
    const first = this.#breaker.failure();
    if (previous !== undefined && this.#breaker.state !== previous) {
      this.onBreaker!(this.#breaker.state, previous);
    }
    if (first && !this.#outageLogged) {
      this.#outageLogged = true;
      this.#logger.warn(
        `async-cache: remote cache ${op} failed (${message}); serving from L1 and loaders until it recovers`,
      );
    }
  }
}
