/**
 * Case: what `instrument()` (issue 18) costs, with the real OpenTelemetry
 * SDK: a MeterProvider with a pull reader and a TracerProvider whose
 * BatchSpanProcessor exports to a discarding exporter (what production
 * wiring looks like, minus the network), both metrics and traces on.
 *
 * - An L1 hit: instrumented and not (same cache options, 1,000 hot keys).
 * - The miss path (also with metrics only, traces only, and traces sampled 1 in 10): two tiers on the runner's Redis, neither tier has the key,
 *   a trivial loader (an L1 miss, an L2 MGET miss, the load, the background
 *   L2 write), sequential; instrumented (a load span, a client span per
 *   Redis command, three histogram records) and not.
 * - The SDK's floor: the uninstrumented miss plus, made by hand around it,
 *   exactly the SDK calls a traced miss needs (the same three spans with
 *   the same attributes, the same three histogram records), without any of
 *   the cache's instrumentation. What `instrument()` costs beyond this row
 *   is its own.
 *
 * @module
 */
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { compare, loadOtel } from "../_common.mjs";

const N = 1000;

class PullReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

/** Drops spans (no network), as fast as an exporter can be. */
const discard = {
  export(_spans, done) {
    done({ code: 0 });
  },
  shutdown: async () => {},
};

export async function run(lib, port) {
  const { AsyncCache, RedisBackend } = lib;
  const { instrument } = await loadOtel();
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const tracerProvider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: discard, maxQueueSize: 1 << 16 })],
  });
  // What production tracing usually runs with: 1 trace in 10 recorded.
  const sampledProvider = new TracerProvider({
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: discard, maxQueueSize: 1 << 16 })],
  });
  const keys = Array.from({ length: N }, (_, i) => `user:${i}`);
  const plain = new AsyncCache({ maxsize: 10_000 });
  const watched = new AsyncCache({ maxsize: 10_000 });
  const off = instrument(watched, { meterProvider, tracerProvider, name: "bench" });
  for (let i = 0; i < N; i++) {
    await plain.set(keys[i], { id: i });
    await watched.set(keys[i], { id: i });
  }
  let i = 0;
  const next = () => keys[i = (i + 1) % N];
  const hit = await compare([
    ["async-cache get(key)", () => plain.get(next())],
    ["async-cache get(key), instrumented", () => watched.get(next())],
  ]);

  const run = Date.now().toString(36);
  const pair = (name) => {
    const backend = new RedisBackend({ port, prefix: `bench-otel-${run}-${name}:` });
    const cache = new AsyncCache({ maxsize: 100, remoteCache: backend, defaultTtl: "1h" });
    return { backend, cache };
  };
  const a = pair("plain");
  const b = pair("watched");
  const c = pair("metrics");
  const d = pair("traces");
  const e = pair("sampled");
  const offs = [
    instrument(b.cache, { meterProvider, tracerProvider, name: "bench-l2" }),
    instrument(c.cache, { meterProvider, name: "bench-metrics" }),
    instrument(d.cache, { tracerProvider, name: "bench-traces" }),
    instrument(e.cache, { meterProvider, tracerProvider: sampledProvider, name: "bench-sampled" }),
  ];
  const loader = () => ({ id: 0 });
  const f = pair("floor");
  const floor = sdkFloor(f.cache, meterProvider, tracerProvider, port, loader);
  let m = 0;
  const miss = await compare([
    ["async-cache full miss", () => a.cache.get(`miss:${m++}`, { loader })],
    ["async-cache full miss, instrumented", () => b.cache.get(`miss:${m++}`, { loader })],
    ["async-cache full miss, metrics only", () => c.cache.get(`miss:${m++}`, { loader })],
    ["async-cache full miss, traces only", () => d.cache.get(`miss:${m++}`, { loader })],
    [
      "async-cache full miss, metrics + traces sampled 1 in 10",
      () => e.cache.get(`miss:${m++}`, { loader }),
    ],
    [
      "async-cache full miss + the SDK calls a traced miss needs, by hand",
      () => floor(`miss:${m++}`),
    ],
  ]);
  await reader.collect(); // the collection works (not timed)
  off();
  for (const o of offs) o();
  for (const p of [a, b, c, d, e, f]) {
    await p.cache.close();
    await p.backend.close();
  }
  await plain.close();
  await watched.close();
  await tracerProvider.shutdown();
  await sampledProvider.shutdown();
  await meterProvider.shutdown();
  return [
    {
      id: "otel_hit",
      title: "Instrumented (metrics + traces, OpenTelemetry SDK): L1 hit",
      baseline: "async-cache get(key)",
      unit: "time",
      rows: hit,
    },
    {
      id: "otel_miss",
      title: "Instrumented: full miss on two tiers (L1, Redis, trivial loader), sequential",
      baseline: "async-cache full miss",
      unit: "time",
      rows: miss,
    },
  ];
}

/**
 * An uninstrumented miss wrapped in the SDK work a traced one needs: a load
 * span (made active, two attributes at start, three at the end), a CLIENT
 * span for the MGET and one for the SET (four attributes each), and three
 * histogram records (load duration; command duration for each command).
 */
function sdkFloor(cache, meterProvider, tracerProvider, port, loader) {
  const tracer = tracerProvider.getTracer("sdk-floor");
  const meter = meterProvider.getMeter("sdk-floor");
  const loadDuration = meter.createHistogram("sdk_floor.load.duration", { unit: "s" });
  const commandDuration = meter.createHistogram("sdk_floor.command.duration", { unit: "s" });
  const okAttrs = { "cache.name": "floor", "async_cache.outcome": "ok" };
  const mgetAttrs = {
    "cache.name": "floor",
    "db.system.name": "redis",
    "db.operation.name": "MGET",
  };
  const setAttrs = { "cache.name": "floor", "db.system.name": "redis", "db.operation.name": "SET" };
  const client = (op) => ({
    kind: 2,
    attributes: {
      "db.system.name": "redis",
      "db.operation.name": op,
      "server.address": "127.0.0.1",
      "server.port": port,
    },
  });
  return (key) =>
    tracer.startActiveSpan(
      "async_cache.load",
      {
        kind: 0,
        attributes: { "cache.name": "floor", "async_cache.key.hash": "0123456789abcdef" },
      },
      async (span) => {
        const t0 = performance.now();
        const mget = tracer.startSpan("MGET", client("MGET"));
        const value = await cache.get(key, { loader });
        mget.end();
        commandDuration.record((performance.now() - t0) / 1000, mgetAttrs);
        const set = tracer.startSpan("SET", client("SET"));
        set.end();
        commandDuration.record((performance.now() - t0) / 1000, setAttrs);
        loadDuration.record((performance.now() - t0) / 1000, okAttrs);
        span.setAttribute("async_cache.tier", "loader");
        span.setAttribute("async_cache.stale", false);
        span.setAttribute("async_cache.coalesced", 0);
        span.end();
        return value;
      },
    );
}
