/**
 * Load tracking (single-flight): at most one L2 lookup and one loader per key
 * at a time. A `set`, `delete` or `clear` makes a flight stale (its result
 * is then neither stored nor written back) and removes it, so the next miss
 * starts afresh.
 *
 * A flight started without a loader (a plain `get(key)` with an L2 tier)
 * adopts the loader of the first caller that joins it while its L2 lookup is
 * running: a lookup without a loader never answers a caller that brought one.
 *
 * @module
 */
import { nextStamp } from "../remote/_generations.ts";
import type { AnyBatchLoader } from "./_batcher.ts";
import type { NoCache, ServePlan, TtlSpec } from "./_serve.ts";
import type { LoaderContext } from "./_timeouts.ts";

/** What a loader may return: a value, `undefined` (nothing), or `noCache(value)`. */
export type LoaderResult<V> = V | NoCache<V> | undefined;

/** A loader of one key (it may ignore its argument). */
export type Loader<V> = (context: LoaderContext) => LoaderResult<V> | Promise<LoaderResult<V>>;

/** One key's lookup or load in progress. */
export interface Flight<V> {
  /** Settles with the key's value; set right after the flight is registered. */
  promise: Promise<V | undefined>;
  /** False once a set/delete/clear made this load's result stale. */
  current: boolean;
  /** True while the L2 lookup runs (a joiner may still bring the loader). */
  lookingUp: boolean;
  loader: Loader<V> | undefined;
  batchLoader: AnyBatchLoader | undefined;
  /** TTL for the loaded value: ms, or a function of the value. */
  ttl: TtlSpec;
  /** Tags of the loaded value. */
  tags: readonly string[] | undefined;
  /**
   * When it began (before its L2 lookup and its loader): its write-back is
   * stamped with this, so an invalidation after it makes the result a miss
   * everywhere (see `../remote/_generations.ts`).
   */
  stamp: number;
  /** The tag index's mark when it began: a tag dropped since keeps its result out of L1. */
  mark: number;
  /**
   * How its value reaches L2: `"absent"` (a loader's write-back after an L2
   * miss: only if L2 still holds nothing), `"force"` (`refresh`), or
   * `"none"` (L2 could not be asked: a write now might land after a newer
   * one, and nothing would track the key).
   */
  writeBack: "absent" | "force" | "none";
  /** The serving plan (timeouts, stale keep time) of the get that started it. */
  plan: ServePlan | undefined;
  /** Callers that joined it after it started (`coalesced`). */
  joined: number;
  /**
   * What answered it, so far: `"none"` (nothing yet, or nothing found and
   * no loader), `"l2"`, `"loader"`, `"stale"` (a stale L2 entry was served).
   */
  source: "none" | "l2" | "loader" | "stale";
}

/** The flights of one cache, by normalised key. */
export class Flights<V> {
  readonly #map = new Map<string, Flight<V>>();
  readonly #mark: () => number;

  /** @param mark The tag index's mark (see `_tag_index.ts`), taken as each flight starts. */
  constructor(mark: () => number = () => 0) {
    this.#mark = mark;
  }

  /** The flight in progress for `key`, if any. */
  get(key: string): Flight<V> | undefined {
    return this.#map.get(key);
  }

  /** Registers a new flight for `key` (replacing none: call only when `get` found none). */
  start(
    key: string,
    loader: Loader<V> | undefined,
    batchLoader: AnyBatchLoader | undefined,
    ttl: TtlSpec,
    tags: readonly string[] | undefined,
    plan?: ServePlan,
  ): Flight<V> {
    const flight: Flight<V> = {
      promise: undefined as unknown as Promise<V | undefined>,
      current: true,
      lookingUp: false,
      loader,
      batchLoader,
      ttl,
      tags,
      stamp: nextStamp(),
      mark: this.#mark(),
      writeBack: "absent",
      plan,
      joined: 0,
      source: "none",
    };
    this.#map.set(key, flight);
    return flight;
  }

  /** The stamp of the oldest flight in progress (`Infinity` with none). */
  oldestStamp(): number {
    let oldest = Infinity;
    for (const flight of this.#map.values()) if (flight.stamp < oldest) oldest = flight.stamp;
    return oldest;
  }

  /** Unregisters `flight` if it is still the one for `key`. */
  end(key: string, flight: Flight<V>): void {
    if (this.#map.get(key) === flight) this.#map.delete(key);
  }

  /** Makes the flight for `key` stale and forgets it. */
  invalidate(key: string): void {
    const flight = this.#map.get(key);
    if (flight !== undefined) {
      flight.current = false;
      this.#map.delete(key);
    }
  }

  /** Makes every flight whose key starts with `prefix` stale ("" for all). */
  invalidatePrefix(prefix: string): void {
    for (const [key, flight] of this.#map) {
      if (key.startsWith(prefix)) {
        flight.current = false;
        this.#map.delete(key);
      }
    }
  }

  /** Makes every flight that carries one of `tags` stale. */
  invalidateTags(tags: ReadonlySet<string>): void {
    for (const [key, flight] of this.#map) {
      if (flight.tags?.some((t) => tags.has(t))) {
        flight.current = false;
        this.#map.delete(key);
      }
    }
  }

  /** Resolves when every flight in progress now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#map.values()].map((f) => f.promise));
  }
}
