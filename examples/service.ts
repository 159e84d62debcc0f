/**
 * A small HTTP service that caches a slow data source through `AsyncCache`
 * (L1, in process) and `RedisBackend` (L2, shared by every instance).
 *
 * This file is runtime-neutral: no `Deno.*`, `Bun.*` or `node:*`. The entry
 * points beside it (`deno_server.ts`, `bun_server.ts`, `node_server.ts`) only
 * read the environment, listen, and pass requests to {@linkcode Service.route}
 * (or {@linkcode Service.fetch}, its `Request`/`Response` form).
 *
 * Routes:
 * - `GET /item/:id`: the item as JSON (`id`: 1 to 64 of `[A-Za-z0-9_-]`), read
 *   L1 → Redis → the slow source (~20 ms); concurrent misses on one id share
 *   one load.
 * - `GET /metrics`: the cache's metrics in the Prometheus text format
 *   (`prometheusText` from `@async-cache/cache/otel`), for a Prometheus scrape.
 * - `GET /stats`: `cache.getMetrics()` as JSON, plus this instance's loader calls.
 * - `GET /healthz`: `ok` once the service listens (it does not need Redis).
 *
 * Redis down, slow or restarted costs latency, never an error: the cache
 * answers from L1 or the source within `socketTimeout`, and its circuit
 * breaker stops paying that timeout while Redis stays down.
 *
 * @module
 */
import { AsyncCache, type CacheMetrics, type Duration, RedisBackend } from "../mod.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../src/otel/mod.ts";

/** An item of the slow data source. */
export interface Item {
  id: string;
  name: string;
  priceCents: number;
  /** Which instance loaded it from the source (another instance may serve it from Redis). */
  loadedBy: string;
  /** When it was loaded (ms since the epoch). */
  loadedAt: number;
}

/** How to build a {@linkcode Service}. */
export interface ServiceOptions {
  /** This instance's name, reported in `/stats` and in `loadedBy`. */
  instance: string;
  /** The runtime, for `/stats` (the entry point knows it). */
  runtime: string;
  /** `redis://host:port/db`. Without it the service runs on L1 alone. */
  redisUrl?: string;
  /** Key prefix in Redis, shared by the instances that should share entries. Default `"svc:"`. */
  prefix?: string;
  /** How long an item stays cached. Default `"30s"`. */
  ttl?: Duration;
  /** L1 capacity. Default 10 000. */
  maxsize?: number;
  /** Bound on every Redis reply (and on connecting). Default `"250ms"`. */
  redisTimeout?: Duration;
  /** Latency of the simulated data source, in ms. Default 20. */
  sourceLatencyMs?: number;
}

/** A response, before any runtime turns it into its own. */
export interface ServiceResponse {
  status: number;
  contentType: string;
  body: string;
}

/** The service: one cache, one route table. */
export interface Service {
  /** Answers a request given its method and path (with or without a query string). */
  route(method: string, path: string): Promise<ServiceResponse>;
  /** The same handler as a WHATWG fetch handler (`Deno.serve`, `Bun.serve`). */
  fetch(request: Request): Promise<Response>;
  /** The cache's metrics plus this instance's loader calls. */
  metrics(): CacheMetrics & { instance: string; runtime: string; loaderCalls: number };
  /** Closes the cache and the Redis connection. */
  close(): Promise<void>;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Reads {@linkcode ServiceOptions} from environment variables: `INSTANCE`,
 * `REDIS_URL`, `CACHE_PREFIX`, `CACHE_TTL`, `REDIS_TIMEOUT`, `SOURCE_LATENCY_MS`.
 *
 * @param env Looks a variable up (`Deno.env.get`, or `(k) => process.env[k]`).
 * @param runtime The runtime's name.
 * @returns The options.
 */
export function optionsFromEnv(
  env: (name: string) => string | undefined,
  runtime: string,
): ServiceOptions {
  const latency = env("SOURCE_LATENCY_MS");
  return {
    instance: env("INSTANCE") ?? `${runtime}-service`,
    runtime,
    redisUrl: env("REDIS_URL") || undefined,
    prefix: env("CACHE_PREFIX") || undefined,
    ttl: (env("CACHE_TTL") || undefined) as Duration | undefined,
    redisTimeout: (env("REDIS_TIMEOUT") || undefined) as Duration | undefined,
    sourceLatencyMs: latency === undefined ? undefined : Number(latency),
  };
}

/**
 * Builds the service.
 *
 * @param options Instance name, Redis URL, TTL, source latency.
 * @returns The service; call `close()` when the server stops.
 */
export function createService(options: ServiceOptions): Service {
  const latency = options.sourceLatencyMs ?? 20;
  const timeout = options.redisTimeout ?? "250ms";
  const redis = options.redisUrl === undefined ? undefined : new RedisBackend({
    url: options.redisUrl,
    prefix: options.prefix ?? "svc:",
    connectTimeout: timeout,
    socketTimeout: timeout,
  });
  const cache = new AsyncCache<Item>({
    maxsize: options.maxsize ?? 10_000,
    defaultTtl: options.ttl ?? "30s",
    remoteCache: redis,
    namespace: "item",
  });
  prometheusText({ items: cache }); // the load and Redis histograms start now
  let loaderCalls = 0;

  /** The slow data source: a database or an API, ~20 ms per call. */
  async function loadItem(id: string): Promise<Item> {
    loaderCalls++;
    await new Promise((resolve) => setTimeout(resolve, latency));
    let hash = 0;
    for (let i = 0; i < id.length; i++) hash = (Math.imul(hash, 31) + id.charCodeAt(i)) >>> 0;
    return {
      id,
      name: `Item ${id}`,
      priceCents: 100 + (hash % 10_000),
      loadedBy: options.instance,
      loadedAt: Date.now(),
    };
  }

  const json = (status: number, value: unknown): ServiceResponse => ({
    status,
    contentType: "application/json",
    body: JSON.stringify(value),
  });

  const metrics = () => ({
    ...cache.getMetrics(),
    instance: options.instance,
    runtime: options.runtime,
    loaderCalls,
  });

  async function route(method: string, path: string): Promise<ServiceResponse> {
    const q = path.indexOf("?");
    const pathname = q === -1 ? path : path.slice(0, q);
    if (method !== "GET") return json(405, { error: "method not allowed" });
    if (pathname.startsWith("/item/")) {
      const id = pathname.slice(6);
      if (!ID.test(id)) return json(400, { error: "id must be 1-64 of [A-Za-z0-9_-]" });
      try {
        return json(200, await cache.get(id, { loader: () => loadItem(id) }));
      } catch (error) {
        // Only the source can fail a read: Redis failures are absorbed by the cache.
        return json(502, { error: `source failed: ${(error as Error)?.message}` });
      }
    }
    if (pathname === "/metrics") {
      return {
        status: 200,
        contentType: PROMETHEUS_CONTENT_TYPE,
        body: prometheusText({ items: cache }),
      };
    }
    if (pathname === "/stats") return json(200, metrics());
    if (pathname === "/healthz") return { status: 200, contentType: "text/plain", body: "ok" };
    return json(404, { error: "not found" });
  }

  return {
    route,
    async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const res = await route(request.method, url.pathname + url.search);
      return new Response(res.body, {
        status: res.status,
        headers: { "content-type": res.contentType },
      });
    },
    metrics,
    async close() {
      // A cache never closes a backend it was handed: close both.
      await cache.close();
      await redis?.close();
    },
  };
}
