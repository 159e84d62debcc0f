/**
 * The part of the OpenTelemetry JS API (`@opentelemetry/api` 1.x) that the
 * instrumentation uses, declared structurally: a `MeterProvider` or
 * `TracerProvider` from any OpenTelemetry SDK fits, and this package never
 * imports `@opentelemetry/api` (so it has no runtime dependency).
 *
 * @module
 */

/** An attribute value. */
export type AttributeValue = string | number | boolean | string[];

/** Attributes of a measurement or a span. */
export type Attributes = Record<string, AttributeValue | undefined>;

/** A monotonic or up-down counter (`add`). */
export interface CounterLike {
  /** Adds `value` to the series named by `attributes`. */
  add(value: number, attributes?: Attributes): void;
}

/** A histogram (`record`). */
export interface HistogramLike {
  /** Records one measurement. */
  record(value: number, attributes?: Attributes): void;
}

/** An asynchronous instrument (observed in a batch callback). */
export interface ObservableLike {
  /** Adds a callback (unused here: the batch callback observes). */
  addCallback(
    callback: (result: { observe(value: number, attributes?: Attributes): void }) => void,
  ): void;
}

/** What a batch callback is given. */
export interface BatchResultLike {
  /** Reports the value of `observable`'s series named by `attributes`. */
  observe(observable: ObservableLike, value: number, attributes?: Attributes): void;
}

/** A batch observable callback. */
export type BatchCallback = (result: BatchResultLike) => void;

/** Options of an instrument. */
export interface InstrumentOptions {
  /** What it measures. */
  description?: string;
  /** UCUM unit (e.g. `s`, `By`, `{request}`). */
  unit?: string;
  /** Hints to the SDK (histogram buckets). */
  advice?: { explicitBucketBoundaries?: number[] };
}

/** A meter (`MeterProvider.getMeter(...)`). */
export interface MeterLike {
  /** A monotonic counter. */
  createCounter(name: string, options?: InstrumentOptions): CounterLike;
  /** A histogram. */
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike;
  /** An asynchronous monotonic counter. */
  createObservableCounter(name: string, options?: InstrumentOptions): ObservableLike;
  /** An asynchronous gauge. */
  createObservableGauge(name: string, options?: InstrumentOptions): ObservableLike;
  /** Registers one callback that observes several asynchronous instruments. */
  addBatchObservableCallback(callback: BatchCallback, observables: ObservableLike[]): void;
  /** Removes a callback added by `addBatchObservableCallback`. */
  removeBatchObservableCallback(callback: BatchCallback, observables: ObservableLike[]): void;
}

/** A meter provider: the `MeterProvider` of `@opentelemetry/sdk-metrics`, or `metrics.getMeterProvider()`. */
export interface MeterProviderLike {
  /** The meter of an instrumentation scope. */
  getMeter(name: string, version?: string): MeterLike;
}

/** A span. */
export interface SpanLike {
  /** Sets one attribute. */
  setAttribute(key: string, value: AttributeValue): unknown;
  /** Sets the status (`code` 2: error). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Records an exception as a span event. */
  recordException(exception: Error | string): void;
  /** Ends the span. */
  end(): void;
}

/** Options of a new span. */
export interface SpanOptionsLike {
  /** 0 internal, 2 client. */
  kind?: number;
  /** Initial attributes. */
  attributes?: Attributes;
}

/** A tracer (`TracerProvider.getTracer(...)`). */
export interface TracerLike {
  /** A span whose parent is the active span (if any). */
  startSpan(name: string, options?: SpanOptionsLike): SpanLike;
  /** A span that is the active span while `fn` runs (and in what `fn` starts). */
  startActiveSpan<F extends (span: SpanLike) => unknown>(
    name: string,
    options: SpanOptionsLike,
    fn: F,
  ): ReturnType<F>;
}

/** A tracer provider: the `TracerProvider` of `@opentelemetry/sdk-trace`, or `trace.getTracerProvider()`. */
export interface TracerProviderLike {
  /** The tracer of an instrumentation scope. */
  getTracer(name: string, version?: string): TracerLike;
}

/** `SpanKind.INTERNAL`. */
export const SPAN_INTERNAL = 0;
/** `SpanKind.CLIENT`. */
export const SPAN_CLIENT = 2;
/** `SpanStatusCode.ERROR`. */
export const STATUS_ERROR = 2;
