/**
 * What `instrument` and `prometheusText` can observe: an `AsyncCache`, or
 * a memoized function or AgentCache tool (through the cache behind it), or,
 * failing that, anything with the cache's `on` and `getMetrics`.
 *
 * @module
 */
import { AsyncCache, type CacheInternals, cacheInternals } from "../cache/async_cache.ts";
import type { CacheEventName, CacheListener } from "../cache/_events.ts";
import type { CacheMetrics } from "../cache/_metrics.ts";
import { cacheBehind } from "../cache/_probe.ts";

/** Something with a cache's events (a memoized function, a tool, a cache). */
export interface Observable {
  /** See `AsyncCache.on`. */
  on<N extends CacheEventName>(name: N, listener: CacheListener<N>): () => void;
  /** See `AsyncCache.getMetrics`. */
  getMetrics?(): CacheMetrics;
}

/** A resolved target: its events, and its cache's internals when known. */
export interface Target {
  on: Observable["on"];
  internals: CacheInternals<unknown> | undefined;
  metrics: (() => CacheMetrics) | undefined;
}

/**
 * Resolves `target`.
 *
 * @throws {TypeError} When it has no `on` function.
 */
export function resolveTarget(what: string, target: unknown): Target {
  if (target instanceof AsyncCache) {
    return { on: target.on.bind(target), internals: cacheInternals(target), metrics: undefined };
  }
  if (
    (typeof target !== "object" && typeof target !== "function") || target === null ||
    typeof (target as Observable).on !== "function"
  ) {
    throw new TypeError(
      `${what}: expected an AsyncCache, a memoized function or an AgentCache tool (anything ` +
        `with the cache's on()): received ${target === null ? "null" : typeof target}`,
    );
  }
  const t = target as Observable;
  const cache = cacheBehind(t) ?? (t as { cache?: unknown }).cache;
  if (cache instanceof AsyncCache) {
    return { on: cache.on.bind(cache), internals: cacheInternals(cache), metrics: undefined };
  }
  const getMetrics = t.getMetrics;
  return {
    on: t.on.bind(t),
    internals: undefined,
    metrics: typeof getMetrics === "function" ? () => getMetrics.call(t) : undefined,
  };
}
