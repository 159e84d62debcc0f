/**
 * `instrument(target, options)`: OpenTelemetry metrics and traces for a
 * cache, a memoized function or an AgentCache tool.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";
import type { MeterProviderLike, TracerProviderLike } from "./_api.ts";
import { meterTarget } from "./_metrics.ts";
import { SCOPE_NAME } from "./_names.ts";
import { resolveTarget } from "./_target.ts";
import { traceTarget } from "./_tracing.ts";

/** Options of {@linkcode instrument}. */
export interface InstrumentOptions {
  /**
   * Where metrics go: an OpenTelemetry `MeterProvider` (the SDK's, or
   * `metrics.getMeterProvider()` from `@opentelemetry/api`). Default: none
   * (no metrics).
   */
  meterProvider?: MeterProviderLike;
  /**
   * Where spans go: an OpenTelemetry `TracerProvider` (the SDK's, or
   * `trace.getTracerProvider()`). Default: none (no spans).
   */
  tracerProvider?: TracerProviderLike;
  /** The `cache.name` attribute on every metric and span, to tell caches apart. Default `"default"`. */
  name?: string;
  /**
   * Put raw keys on spans (`async_cache.key` on load spans, key arguments
   * in `db.query.text` on Redis spans; values never). Default `false`:
   * spans carry `async_cache.key.hash` only.
   */
  recordKeys?: boolean;
  /**
   * An `async_cache.loader` span around each loader call, between the load
   * span and the loader's own spans. Default `false`: the loader runs with
   * the load span active, so its spans (a database query) are children of
   * the load span, and a traced miss records one span fewer.
   */
  loaderSpans?: boolean;
}

const NAMES = optionNames<InstrumentOptions>({
  meterProvider: true,
  tracerProvider: true,
  name: true,
  recordKeys: true,
  loaderSpans: true,
});

const WHAT = "instrument";

/**
 * Reports `target`'s metrics to `meterProvider` and its spans to
 * `tracerProvider` (see docs/OBSERVABILITY.md for every metric and span).
 * `target` is an `AsyncCache` (its L2 backend is covered through it), a
 * function memoized by `AsyncLRU`/`AsyncTTL`, or an `AgentCache` tool.
 * Uses only the providers' structural API: this package does not depend on
 * `@opentelemetry/api`.
 *
 * Costs: nothing on an L1 hit (the counters are read when the SDK collects);
 * on a miss, the spans and a histogram record.
 *
 * @param target What to observe.
 * @param options The providers, the cache's name, and what spans carry.
 * @returns A function that removes the instrumentation (idempotent).
 * @throws {InvalidOptionError} For an unknown option, a `name` that is not a
 * non-empty string, a provider without `getMeter`/`getTracer`, or no provider.
 * @throws {TypeError} When `target` has no cache events (`on`).
 *
 * @example Metrics and spans with the OpenTelemetry SDK
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import { instrument } from "@async-cache/cache/otel";
 * import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
 * import {
 *   InMemorySpanExporter,
 *   SimpleSpanProcessor,
 *   TracerProvider,
 * } from "@opentelemetry/sdk-trace";
 * import { assertEquals } from "@std/assert";
 *
 * class Reader extends MetricReader {
 *   protected async onForceFlush() {}
 *   protected async onShutdown() {}
 * }
 * const reader = new Reader();
 * const meterProvider = new MeterProvider({ readers: [reader] });
 * const exporter = new InMemorySpanExporter();
 * const tracerProvider = new TracerProvider({
 *   spanProcessors: [new SimpleSpanProcessor({ exporter })],
 * });
 *
 * const cache = new AsyncCache<string>();
 * const off = instrument(cache, { meterProvider, tracerProvider, name: "users" });
 * await cache.get("user:1", { loader: () => "Ada" }); // a miss: one load span
 * await cache.get("user:1"); // an L1 hit: no span
 *
 * const { resourceMetrics } = await reader.collect();
 * const requests = resourceMetrics.scopeMetrics[0].metrics
 *   .find((m) => m.descriptor.name === "async_cache.requests")!;
 * const hits = requests.dataPoints.find((p) => p.attributes["async_cache.result"] === "hit")!;
 * assertEquals(hits.value, 1);
 * assertEquals(exporter.getFinishedSpans().map((s) => s.name), ["async_cache.load"]);
 * off();
 * await cache.close();
 * await meterProvider.shutdown();
 * ```
 */
export function instrument(target: unknown, options: InstrumentOptions): () => void {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError(WHAT, "options", "an object", options);
  }
  checkOptionNames(WHAT, options, NAMES);
  const { meterProvider, tracerProvider, recordKeys = false, loaderSpans = false } = options;
  const name = options.name ?? "default";
  if (typeof name !== "string" || name === "") {
    throw new InvalidOptionError(WHAT, "name", "a non-empty string", name);
  }
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== "function") {
    throw new InvalidOptionError(
      WHAT,
      "meterProvider",
      "a MeterProvider (getMeter)",
      meterProvider,
    );
  }
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== "function") {
    throw new InvalidOptionError(
      WHAT,
      "tracerProvider",
      "a TracerProvider (getTracer)",
      tracerProvider,
    );
  }
  if (meterProvider === undefined && tracerProvider === undefined) {
    throw new InvalidOptionError(
      WHAT,
      "meterProvider",
      "given, or tracerProvider (e.g. metrics.getMeterProvider(), trace.getTracerProvider())",
      undefined,
    );
  }
  if (typeof recordKeys !== "boolean") {
    throw new InvalidOptionError(WHAT, "recordKeys", "a boolean", recordKeys);
  }
  if (typeof loaderSpans !== "boolean") {
    throw new InvalidOptionError(WHAT, "loaderSpans", "a boolean", loaderSpans);
  }
  const resolved = resolveTarget(WHAT, target);
  const offs: (() => void)[] = [];
  if (meterProvider !== undefined) {
    offs.push(meterTarget(meterProvider.getMeter(SCOPE_NAME), resolved, name));
  }
  if (tracerProvider !== undefined) {
    offs.push(
      traceTarget(tracerProvider.getTracer(SCOPE_NAME), resolved, {
        name,
        recordKeys,
        loaderSpans,
      }),
    );
  }
  let on = true;
  return () => {
    if (!on) return;
    on = false;
    for (const off of offs) off();
  };
}
