/**
 * Where a traced miss's cost goes (issue 18): the same two-tier full miss,
 * uninstrumented and traced with the SDK configured five ways (AlwaysOff
 * sampler, a no-op processor, a simple and a batch processor to a
 * discarding exporter), best of three rounds of 4,000 misses each.
 *
 * Run (Node, on the built package): `npm run build`, start a redis-server,
 * then `node bench/otel_breakdown.mjs <port>`.
 *
 * @module
 */
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { AsyncCache, RedisBackend } from "../npm/mod.js";
import { instrument } from "../npm/src/otel/mod.js";
const port = Number(process.argv[2]);
const discard = {
  export(_s, done) {
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const modes = {
  plain: null,
  off: () => new TracerProvider({ sampler: new AlwaysOffSampler() }),
  noopProc: () => new TracerProvider({ spanProcessors: [new NoopSpanProcessor()] }),
  simple: () =>
    new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: discard })] }),
  batch: () =>
    new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: discard })] }),
};
const loader = () => ({ id: 0 });
const res = {};
for (let round = 0; round < 3; round++) {
  for (const [mode, make] of Object.entries(modes)) {
    const backend = new RedisBackend({ port, prefix: `p3-${mode}-${round}-${Date.now()}:` });
    const cache = new AsyncCache({ maxsize: 100, remoteCache: backend, defaultTtl: "1h" });
    const tp = make?.();
    if (tp) instrument(cache, { tracerProvider: tp, name: "p" });
    for (let i = 0; i < 500; i++) await cache.get(`w:${i}`, { loader });
    const t0 = performance.now();
    for (let i = 0; i < 4000; i++) await cache.get(`m:${i}`, { loader });
    const us = (performance.now() - t0) / 4000 * 1000;
    res[mode] = Math.min(res[mode] ?? Infinity, us);
    await cache.close();
    await backend.close();
    await tp?.shutdown();
  }
}
for (const [m, v] of Object.entries(res)) {
  console.log(m.padEnd(10), v.toFixed(1), "µs", (v / res.plain).toFixed(2) + "x");
}
