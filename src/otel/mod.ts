/**
 * OpenTelemetry metrics and traces, and a Prometheus endpoint, for
 * `@async-cache/cache`: {@linkcode instrument} a cache with your
 * OpenTelemetry providers, or serve {@linkcode prometheusText}. No runtime
 * dependency: the providers are used through their structural API.
 *
 * Every metric and span, with units and attributes: docs/OBSERVABILITY.md.
 *
 * @example
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import { prometheusText } from "@async-cache/cache/otel";
 * import { assert } from "@std/assert";
 *
 * const cache = new AsyncCache<number>();
 * await cache.get("answer", { loader: () => 42 });
 * assert(prometheusText({ answers: cache }).includes("async_cache_loads_total"));
 * await cache.close();
 * ```
 *
 * @module
 */
export { instrument, type InstrumentOptions } from "./instrument.ts";
export { PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.ts";
export type {
  Attributes,
  AttributeValue,
  BatchCallback,
  BatchResultLike,
  CounterLike,
  HistogramLike,
  InstrumentOptions as MetricInstrumentOptions,
  MeterLike,
  MeterProviderLike,
  ObservableLike,
  SpanLike,
  SpanOptionsLike,
  TracerLike,
  TracerProviderLike,
} from "./_api.ts";
export {
  METRIC_PREFIX,
  type MetricKey,
  type MetricKind,
  METRICS,
  type MetricSpec,
  SCOPE_NAME,
  SPANS,
} from "./_names.ts";
