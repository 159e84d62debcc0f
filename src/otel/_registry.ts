/**
 * A minimal in-process meter (the structural `MeterLike`) that keeps what
 * `prometheusText` renders: counter sums, histogram buckets, and the
 * asynchronous instruments' values, observed when collected.
 *
 * @module
 */
import type {
  Attributes,
  BatchCallback,
  CounterLike,
  HistogramLike,
  InstrumentOptions,
  MeterLike,
  ObservableLike,
} from "./_api.ts";

/** One series: its attributes and value (a histogram's: bucket counts, sum, count). */
export interface Series {
  attributes: Attributes;
  value: number;
  buckets?: number[];
  sum?: number;
  count?: number;
}

/** An instrument and its series by attribute key. */
export interface Instrument {
  name: string;
  kind: "counter" | "gauge" | "histogram";
  description: string;
  unit: string;
  boundaries: readonly number[];
  series: Map<string, Series>;
}

function seriesKey(attributes: Attributes | undefined): string {
  if (attributes === undefined) return "";
  return Object.keys(attributes).sort().map((k) => `${k}=${attributes[k]}`).join("\u0000");
}

/** See the module doc. */
export class Registry implements MeterLike {
  /** Instruments by name (one per name: the same name again is the same instrument). */
  readonly instruments = new Map<string, Instrument>();
  readonly #callbacks = new Map<BatchCallback, ObservableLike[]>();
  readonly #observableOf = new WeakMap<ObservableLike, Instrument>();
  readonly #observed = new Set<Instrument>();

  #instrument(name: string, kind: Instrument["kind"], o: InstrumentOptions = {}): Instrument {
    let i = this.instruments.get(name);
    if (i === undefined) {
      i = {
        name,
        kind,
        description: o.description ?? "",
        unit: o.unit ?? "",
        boundaries: o.advice?.explicitBucketBoundaries ?? [],
        series: new Map(),
      };
      this.instruments.set(name, i);
    }
    return i;
  }

  createCounter(name: string, options?: InstrumentOptions): CounterLike {
    const i = this.#instrument(name, "counter", options);
    return {
      add(value, attributes) {
        const key = seriesKey(attributes);
        const s = i.series.get(key);
        if (s === undefined) i.series.set(key, { attributes: { ...attributes }, value });
        else s.value += value;
      },
    };
  }

  createHistogram(name: string, options?: InstrumentOptions): HistogramLike {
    const i = this.#instrument(name, "histogram", options);
    return {
      record(value, attributes) {
        const key = seriesKey(attributes);
        let s = i.series.get(key);
        if (s === undefined) {
          s = {
            attributes: { ...attributes },
            value: 0,
            buckets: new Array(i.boundaries.length + 1).fill(0),
            sum: 0,
            count: 0,
          };
          i.series.set(key, s);
        }
        let b = 0;
        while (b < i.boundaries.length && value > i.boundaries[b]) b++;
        s.buckets![b]++;
        s.sum! += value;
        s.count!++;
      },
    };
  }

  #observable(name: string, kind: "counter" | "gauge", o?: InstrumentOptions): ObservableLike {
    const i = this.#instrument(name, kind, o);
    const observable: ObservableLike = { addCallback() {} };
    this.#observableOf.set(observable, i);
    this.#observed.add(i);
    return observable;
  }

  createObservableCounter(name: string, options?: InstrumentOptions): ObservableLike {
    return this.#observable(name, "counter", options);
  }

  createObservableGauge(name: string, options?: InstrumentOptions): ObservableLike {
    return this.#observable(name, "gauge", options);
  }

  addBatchObservableCallback(callback: BatchCallback, observables: ObservableLike[]): void {
    this.#callbacks.set(callback, observables);
  }

  removeBatchObservableCallback(callback: BatchCallback): void {
    this.#callbacks.delete(callback);
  }

  /** Runs the batch callbacks: the asynchronous instruments' series are replaced by what they observe. */
  collect(): void {
    const fresh = new Map<Instrument, Map<string, Series>>();
    for (const callback of this.#callbacks.keys()) {
      callback({
        observe: (observable, value, attributes) => {
          const i = this.#observableOf.get(observable);
          if (i === undefined) return;
          let series = fresh.get(i);
          if (series === undefined) fresh.set(i, series = new Map());
          series.set(seriesKey(attributes), { attributes: { ...attributes }, value });
        },
      });
    }
    for (const i of this.#observed) i.series = fresh.get(i) ?? new Map();
  }
}
