/**
 * Instrumentation hooks of a cache's miss path (for `@async-cache/cache/otel`).
 * The miss path reads `probes.active` once per flight and once per loader
 * call; with no probe attached that is the whole cost, and the L1 hit path
 * never looks. A probe wraps the work it is given (e.g. in a span that is
 * the active context while it runs) and must return what the work returns.
 *
 * @module
 */
import type { Flight } from "./_flights.ts";

/** What a probe sees of a flight: read as it settles. */
export type FlightView = Pick<Flight<unknown>, "joined" | "source">;

/** One instrumentation of a cache's miss path. */
export interface CacheProbe {
  /**
   * Runs one flight (an L1 miss's L2 lookup and load, or a background
   * refresh when `background`) and returns its promise.
   */
  flight<T>(
    key: string,
    flight: FlightView,
    run: () => Promise<T>,
    background?: boolean,
  ): Promise<T>;
  /** Runs one loader call (`keys`: how many keys a batch loader was asked for). */
  load<T>(key: string, run: () => T, keys?: number): T;
}

/** The probes attached to one cache; `active` is all of them as one (undefined: none). */
export class Probes {
  #list: CacheProbe[] = [];
  /** What the miss path calls; undefined while no probe is attached. */
  active: CacheProbe | undefined;

  /** Attaches `probe`; returns its detach function (idempotent). */
  add(probe: CacheProbe): () => void {
    this.#list = [...this.#list, probe];
    this.#update();
    return () => {
      this.#list = this.#list.filter((p) => p !== probe);
      this.#update();
    };
  }

  #update(): void {
    const list = this.#list;
    this.active = list.length === 0 ? undefined : list.length === 1 ? list[0] : nest(list);
  }
}

/** Several probes as one: the first attached is the outermost. */
function nest(list: readonly CacheProbe[]): CacheProbe {
  return {
    flight(key, flight, run, background) {
      let wrapped = run;
      for (let i = list.length - 1; i > 0; i--) {
        const inner = wrapped;
        const probe = list[i];
        wrapped = () => probe.flight(key, flight, inner, background);
      }
      return list[0].flight(key, flight, wrapped, background);
    },
    load(key, run, keys) {
      let wrapped = run;
      for (let i = list.length - 1; i > 0; i--) {
        const inner = wrapped;
        const probe = list[i];
        wrapped = () => probe.load(key, inner, keys);
      }
      return list[0].load(key, wrapped, keys);
    },
  };
}

const behind = new WeakMap<object, object>();

/** Records that `facade` (a memoized function, a tool) answers from `cache`. */
export function registerFacade(facade: object, cache: object): void {
  behind.set(facade, cache);
}

/** The cache a memoized function or tool answers from (undefined: none known). */
export function cacheBehind(facade: object): object | undefined {
  return behind.get(facade);
}
