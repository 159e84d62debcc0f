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
import type { RemoteCacheBackend, RemoteEntry } from "./remote_backend.ts";

type Resolve = (entry: RemoteEntry | undefined) => void;

/** Counters the cache reports in its metrics. */
export interface RemoteCounters {
  l2Hits: number;
  l2Misses: number;
  l2Errors: number;
  l2Writes: number;
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
  readonly #pendingWrites = new Set<Promise<void>>();
  #queuedKeys: string[] = [];
  #queuedResolves: Resolve[] = [];
  #outageLogged = false;
  #lastCommandError = "";
  counters: RemoteCounters = { l2Hits: 0, l2Misses: 0, l2Errors: 0, l2Writes: 0 };
  /** Told when the breaker changes state (the cache's `"breaker"` event). */
  onBreaker: ((state: BreakerState, previous: BreakerState) => void) | undefined;

  constructor(backend: RemoteCacheBackend, namespace: string, logger: Logger, clock: Clock) {
    this.backend = backend;
    this.#prefix = namespace === "" ? "" : `${namespace}:`;
    this.#logger = logger;
    this.#breaker = new CircuitBreaker(clock);
    backend.adoptLogger(logger);
  }

  /** The breaker's state. */
  get state(): BreakerState {
    return this.#breaker.state;
  }

  /** Zeroes the counters. */
  resetCounters(): void {
    this.counters = { l2Hits: 0, l2Misses: 0, l2Errors: 0, l2Writes: 0 };
  }

  /** Looks one key up; merged with the other lookups of this tick. Never rejects. */
  lookup(key: string): Promise<RemoteEntry | undefined> {
    return new Promise<RemoteEntry | undefined>((resolve) => {
      if (this.#queuedKeys.length === 0) queueMicrotask(() => this.#flushLookups());
      this.#queuedKeys.push(key);
      this.#queuedResolves.push(resolve);
    });
  }

  /** Looks several keys up in one call. Never rejects: failures read as misses. */
  async lookupMany(keys: readonly string[]): Promise<(RemoteEntry | undefined)[]> {
    if (!this.#breaker.allow()) return new Array(keys.length).fill(undefined);
    const full = this.#prefix === "" ? keys : keys.map((k) => this.#prefix + k);
    try {
      const entries = await this.backend.getManyWithTtl(full, this.#logger);
      this.#succeeded();
      for (const entry of entries) {
        if (entry === undefined) this.counters.l2Misses++;
        else this.counters.l2Hits++;
      }
      return entries;
    } catch (error) {
      this.#failed("read", error);
      return new Array(keys.length).fill(undefined);
    }
  }

  /**
   * Starts writing `value` in the background. Throws synchronously when the
   * backend refuses the value itself (e.g. `SerializationError`), whether the
   * tier is in use or skipped by the breaker.
   */
  write(key: string, value: unknown, ttlMs: number | undefined): void {
    if (!this.#breaker.allow()) {
      this.backend.checkValue(value);
      return;
    }
    const ttl = ttlMs === Infinity ? undefined : ttlMs;
    let sent: Promise<void>;
    try {
      sent = this.backend.set(this.#prefix + key, value, ttl);
    } catch (error) {
      this.#breaker.release();
      throw error;
    }
    const done = sent.then(
      () => {
        this.counters.l2Writes++;
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
   * Removes this cache's entries remotely: its namespace only
   * (`deleteByPrefix`), or everything the backend owns for a cache with no
   * namespace. Failures are logged.
   */
  async clear(): Promise<void> {
    try {
      if (this.#prefix === "") await this.backend.clear();
      else await this.backend.deleteByPrefix(this.#prefix);
      this.#succeeded();
    } catch (error) {
      this.#failed("clear", error);
    }
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
    const resolves = this.#queuedResolves;
    this.#queuedKeys = [];
    this.#queuedResolves = [];
    this.lookupMany(keys).then((entries) => {
      for (let i = 0; i < resolves.length; i++) resolves[i](entries[i]);
    });
  }

  #succeeded(): void {
    this.#lastCommandError = "";
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
