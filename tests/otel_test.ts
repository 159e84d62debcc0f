/**
 * Issue 18: `instrument()` with the real OpenTelemetry JS SDK (sdk-metrics
 * with a pull reader, sdk-trace with an in-memory exporter, the
 * AsyncLocalStorage context manager), in the default configuration: two
 * instances, each on its own RedisBackend (tracking on), a namespace and
 * tags, against a real redis-server. Each instrument must report what the
 * scripted workload did; spans must nest under the caller's span.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { AsyncCache, AsyncTTL, InvalidOptionError, RedisBackend } from "../mod.ts";
import { AgentCache } from "../src/agent/mod.ts";
import { cacheInternals } from "../src/cache/async_cache.ts";
import { instrument } from "../src/otel/mod.ts";
import { keyHash } from "../src/otel/_key_hash.ts";
import { RecordingLogger, waitFor } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

type Attrs = Record<string, unknown>;
interface Point {
  attributes: Attrs;
  value: unknown;
}

/** Collects and returns the data points of metric `name` (only those whose attributes include `match`). */
async function points(reader: PullReader, name: string, match: Attrs = {}): Promise<Point[]> {
  const { resourceMetrics } = await reader.collect();
  const out: Point[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const p of metric.dataPoints as Point[]) {
        if (Object.entries(match).every(([k, v]) => p.attributes[k] === v)) out.push(p);
      }
    }
  }
  return out;
}

/** The single value of metric `name` for `match` (0 when it has no such point). */
async function value(reader: PullReader, name: string, match: Attrs): Promise<number> {
  const found = await points(reader, name, match);
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(match)}: ${found.length} points`);
  const v = found[0]?.value;
  if (v === undefined) return 0;
  return typeof v === "number" ? v : (v as { count: number }).count;
}

function providers() {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return { reader, meterProvider, exporter, tracerProvider };
}

const contextManager = new AsyncLocalStorageContextManager();

describe("issue 18: OpenTelemetry instrumentation (real SDK, real Redis)", { skip }, () => {
  let server: RedisServer;
  const opened: { close(): Promise<void> }[] = [];
  let unique = 0;
  before(async () => {
    context.setGlobalContextManager(contextManager.enable());
    server = await startRedisServer();
  });
  after(async () => {
    for (const c of opened.reverse()) await c.close();
    await server?.stop();
    context.disable();
  });

  /** An instance as users deploy it: its own RedisBackend (tracking on), a namespace. */
  const instance = <V>(
    namespace: string,
    port = server.port,
    extra: Record<string, unknown> = {},
  ) => {
    const backend = new RedisBackend({
      host: "127.0.0.1",
      port,
      prefix: "otel:",
      logger: new RecordingLogger(),
      socketTimeout: 300,
      connectTimeout: 300,
    });
    const cache = new AsyncCache<V>({
      remoteCache: backend,
      namespace,
      defaultTtl: 60_000,
      logger: new RecordingLogger(),
      ...extra,
    });
    opened.push(backend, cache);
    return { cache, backend };
  };

  test("every metric reports what a two-instance workload did", async () => {
    const ns = `m${unique++}`;
    const { reader, meterProvider } = providers();
    const a = instance<string>(ns);
    const b = instance<string>(ns);
    const offA = instrument(a.cache, { meterProvider, name: "a" });
    const offB = instrument(b.cache, { meterProvider, name: "b" });
    const A = { "cache.name": "a" };
    const B = { "cache.name": "b" };

    // A: a full miss (L1, then L2), a load, then an L1 hit.
    assert.equal(await a.cache.get("k1", { loader: () => "v1", tags: ["t"] }), "v1");
    assert.equal(await a.cache.get("k1"), "v1");
    await a.cache.flush();
    // B: an L1 miss that L2 answers.
    assert.equal(await b.cache.get("k1", { loader: () => "other", tags: ["t"] }), "v1");
    // Two callers of one missing key: one load, one coalesced.
    const slow = () => new Promise<string>((r) => setTimeout(() => r("v2"), 20));
    await Promise.all([a.cache.get("k2", { loader: slow }), a.cache.get("k2", { loader: slow })]);
    // A load error.
    await assert.rejects(a.cache.get("k3", { loader: () => Promise.reject(new Error("db down")) }));

    const req = "async_cache.requests";
    const r = (tier: string, result: string) => ({
      "async_cache.tier": tier,
      "async_cache.result": result,
    });
    assert.equal(await value(reader, req, { ...A, ...r("l1", "hit") }), 1);
    assert.equal(await value(reader, req, { ...A, ...r("l1", "miss") }), 4); // k1, k2 twice, k3
    assert.equal(await value(reader, req, { ...A, ...r("l2", "miss") }), 3); // k1, k2, k3
    assert.equal(await value(reader, req, { ...A, ...r("l2", "hit") }), 0);
    assert.equal(await value(reader, req, { ...B, ...r("l1", "miss") }), 1);
    assert.equal(await value(reader, req, { ...B, ...r("l2", "hit") }), 1);
    assert.equal(await value(reader, "async_cache.loads", A), 3);
    assert.equal(await value(reader, "async_cache.loads", B), 0);
    assert.equal(await value(reader, "async_cache.load.errors", A), 1);
    assert.equal(await value(reader, "async_cache.coalesced", A), 1);
    assert.equal(
      await value(reader, "async_cache.load.duration", { ...A, "async_cache.outcome": "ok" }),
      2,
    );
    assert.equal(
      await value(reader, "async_cache.load.duration", { ...A, "async_cache.outcome": "error" }),
      1,
    );
    assert.equal(await value(reader, "async_cache.l1.entry.count", A), 2); // k1, k2
    assert.equal(await value(reader, "async_cache.l1.entry.count", B), 1);
    assert.equal(
      await value(reader, "async_cache.l2.breaker.state", { ...A, "async_cache.state": "closed" }),
      1,
    );
    assert.equal(
      await value(reader, "async_cache.l2.breaker.state", { ...A, "async_cache.state": "open" }),
      0,
    );
    // L2 round trips, by command, with seconds in a histogram.
    const commands = await points(reader, "async_cache.l2.command.duration", A);
    const ops = new Set(commands.map((p) => p.attributes["db.operation.name"]));
    assert.ok(ops.size >= 2, [...ops].join(","));
    for (const p of commands) assert.equal(p.attributes["db.system.name"], "redis");
    assert.ok(commands.every((p) => (p.value as { count: number }).count > 0));

    // Remote invalidations, by kind: B changes k1 (a key), then B invalidates tag t.
    await b.cache.set("k1", "v1b", { tags: ["t"] });
    await waitFor(async () =>
      (await value(reader, "async_cache.invalidations", { ...A, "async_cache.kind": "key" })) >= 1
    );
    await b.cache.invalidateTags(["t"]);
    await waitFor(async () =>
      (await value(reader, "async_cache.invalidations", { ...A, "async_cache.kind": "tag" })) >= 1
    );
    assert.equal(
      await value(reader, "async_cache.invalidations", { ...A, "async_cache.kind": "flush" }),
      0,
    );

    // Counters stay monotonic across clear() (which zeroes getMetrics()).
    await a.cache.clear();
    assert.equal(await value(reader, req, { ...A, ...r("l1", "hit") }), 1);
    await a.cache.get("k2", { loader: () => "v2" });
    await a.cache.get("k2");
    assert.equal(await value(reader, req, { ...A, ...r("l1", "hit") }), 2);

    // Removing the instrumentation stops the reports.
    offA();
    offA();
    await a.cache.get("k2");
    await b.cache.get("k1");
    assert.equal(await value(reader, req, { ...A, ...r("l1", "hit") }), 2, "counted after off()");
    assert.equal(await value(reader, req, { ...B, ...r("l1", "miss") }), 2, "B still counted");
    offB();
    await meterProvider.shutdown();
  });

  test("evictions by reason: size, bytes, expired, rejected at admission", async () => {
    const { reader, meterProvider } = providers();
    const bySize = new AsyncCache<string>({ maxsize: 2 });
    const byBytes = new AsyncCache<string>({ maxBytes: 10, sizeOf: (v: string) => v.length });
    let now = 0;
    const expiring = new AsyncCache<string>({ maxsize: 2, clock: { now: () => now } });
    const tiny = new AsyncCache<string>({ maxsize: 4, policy: "tinylfu" });
    opened.push(bySize, byBytes, expiring, tiny);
    const offs = [
      instrument(bySize, { meterProvider, name: "size" }),
      instrument(byBytes, { meterProvider, name: "bytes" }),
      instrument(expiring, { meterProvider, name: "expired" }),
      instrument(tiny, { meterProvider, name: "tiny" }),
    ];
    for (const k of ["a", "b", "c"]) await bySize.set(k, k);
    for (const k of ["a", "b", "c"]) await byBytes.set(k, "12345");
    await expiring.set("a", "a", { ttl: 5 });
    await expiring.set("b", "b", { ttl: 5 });
    now = 10;
    await expiring.set("c", "c");
    // TinyLFU: hot keys, then one-hit wonders that lose the admission duel.
    for (let round = 0; round < 20; round++) {
      for (const k of ["h1", "h2", "h3", "h4"]) {
        if (await tiny.get(k) === undefined) await tiny.set(k, k);
      }
    }
    for (let i = 0; i < 20; i++) await tiny.set(`cold${i}`, "x");
    const ev = "async_cache.l1.evictions";
    const reason = (name: string, why: string) => ({
      "cache.name": name,
      "async_cache.reason": why,
    });
    assert.equal(await value(reader, ev, reason("size", "size")), 1);
    assert.equal(await value(reader, ev, reason("size", "bytes")), 0);
    assert.equal(await value(reader, ev, reason("bytes", "bytes")), 1);
    assert.equal(await value(reader, ev, reason("bytes", "size")), 0);
    assert.equal(await value(reader, ev, reason("expired", "expired")), 2); // a and b
    assert.equal(await value(reader, ev, reason("expired", "size")), 0);
    assert.ok(await value(reader, ev, reason("tiny", "rejected")) >= 15);
    assert.equal(await value(reader, "async_cache.l1.size", { "cache.name": "bytes" }), 10);
    for (const off of offs) off();
    await meterProvider.shutdown();
  });

  test("a Redis kill opens the breaker: state gauge, transitions, L2 errors by kind", async () => {
    const own = await startRedisServer();
    try {
      const { reader, meterProvider } = providers();
      const { cache } = instance<string>(`k${unique++}`, own.port);
      const off = instrument(cache, { meterProvider, name: "kill" });
      const K = { "cache.name": "kill" };
      await cache.get("x", { loader: () => "x" });
      await own.kill();
      await waitFor(async () => {
        for (let i = 0; i < 5; i++) {
          await cache.get(`down${i}-${Math.random()}`, { loader: () => "y" });
        }
        return cache.getMetrics().breaker === "open";
      }, 10_000);
      const state = (s: string) => ({ ...K, "async_cache.state": s });
      assert.equal(await value(reader, "async_cache.l2.breaker.state", state("open")), 1);
      assert.equal(await value(reader, "async_cache.l2.breaker.state", state("closed")), 0);
      assert.ok(await value(reader, "async_cache.l2.breaker.transitions", state("open")) >= 1);
      const errors = await points(reader, "async_cache.l2.errors", K);
      const byKind = Object.fromEntries(errors.map((p) => [p.attributes["error.type"], p.value]));
      assert.ok(
        (byKind.connection as number) + (byKind.timeout as number) > 0,
        JSON.stringify(byKind),
      );
      assert.equal(byKind.reply, 0);
      await own.restart();
      await waitFor(async () => {
        await cache.get(`up-${Math.random()}`, { loader: () => "z" });
        return cache.getMetrics().breaker === "closed";
      }, 15_000);
      assert.ok(await value(reader, "async_cache.l2.breaker.transitions", state("closed")) >= 1);
      assert.equal(await value(reader, "async_cache.l2.breaker.state", state("closed")), 1);
      off();
      await meterProvider.shutdown();
    } finally {
      await own.stop();
    }
  });

  test("spans: a load nests under the caller's span, the loader's work under the load (no loader span by default); L2 client spans; none on an L1 hit", async () => {
    const { exporter, tracerProvider } = providers();
    const { cache } = instance<string>(`s${unique++}`);
    const off = instrument(cache, { tracerProvider, name: "spans" });
    const app = tracerProvider.getTracer("app");
    const loader = () =>
      app.startActiveSpan("db.query", async (span) => {
        await new Promise((r) => setTimeout(r, 5));
        span.end();
        return "secret-value";
      });
    await app.startActiveSpan("GET /users/1", async (request) => {
      await Promise.all([
        cache.get("user:1", { loader, tags: ["users"] }),
        cache.get("user:1", { loader, tags: ["users"] }),
      ]);
      request.end();
    });
    await cache.flush();
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const [request] = byName("GET /users/1");
    const [load] = byName("async_cache.load");
    const [db] = byName("db.query");
    assert.ok(request && load && db, spans.map((s) => s.name).join(","));
    assert.equal(byName("async_cache.load").length, 1, "one load span for two coalesced callers");
    assert.deepEqual(byName("async_cache.loader"), [], "loader spans are opt-in");
    assert.equal(parentOf(load), request.spanContext().spanId);
    assert.equal(parentOf(db), load.spanContext().spanId);
    assert.equal(load.spanContext().traceId, request.spanContext().traceId);
    assert.deepEqual(
      {
        name: load.attributes["cache.name"],
        hash: load.attributes["async_cache.key.hash"],
        tier: load.attributes["async_cache.tier"],
        stale: load.attributes["async_cache.stale"],
        coalesced: load.attributes["async_cache.coalesced"],
      },
      { name: "spans", hash: keyHash("user:1"), tier: "loader", stale: false, coalesced: 1 },
    );
    // Redis round trips: client spans under the load, per the database conventions; no keys, no values.
    const redis = spans.filter((s) => s.attributes["db.system.name"] === "redis");
    assert.ok(redis.length >= 2, redis.map((s) => s.name).join(","));
    for (const s of redis) {
      assert.equal(s.kind, 2); // CLIENT
      assert.equal(s.attributes["db.operation.name"], s.name);
      assert.equal(s.attributes["server.address"], "127.0.0.1");
      assert.equal(s.attributes["server.port"], server.port);
      assert.equal(s.attributes["db.query.text"], undefined);
      assert.equal(s.spanContext().traceId, request.spanContext().traceId);
    }
    const text = JSON.stringify(spans.map((s) => s.attributes));
    assert.ok(!text.includes("user:1"), "a raw key reached a span");
    assert.ok(!text.includes("secret-value"), "a value reached a span");
    // An L1 hit makes no span.
    exporter.reset();
    assert.equal(await cache.get("user:1"), "secret-value");
    assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), []);
    off();
  });

  test("spans: loaderSpans puts an async_cache.loader span between the load and the loader's work", async () => {
    const { exporter, tracerProvider } = providers();
    // As deployed: two instances, each with its own tracking RedisBackend, one namespace, tags, serving options.
    const ns = `s${unique++}`;
    const serving = { staleWhileRevalidate: 60_000, grace: 60_000 };
    const { cache } = instance<string>(ns, server.port, serving);
    const peer = instance<string>(ns, server.port, serving);
    const off = instrument(cache, { tracerProvider, name: "loaders", loaderSpans: true });
    const offPeer = instrument(peer.cache, { tracerProvider, name: "peer", loaderSpans: true });
    const app = tracerProvider.getTracer("app");
    const loader = () =>
      app.startActiveSpan("db.query", async (span) => {
        await new Promise((r) => setTimeout(r, 2));
        span.end();
        return "v";
      });
    await app.startActiveSpan("GET /a", async (request) => {
      await cache.get("a", { loader, tags: ["letters"] });
      request.end();
    });
    await cache.flush();
    const fromPeer = exporter.getFinishedSpans().length;
    const spans = exporter.getFinishedSpans();
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      assert.equal(found.length, 1, `${name}: ${spans.map((s) => s.name).join(",")}`);
      return found[0];
    };
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const [request, load, loaderSpan, db] = [
      "GET /a",
      "async_cache.load",
      "async_cache.loader",
      "db.query",
    ]
      .map(one);
    assert.equal(parentOf(load), request.spanContext().spanId);
    assert.equal(parentOf(loaderSpan), load.spanContext().spanId);
    assert.equal(parentOf(db), loaderSpan.spanContext().spanId);
    assert.equal(loaderSpan.attributes["async_cache.key.hash"], keyHash("a"));
    assert.equal(loaderSpan.attributes["cache.name"], "loaders");
    // The other instance finds it in L2: a load span at tier l2, no loader call, no loader span.
    let peerLoads = 0;
    assert.equal(
      await peer.cache.get("a", { loader: () => `peer ${++peerLoads}`, tags: ["letters"] }),
      "v",
    );
    assert.equal(peerLoads, 0);
    const peerSpans = exporter.getFinishedSpans().slice(fromPeer);
    assert.deepEqual(
      peerSpans.filter((s) => s.name.startsWith("async_cache.")).map((
        s,
      ) => [s.name, s.attributes["async_cache.tier"]]),
      [["async_cache.load", "l2"]],
    );

    // A batch loader's span says how many keys it was asked for; a failing loader marks both spans.
    exporter.reset();
    const batchLoader = (keys: string[]) => new Map(keys.map((k) => [k, k.toUpperCase()]));
    const many = await Promise.all(["b1", "b2", "b3"].map((k) => cache.get(k, { batchLoader })));
    assert.deepEqual(many, ["B1", "B2", "B3"]);
    const batch = exporter.getFinishedSpans().filter((s) => s.name === "async_cache.loader");
    assert.deepEqual(batch.map((s) => s.attributes["async_cache.batch.size"]), [3]);
    exporter.reset();
    await assert.rejects(cache.get("bad", { loader: () => Promise.reject(new RangeError("no")) }));
    const failed = exporter.getFinishedSpans().filter((s) => s.name.startsWith("async_cache."));
    assert.deepEqual(failed.map((s) => [s.name, s.status.code, s.attributes["error.type"]]), [
      ["async_cache.loader", 2, "RangeError"],
      ["async_cache.load", 2, "RangeError"],
    ]);
    assert.throws(
      () => instrument(cache, { tracerProvider, loaderSpans: "yes" as unknown as boolean }),
      InvalidOptionError,
    );
    off();
    offPeer();
  });

  test("spans: L2 tier reached, stale served, a load error; keys only on opt-in; off() stops them", async () => {
    const { exporter, tracerProvider } = providers();
    const ns = `s${unique++}`;
    const writer = instance<string>(ns);
    const { cache } = instance<string>(ns, server.port, { staleWhileRevalidate: 60_000 });
    const off = instrument(cache, { tracerProvider, name: "opt", recordKeys: true });
    await writer.cache.set("k", "from-l2");
    await writer.cache.flush();
    assert.equal(await cache.get("k"), "from-l2");
    const [fromL2] = exporter.getFinishedSpans().filter((s) => s.name === "async_cache.load");
    assert.equal(fromL2.attributes["async_cache.tier"], "l2");
    assert.equal(fromL2.attributes["async_cache.key"], "k");
    const queries = exporter.getFinishedSpans()
      .map((s) => s.attributes["db.query.text"])
      .filter((q) => q !== undefined) as string[];
    assert.ok(queries.some((q) => q.includes(`otel:`) && q.includes(":k")), queries.join(" | "));
    assert.ok(!queries.some((q) => q.includes("from-l2")), "a value reached db.query.text");

    exporter.reset();
    await assert.rejects(cache.get("bad", { loader: () => Promise.reject(new TypeError("nope")) }));
    const failed = exporter.getFinishedSpans().filter((s) => s.name.startsWith("async_cache."));
    assert.deepEqual(failed.map((s) => [s.name, s.status.code]), [["async_cache.load", 2]]);
    assert.equal(failed[0].attributes["error.type"], "TypeError");

    // Stale served: an entry past its TTL within staleWhileRevalidate answers at once.
    await cache.set("s", "old", { ttl: 1 });
    await new Promise((r) => setTimeout(r, 10));
    exporter.reset();
    assert.equal(await cache.get("s", { loader: () => "new" }), "old");
    await waitFor(() => exporter.getFinishedSpans().some((s) => s.name === "async_cache.load"));
    const [refresh] = exporter.getFinishedSpans().filter((s) => s.name === "async_cache.load");
    assert.equal(refresh.attributes["async_cache.background"], true);

    off();
    exporter.reset();
    await cache.get("after-off", { loader: () => "v" });
    assert.deepEqual(exporter.getFinishedSpans(), []);
  });

  test("memoized functions and AgentCache tools are instrumented through their cache", async () => {
    const { reader, meterProvider, exporter, tracerProvider } = providers();
    const backend = new RedisBackend({ host: "127.0.0.1", port: server.port, prefix: "otel:" });
    opened.push(backend);
    const getUser = AsyncTTL({ timeToLive: "60s", remoteCache: backend, name: `memo${unique++}` })(
      async (id: number) => ({ id }),
    );
    const search = AgentCache({ resource: `docs${unique++}`, ttl: "1h", remoteCache: backend })(
      async function search(q: string) {
        return `results for ${q}`;
      },
    );
    opened.push(getUser.cache, { close: () => search.close() });
    const offs = [
      instrument(getUser, { meterProvider, tracerProvider, name: "getUser" }),
      instrument(search, { meterProvider, tracerProvider, name: "search" }),
    ];
    await getUser(1);
    await getUser(1);
    await search("x");
    await search("x");
    const hit = { "async_cache.tier": "l1", "async_cache.result": "hit" };
    assert.equal(
      await value(reader, "async_cache.requests", { "cache.name": "getUser", ...hit }),
      1,
    );
    assert.equal(
      await value(reader, "async_cache.requests", { "cache.name": "search", ...hit }),
      1,
    );
    assert.equal(await value(reader, "async_cache.loads", { "cache.name": "search" }), 1);
    const loads = exporter.getFinishedSpans().filter((s) => s.name === "async_cache.load");
    assert.deepEqual(loads.map((s) => s.attributes["cache.name"]).sort(), ["getUser", "search"]);
    for (const off of offs) off();
    await meterProvider.shutdown();
  });

  test("bad input: a named error, nothing instrumented", () => {
    const cache = new AsyncCache();
    opened.push(cache);
    const { meterProvider } = providers();
    assert.throws(() => instrument(cache, {}), InvalidOptionError);
    assert.throws(() => instrument(cache, { meterProvider, nme: "x" } as never), /nme.*name/s);
    assert.throws(() => instrument(cache, { meterProvider, name: "" }), InvalidOptionError);
    assert.throws(() => instrument(cache, { meterProvider: {} as never }), InvalidOptionError);
    assert.throws(
      () => instrument(cache, { tracerProvider: { getTracer: 1 } as never }),
      InvalidOptionError,
    );
    assert.throws(() => instrument(42, { meterProvider }), TypeError);
    assert.throws(() => instrument(null, { meterProvider }), TypeError);
    assert.equal(cacheInternals(cache).probes.active, undefined);
  });
});
