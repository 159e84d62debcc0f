/**
 * Issue 18: the Prometheus text `prometheusText` writes (names, escaping,
 * cumulative buckets, one name per cache), a scripted Redis failure seen
 * by every instrument (FakeRedis: an error reply), and docs/OBSERVABILITY.md
 * naming every metric the code reports.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { AsyncCache, AsyncLRU, RedisBackend } from "../mod.ts";
import { FakeRedis, resp } from "../src/testing/mod.ts";
import { instrument, METRICS, prometheusText } from "../src/otel/mod.ts";
import { keyHash } from "../src/otel/_key_hash.ts";
import { prometheusName } from "../src/otel/_prometheus_format.ts";
import { Registry } from "../src/otel/_registry.ts";
import { renderText } from "../src/otel/_prometheus_format.ts";
import { RecordingLogger, repoRoot } from "./_helpers.ts";

class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Parses exposition text into `name{labels} value` samples, checking every line's shape. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line);
    if (help) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (type) {
      assert.ok(!typed.has(type[1]), `TYPE twice for ${type[1]}`);
      typed.add(type[1]);
      continue;
    }
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/
        .exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    out.set(m[1] + (m[2] ?? ""), m[3] === "+Inf" ? Infinity : Number(m[3]));
  }
  return out;
}

describe("issue 18: Prometheus text, scripted failures, docs", () => {
  test("names as OpenTelemetry's Prometheus exporter writes them", () => {
    assert.equal(
      prometheusName("async_cache.requests", "{request}", "counter"),
      "async_cache_requests_total",
    );
    assert.equal(
      prometheusName("async_cache.load.duration", "s", "histogram"),
      "async_cache_load_duration_seconds",
    );
    assert.equal(prometheusName("async_cache.l1.size", "By", "gauge"), "async_cache_l1_size_bytes");
    assert.equal(
      prometheusName("async_cache.l1.entry.count", "{entry}", "gauge"),
      "async_cache_l1_entry_count",
    );
  });

  test("histograms are cumulative with +Inf, _sum and _count; label values are escaped", () => {
    const r = new Registry();
    const h = r.createHistogram("x.duration", {
      unit: "s",
      description: "a\\b\nc",
      advice: { explicitBucketBoundaries: [0.1, 1] },
    });
    for (const v of [0.05, 0.1, 0.5, 2]) h.record(v, { "cache.name": 'q"u\\o\nte' });
    const text = renderText(r, () => true);
    assert.ok(text.includes("# HELP x_duration_seconds a\\\\b\\nc\n"), text);
    const s = samples(text);
    const l = 'cache_name="q\\"u\\\\o\\nte"';
    assert.equal(s.get(`x_duration_seconds_bucket{${l},le="0.1"}`), 2);
    assert.equal(s.get(`x_duration_seconds_bucket{${l},le="1"}`), 3);
    assert.equal(s.get(`x_duration_seconds_bucket{${l},le="+Inf"}`), 4);
    assert.equal(s.get(`x_duration_seconds_count{${l}}`), 4);
    assert.equal(s.get(`x_duration_seconds_sum{${l}}`), 2.65);
  });

  test("several caches by name, in one text; a name re-bound to another cache follows it", async () => {
    const a = new AsyncCache<string>();
    const b = AsyncLRU({ maxsize: 10 })((id: number) => `user ${id}`);
    const c = new AsyncCache<string>();
    await a.get("x", { loader: () => "1" });
    await a.get("x");
    await b(1);
    let s = samples(prometheusText({ fmtA: a, fmtB: b }));
    const hit = (name: string) =>
      `async_cache_requests_total{async_cache_result="hit",async_cache_tier="l1",cache_name="${name}"}`;
    assert.equal(s.get(hit("fmtA")), 1);
    assert.equal(s.get(hit("fmtB")), 0);
    assert.equal(s.get(`async_cache_loads_total{cache_name="fmtB"}`), 1);
    assert.equal(s.get(`async_cache_l1_entry_count{cache_name="fmtA"}`), 1);
    // Only the caches asked for are in the text.
    assert.ok(![...samples(prometheusText({ fmtB: b })).keys()].some((k) => k.includes("fmtA")));
    // fmtA now names another cache: its figures, not the old one's.
    s = samples(prometheusText({ fmtA: c }));
    assert.equal(s.get(hit("fmtA")), 0);
    assert.throws(() => prometheusText({ bad: 42 }), TypeError);
    await a.close();
    await b.cache.close();
    await c.close();
  });

  test("a Redis error reply (scripted): the span fails, the command histogram and L2 errors say reply", async () => {
    const fake = new FakeRedis();
    const stop = fake.onCommand((args) =>
      args[0] === "SET"
        ? resp.error("OOM command not allowed when used memory > 'maxmemory'")
        : undefined
    );
    const backend = new RedisBackend({
      transport: fake.connect,
      prefix: "f:",
      logger: new RecordingLogger(),
    });
    const cache = new AsyncCache<string>({ remoteCache: backend, logger: new RecordingLogger() });
    const reader = new PullReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const off = instrument(cache, { meterProvider, tracerProvider, name: "oom" });
    assert.equal(await cache.get("k", { loader: () => "v" }), "v"); // served; the L2 write is refused
    await cache.flush();
    const set = exporter.getFinishedSpans().find((s) => s.name === "SET");
    assert.ok(set, exporter.getFinishedSpans().map((s) => s.name).join(","));
    assert.equal(set.status.code, 2);
    assert.equal(set.attributes["error.type"], "RedisReplyError");
    const { resourceMetrics } = await reader.collect();
    const metric = (name: string) =>
      resourceMetrics.scopeMetrics.flatMap((m) => m.metrics).find((m) =>
        m.descriptor.name === name
      )!;
    const failed = metric("async_cache.l2.command.duration").dataPoints.find((p) =>
      p.attributes["db.operation.name"] === "SET" &&
      p.attributes["error.type"] === "RedisReplyError"
    );
    assert.ok(failed);
    const reply = metric("async_cache.l2.errors").dataPoints.find((p) =>
      p.attributes["error.type"] === "reply"
    );
    assert.equal(reply?.value, 1);
    off();
    stop();
    await cache.close();
    await backend.close();
    await fake.close();
    await meterProvider.shutdown();
  });

  test("docs/OBSERVABILITY.md names every metric, its unit and its Prometheus name", () => {
    const doc = readFileSync(`${repoRoot()}/docs/OBSERVABILITY.md`, "utf8");
    for (const m of Object.values(METRICS)) {
      const row = doc.split("\n").find((line) => /^\| `([^`]+)` +\|/.exec(line)?.[1] === m.name);
      assert.ok(row, `${m.name} is not in the metric table`);
      assert.ok(row.includes(`\`${m.unit}\``), `${m.name}: unit ${m.unit}`);
      assert.ok(
        row.includes(`\`${prometheusName(m.name, m.unit, m.kind)}\``),
        `${m.name}: Prometheus name`,
      );
    }
  });

  test("the key hash is 64-bit FNV-1a, the same in every runtime", () => {
    assert.equal(keyHash(""), "cbf29ce484222325");
    assert.equal(keyHash("a"), "af63dc4c8601ec8c");
    assert.equal(keyHash("foobar"), "85944171f73967e8");
    assert.equal(keyHash("user:42"), "6c151ea4dcd221c2");
  });
});
