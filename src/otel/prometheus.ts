/**
 * `prometheusText(caches)`: the instrumentation's figures in the Prometheus
 * text exposition format, for services that are scraped.
 *
 * @module
 */
import { Registry } from "./_registry.ts";
import { meterTarget } from "./_metrics.ts";
import { renderText } from "./_prometheus_format.ts";
import { resolveTarget } from "./_target.ts";

const registry = new Registry();
const bound = new Map<string, { target: unknown; off: () => void }>();

/** The `Content-Type` of {@linkcode prometheusText}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * The metrics of `caches` (names to caches, memoized functions or tools:
 * `{ products: cache, users: getUser }`) in the Prometheus text format:
 * `# HELP`/`# TYPE` lines, counters as `_total`, histograms with buckets,
 * the name as the `cache_name` label; the same figures as `instrument`,
 * named as OpenTelemetry's Prometheus exporter names them
 * (`async_cache_requests_total`, `async_cache_load_duration_seconds`).
 *
 * Counters and gauges cover the cache's whole life. Histograms (load and
 * Redis command durations) start when this function first sees the cache:
 * call it once at start-up (a first scrape does the same).
 *
 * @param caches What to report, by name.
 * @returns The exposition text (serve it with {@linkcode PROMETHEUS_CONTENT_TYPE}).
 * @throws {TypeError} When a value is not a cache, a memoized function or a tool.
 *
 * @example
 * ```ts
 * import { AsyncCache } from "@async-cache/cache";
 * import { prometheusText } from "@async-cache/cache/otel";
 * import { assert } from "@std/assert";
 *
 * const products = new AsyncCache<string>();
 * prometheusText({ products }); // start the histograms
 * await products.get("p1", { loader: () => "lamp" });
 * await products.get("p1");
 * const text = prometheusText({ products });
 * assert(text.includes(
 *   'async_cache_requests_total{async_cache_result="hit",async_cache_tier="l1",cache_name="products"} 1',
 * ));
 * assert(text.includes("# TYPE async_cache_load_duration_seconds histogram"));
 * await products.close();
 * ```
 */
export function prometheusText(caches: Record<string, unknown> | Map<string, unknown>): string {
  const entries = caches instanceof Map ? [...caches] : Object.entries(caches ?? {});
  const names = new Set<string>();
  for (const [name, target] of entries) {
    names.add(name);
    const current = bound.get(name);
    if (current?.target === target) continue;
    const resolved = resolveTarget("prometheusText", target);
    current?.off();
    bound.set(name, { target, off: meterTarget(registry, resolved, name) });
  }
  registry.collect();
  return renderText(registry, (a) => names.has(a["cache.name"] as string));
}
