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
import {
  type CoherenceMode,
  RemoteCacheBackend,
  type RemoteEntry,
  type RemoteSetOptions,
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
  counterKeys,
  currency,
  type Generations,
  namespacePrefix,
  nextStamp,
  OLDER_FORMAT,
  parseGenerationKey,
  unwrap,
  wrap,
} from "./_generations.ts";

/** At most this many counters are remembered as tracked (then forgotten, and read again). */
const KNOWN_MAX = 4096;

/**
 * An L2 entry as the cache sees it: the value, how long it stays fresh
 * (`ttlMs`; for a stale entry, minus its age), its tags.
 */
export interface TierEntry extends RemoteEntry {
  tags?: readonly string[];
}

/** One lookup: its fresh entries, and the stale ones (past their TTL, kept for stale reads). */
export interface Lookup {
  entries: (TierEntry | undefined)[];
  stale: (TierEntry | undefined)[];
  /** True when L2 could not answer (skipped by the breaker, or the read failed). */
  failed?: boolean;
  /** Per key, when L2 holds an entry of an older format version: a miss the load replaces. */
  older?: boolean[];
}

/** What the cache must drop after an invalidation. */
export type Dropped =
  & ({ kind: "all" } | { kind: "keys"; keys: string[] } | { kind: "tags"; tags: string[] })
  & { named: InvalidationKind };

/** One key's lookup. */
export interface KeyLookup {
  entry: TierEntry | undefined;
  /** The entry past its TTL but kept in L2 for stale reads (`ttlMs` is minus its age). */
  stale?: TierEntry;
  /** True when L2 could not answer. */
  failed?: boolean;
  /** L2 holds an entry of an older format version: a miss the load replaces. */
  older?: boolean;
}

/** How one write reaches L2. */
export interface WriteOptions {
  tags?: readonly string[];
  /** When the write (or its load) began: see `_generations.ts`. Default: now. */
  stamp?: number;
  /** Only if L2 holds nothing there (a loader's write-back: a newer write that landed meanwhile wins). */
  ifAbsent?: boolean;
  /** How long L2 keeps the entry past its TTL, for stale reads (ms). Default 0. */
  keepMs?: number;
  /** Told when the write turns out to be invalidated already (its L1 copy must go). */
  onInvalidated?: () => void;
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
  /** `invalidations` by what they named. */
  invalidationKinds: Record<InvalidationKind, number>;
  /** `l2Errors` by kind. */
  errorKinds: Record<L2ErrorKind, number>;
}

/** What a received invalidation named: keys, tags, this cache's namespace, or everything (a flush). */
export type InvalidationKind = "key" | "tag" | "namespace" | "flush";

/**
 * A failed L2 operation, by cause: no reply in time, the connection (lost,
 * refused, down), the server's refusal (an error reply, including ACL
 * `NOPERM`), bytes that are not RESP, credentials refused, a value that
 * could not be encoded or an entry that could not be decoded, anything else.
 */
export type L2ErrorKind =
  | "timeout"
  | "connection"
  | "reply"
  | "protocol"
  | "auth"
  | "codec"
  | "other";

/** The kinds of {@linkcode L2ErrorKind}, in a fixed order. */
export const L2_ERROR_KINDS: readonly L2ErrorKind[] = [
  "timeout",
  "connection",
  "reply",
  "protocol",
  "auth",
  "codec",
  "other",
];

/** The kind of an L2 failure (by the error's name: the backend may be any implementation). */
export function l2ErrorKind(error: unknown): L2ErrorKind {
  switch ((error as Error | undefined)?.name) {
    case "RedisTimeoutError":
      return "timeout";
    case "RedisConnectionError":
    case "RedisClusterError":
      return "connection";
    case "RedisReplyError":
      return "reply";
    case "RedisProtocolError":
      return "protocol";
    case "RedisAuthError":
      return "auth";
    case "SerializationError":
      return "codec";
    default:
      return "other";
  }
}

function newCounters(): RemoteCounters {
  return {
    l2Hits: 0,
    l2Misses: 0,
    l2Errors: 0,
    l2Writes: 0,
    invalidations: 0,
    invalidationKinds: { key: 0, tag: 0, namespace: 0, flush: 0 },
    errorKinds: { timeout: 0, connection: 0, reply: 0, protocol: 0, auth: 0, codec: 0, other: 0 },
  };
}

/** A lookup of `n` keys that found nothing. */
function missed(n: number, failed: boolean): Lookup {
  return { entries: new Array(n).fill(undefined), stale: new Array(n).fill(undefined), failed };
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
  readonly #namespace: string;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #breaker: CircuitBreaker;
  readonly #clock: Clock;
  /** Whether the backend has reported invalidations (so unguarded L1 copies matter). */
  #wasCoherent = false;
  /** When the current outage began (undefined while L2 answers). */
  #outageStart: number | undefined;
  readonly #pendingWrites = new Set<Promise<void>>();
  readonly #unsubscribe: (() => void)[];
  /**
   * Counters known to exist and (with tracking) to be tracked by the current
   * connection: a write that depends only on these sends nothing more.
   * Forgotten on news of them, on a reconnect, and past `KNOWN_MAX`.
   */
  readonly #known = new Set<string>();
  /** Above 0 while this tier itself calls the backend: its own changes are not news to it. */
  #own = 0;
  #queuedKeys: string[] = [];
  #queuedTags: (readonly string[] | undefined)[] = [];
  #queuedResolves: Resolve[] = [];
  #outageLogged = false;
  #lastCommandError = "";
  counters: RemoteCounters = newCounters();
  /**
   * The stamp of the cache's oldest load in progress (`Infinity`: none). A
   * counter a write creates starts below it, so the first write to a fresh
   * namespace or tag does not make loads that began before it, and end
   * after it, read as invalidated.
   */
  lowWater: () => number = () => Infinity;
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
    this.#namespace = namespace;
    this.#prefix = namespacePrefix(namespace);
    this.#logger = logger;
    this.#breaker = new CircuitBreaker(clock);
    this.#clock = clock;
    backend.adoptLogger(logger);
    this.#unsubscribe = [
      backend.onInvalidate((keys) => {
        if (this.#own > 0) return;
        const dropped = this.#translate(keys);
        if (dropped === undefined) return;
        this.counters.invalidations++;
        this.counters.invalidationKinds[dropped.named]++;
        onDrop(dropped);
      }),
      backend.onReady(() => {
        this.#known.clear(); // a new connection tracks nothing yet
        this.#succeeded();
      }),
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

  /** Runs `call` as this tier's own change: the backend's announcement of it is not news here. */
  #quietly<T>(call: () => T): T {
    this.#own++;
    try {
      return call();
    } finally {
      this.#own--;
    }
  }

  /** Turns backend keys into what this cache must drop (undefined: nothing of ours). */
  #translate(keys: readonly string[] | null): Dropped | undefined {
    if (keys === null) {
      this.#known.clear();
      return { kind: "all", named: "flush" };
    }
    const prefix = this.#prefix;
    let mine: string[] | undefined;
    let tags: string[] | undefined;
    for (const key of keys) {
      const generation = parseGenerationKey(key);
      if (generation !== undefined) {
        this.#known.delete(key); // changed: no longer tracked until read again
        if ("tag" in generation) (tags ??= []).push(generation.tag);
        else if (generation.namespace === this.#namespace) {
          return { kind: "all", named: "namespace" };
        }
      } else if (key.startsWith(prefix)) {
        (mine ??= []).push(key.slice(prefix.length));
      }
    }
    if (tags !== undefined) {
      if (mine !== undefined) return { kind: "all", named: "tag" }; // rare: both at once
      return { kind: "tags", tags, named: "tag" };
    }
    return mine === undefined ? undefined : { kind: "keys", keys: mine, named: "key" };
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
   * An entry that is not current (see `_generations.ts`) reads as a miss.
   */
  async lookupMany(keys: readonly string[], tags?: readonly string[]): Promise<Lookup> {
    const n = keys.length;
    if (!this.#breaker.allow()) return missed(n, true);
    const full = keys.map((k) => this.#prefix + k);
    const genKeys = counterKeys(this.#namespace, tags ?? []);
    try {
      const [raw, values] = await Promise.all([
        this.backend.getManyWithTtl(full, this.#logger),
        genKeys.length === 0 ? [] : this.backend.getGenerations(genKeys),
      ]);
      const gens: Generations = new Map();
      for (let i = 0; i < genKeys.length; i++) gens.set(genKeys[i], values[i]);
      const out = await this.#accept(full, raw, gens);
      if (this.backend.coherence === "tracking") this.#wasCoherent = true;
      this.#succeeded();
      for (const entry of out.entries) {
        if (entry === undefined) this.counters.l2Misses++;
        else this.counters.l2Hits++;
      }
      return out;
    } catch (error) {
      this.#failed("read", error);
      return missed(n, true);
    }
  }

  /**
   * Accepts the entries that are current: of this namespace, with every
   * counter they depend on known and older than their stamp. Counters of
   * tags the callers did not declare cost one more round trip. An entry
   * that is not current is a miss and is removed (quietly: it was a miss for
   * everyone); one whose counter is missing re-creates it, so that no entry
   * older than now can become current again.
   */
  async #accept(
    full: readonly string[],
    raw: (RemoteEntry | undefined)[],
    gens: Generations,
  ): Promise<Lookup> {
    const n = raw.length;
    const out = missed(n, false);
    const envelopes = raw.map((entry) => entry === undefined ? undefined : unwrap(entry.value));
    let extra: Set<string> | undefined;
    for (const envelope of envelopes) {
      if (!envelope) continue;
      for (const key of counterKeys(envelope.namespace, envelope.tags)) {
        if (!gens.has(key)) (extra ??= new Set()).add(key);
      }
    }
    if (extra !== undefined) {
      const keys = [...extra];
      const values = await this.backend.getGenerations(keys);
      for (let i = 0; i < keys.length; i++) gens.set(keys[i], values[i]);
    }
    const now = this.#clock.now();
    let lost: Set<string> | undefined;
    for (let i = 0; i < n; i++) {
      const entry = raw[i];
      if (entry === undefined) continue;
      if (entry.value === OLDER_FORMAT) {
        (out.older ??= [])[i] = true; // another release's entry: a miss, replaced by the load
        continue;
      }
      const envelope = envelopes[i];
      if (envelope === undefined && this.#namespace === "") {
        out.entries[i] = entry; // a plain value (written by another client): as stored
        continue;
      }
      if (!envelope || envelope.namespace !== this.#namespace) {
        this.#repair(full[i]); // not an entry of this namespace: read as a miss
        continue;
      }
      const verdict = currency(envelope, gens);
      if (verdict !== "current") {
        if (verdict === "unknown") {
          for (const key of counterKeys(envelope.namespace, envelope.tags)) {
            if (gens.get(key) === undefined) (lost ??= new Set()).add(key);
          }
        } else this.#repair(full[i]);
        continue;
      }
      // Time left fresh: from L2's own TTL where the backend reports it (no clock skew), else from the entry.
      const fresh = envelope.expiresAt === undefined
        ? undefined
        : entry.ttlMs !== undefined
        ? entry.ttlMs - envelope.keepMs
        : envelope.expiresAt - now;
      const accepted: TierEntry = {
        value: envelope.value,
        ttlMs: fresh === undefined ? entry.ttlMs : fresh,
        tags: envelope.tags,
      };
      if (fresh !== undefined && fresh <= 0) out.stale[i] = accepted;
      else out.entries[i] = accepted;
    }
    if (lost !== undefined) {
      // Lost counters (evicted, flushed): re-created now, so whatever was stamped before stays a miss.
      this.#track(this.backend.initGenerations([...lost], nextStamp()).catch(() => {}));
    }
    for (const key of gens.keys()) if (gens.get(key) !== undefined) this.#know(key);
    return out;
  }

  #repair(full: string): void {
    this.backend.repair(full).catch(() => {});
  }

  #know(counter: string): void {
    if (this.#known.size >= KNOWN_MAX) this.#known.clear();
    this.#known.add(counter);
  }

  /**
   * Starts writing `value` in the background, stamped (see
   * `_generations.ts`) and in call order: nothing it needs waits for a
   * round trip. Counters this tier has not seen are created (if missing)
   * before the entry and read after it, in the same pipeline, so that with
   * tracking they are watched from now on, and a write already invalidated
   * by the time it lands tells `onInvalidated`. Throws synchronously when
   * the backend refuses the value itself (e.g. `SerializationError`),
   * whether the tier is in use or skipped by the breaker.
   */
  write(key: string, value: unknown, ttlMs: number | undefined, options: WriteOptions = {}): void {
    const tags = options.tags ?? [];
    const stamp = options.stamp ?? nextStamp();
    const ttl = ttlMs === Infinity ? undefined : ttlMs;
    const envelope = wrap({
      namespace: this.#namespace,
      stamp,
      tags,
      expiresAt: ttl === undefined ? undefined : this.#clock.now() + ttl,
      keepMs: ttl === undefined ? 0 : options.keepMs ?? 0,
      value,
    });
    if (!this.#breaker.allow()) {
      this.backend.checkValue(envelope);
      return;
    }
    const l2Ttl = ttl === undefined ? undefined : ttl + (options.keepMs ?? 0);

    const unknown = counterKeys(this.#namespace, tags).filter((k) => !this.#known.has(k));
    let sent: Promise<void>;
    try {
      if (unknown.length > 0) this.backend.checkValue(envelope); // before creating counters for it
      sent = this.#quietly(() => {
        const created = unknown.length > 0
          ? this.backend.initGenerations(unknown, Math.min(stamp, this.lowWater()) - 1)
          : undefined;
        const set = this.backend.set(
          this.#prefix + key,
          envelope,
          l2Ttl,
          options.ifAbsent ? IF_ABSENT : undefined,
        );
        if (created === undefined) return set;
        const read = this.backend.getGenerations(unknown).then((values) => {
          for (let i = 0; i < unknown.length; i++) {
            const counter = values[i];
            if (counter !== undefined && counter >= stamp) options.onInvalidated?.();
            if (counter !== undefined) this.#know(unknown[i]);
          }
        });
        return Promise.all([created, set, read]).then(() => {});
      });
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
      await this.#quietly(() => this.backend.delete(this.#prefix + key));
      this.#succeeded();
    } catch (error) {
      this.#failed("delete", error, key);
    }
  }

  /**
   * Removes this cache's entries remotely. With a namespace: its generation
   * is raised to now (O(1): every entry stamped before is a miss from now
   * on, in every process), then those entries, and only those, are deleted
   * in the background (`deleteByPrefix`, awaited by `flush()`). With no
   * namespace: the entries of this cache's sub-space (`"0::"`), swept
   * before it resolves; namespaced caches' entries and the counters are
   * not touched. Failures are logged.
   */
  async clear(): Promise<void> {
    const namespace = this.#namespace;
    try {
      const stamp = nextStamp();
      const old = (value: unknown) => {
        const envelope = unwrap(value);
        return !envelope || (envelope.namespace === namespace && envelope.stamp <= stamp);
      };
      if (namespace === "") {
        // No counter to raise: the sweep of this cache's sub-space is the clear.
        // A backend that cannot delete by prefix can only be cleared whole.
        const sweeps = this.backend.deleteByPrefix !== RemoteCacheBackend.prototype.deleteByPrefix;
        await this.#quietly(() =>
          sweeps ? this.backend.deleteByPrefix(this.#prefix, old) : this.backend.clear()
        );
      } else {
        await this.#quietly(() => this.backend.bumpGenerations(counterKeys(namespace, []), stamp));
        this.#track(
          this.backend.deleteByPrefix(this.#prefix, old).then(
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
   * Invalidates tags everywhere: raises their generations to now (entries
   * stamped before are misses in every process). Failures are logged.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    try {
      const stamp = nextStamp();
      await this.#quietly(() => this.backend.bumpGenerations(counterKeys("", tags), stamp));
      this.#succeeded();
    } catch (error) {
      this.#failed("invalidateTags", error);
    }
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
    this.lookupMany(keys, tags && [...tags]).then(({ entries, stale, failed, older }) => {
      for (let i = 0; i < resolves.length; i++) {
        resolves[i]({ entry: entries[i], stale: stale[i], failed, older: older?.[i] });
      }
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
    this.counters.errorKinds[l2ErrorKind(error)]++;
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
