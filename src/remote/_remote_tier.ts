/**
 * The cache's view of its remote (L2) tier: a `RemoteCacheBackend` behind a
 * circuit breaker, with errors logged once per outage and never thrown.
 *
 * Reads issued in the same tick are merged into one `getManyWithTtl` call
 * (one MGET on Redis), so 100 concurrent misses on different keys cost one
 * round trip. Writes start synchronously (so a later delete on the same
 * connection is ordered after them) and are tracked until `flush()`.
 *
 * @module
 */
import type { Clock } from "../time.ts";
import type { Logger } from "../logger.ts";
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
  counters: RemoteCounters = { l2Hits: 0, l2Misses: 0, l2Errors: 0, l2Writes: 0 };

  constructor(backend: RemoteCacheBackend, namespace: string, logger: Logger, clock: Clock) {
    this.backend = backend;
    this.#prefix = namespace === "" ? "" : `${namespace}:`;
    this.#logger = logger;
    this.#breaker = new CircuitBreaker(clock);
  }

  /** The breaker's state. */
  get state(): BreakerState {
    return this.#breaker.state;
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
      const entries = await this.backend.getManyWithTtl(full);
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
   * Starts writing `value` in the background. Throws synchronously only when
   * the backend refuses the value itself (e.g. `SerializationError`).
   */
  write(key: string, value: unknown, ttlMs: number | undefined): void {
    if (!this.#breaker.allow()) return;
    const ttl = ttlMs === Infinity ? undefined : ttlMs;
    const done = this.backend.set(this.#prefix + key, value, ttl).then(
      () => {
        this.counters.l2Writes++;
        this.#succeeded();
      },
      (error) => {
        // A value the backend refuses is the caller's problem, not an outage.
        if ((error as Error)?.name === "SerializationError") {
          this.counters.l2Errors++;
          this.#logger.error(`async-cache: cannot store key ${JSON.stringify(key)} in L2:`, error);
        } else this.#failed("write", error);
      },
    ).finally(() => this.#pendingWrites.delete(done));
    this.#pendingWrites.add(done);
  }

  /** Deletes a key remotely; failures are logged. Tried even while the breaker is open. */
  async delete(key: string): Promise<void> {
    try {
      await this.backend.delete(this.#prefix + key);
      this.#succeeded();
    } catch (error) {
      this.#failed("delete", error);
    }
  }

  /** Clears the remote tier; failures are logged. */
  async clear(): Promise<void> {
    try {
      await this.backend.clear();
      this.#succeeded();
    } catch (error) {
      this.#failed("clear", error);
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
    if (this.#breaker.success() && this.#outageLogged) {
      this.#outageLogged = false;
      this.#logger.warn("async-cache: remote cache is reachable again; using it");
    }
  }

  #failed(op: string, error: unknown): void {
    this.counters.l2Errors++;
    const first = this.#breaker.failure();
    if (first && !this.#outageLogged) {
      this.#outageLogged = true;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.#logger.warn(
        `async-cache: remote cache ${op} failed (${message}); serving from L1 and loaders until it recovers`,
      );
    }
  }
}
