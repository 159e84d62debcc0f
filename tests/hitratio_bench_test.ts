import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nextUses, optimumHits } from "../bench/hitratio/_optimum.ts";
import { decodeVarintTrace, encodeVarintTrace, renumber } from "../bench/hitratio/_varint_trace.ts";
import { parseTrace, readTraceFile } from "../bench/hitratio/_traces.ts";
import { renderChart } from "../bench/hitratio/_chart.ts";
import { chartCapacities } from "../bench/hitratio/_cases.ts";

/** A seeded PRNG (mulberry32), so a failure names a reproducible trace. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The most hits over every policy: on each miss, bypass or admit, and when
 * full, every choice of victim (a hit changes nothing worth choosing).
 */
function bruteForceHits(keys: number[], capacity: number): number {
  const memo = new Map<string, number>();
  const go = (i: number, cached: number[]): number => {
    if (i === keys.length) return 0;
    const id = `${i}:${cached.join(",")}`;
    const known = memo.get(id);
    if (known !== undefined) return known;
    const k = keys[i];
    let best: number;
    if (cached.includes(k)) {
      best = 1 + go(i + 1, cached);
    } else {
      best = go(i + 1, cached); // bypass
      if (cached.length < capacity) {
        best = Math.max(best, go(i + 1, [...cached, k].sort((a, b) => a - b)));
      } else {
        for (const victim of cached) {
          const next = [...cached.filter((c) => c !== victim), k].sort((a, b) => a - b);
          best = Math.max(best, go(i + 1, next));
        }
      }
    }
    memo.set(id, best);
    return best;
  };
  return go(0, []);
}

describe("hit-ratio bench: Belady's optimum with bypass", () => {
  test("equals an exhaustive search on 600 small random traces", () => {
    const rand = prng(17);
    for (let round = 0; round < 600; round++) {
      const n = 1 + Math.floor(rand() * 12);
      const alphabet = 2 + Math.floor(rand() * 5);
      const capacity = 2 + Math.floor(rand() * 2);
      const { keys, distinct } = renumber(
        Array.from({ length: n }, () => Math.floor(rand() * alphabet)),
      );
      const expected = bruteForceHits([...keys], capacity);
      assert.equal(
        optimumHits(keys, distinct, capacity),
        expected,
        `trace ${keys.join(",")} at capacity ${capacity}`,
      );
    }
  });

  test("bypass matters: a one-slot cache keeps the key reused soonest", () => {
    // Admitting every miss (evicting 0 for 1) would hit once; bypassing 1 hits three times.
    const keys = Uint32Array.from([0, 1, 0, 0, 1, 0]);
    assert.equal(optimumHits(keys, 2, 1), 3);
    assert.equal(optimumHits(keys, 2, 0), 0);
  });

  test("nextUses points at the next request for the same key", () => {
    assert.deepEqual([...nextUses([0, 1, 0, 2, 1], 3)], [2, 4, 5, 5, 5]);
  });
});

describe("hit-ratio bench: trace formats", () => {
  test("varint traces round-trip, with multi-byte varints and a dense header", () => {
    const rand = prng(5);
    const raw = Array.from({ length: 40_000 }, () => Math.floor(rand() * 1_000_000) * 7919);
    const { keys, distinct } = renumber(raw);
    const bytes = encodeVarintTrace(keys);
    const back = decodeVarintTrace(bytes);
    assert.equal(back.distinct, distinct);
    assert.deepEqual(back.keys, keys);
    assert.ok(distinct > 128 * 128, "three-byte varints are exercised");
    assert.throws(() => encodeVarintTrace([1]), RangeError);
    assert.throws(() => decodeVarintTrace(bytes.subarray(0, bytes.length - 1)), RangeError);
    assert.throws(() => decodeVarintTrace(Uint8Array.of(1, 2, 3, 4)), RangeError);
  });

  test("a gzipped varint trace is read back from disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hitratio-"));
    try {
      const { keys } = renumber([10, 20, 10, 30, 300_000, 20]);
      const path = join(dir, "t.trace.vgz");
      await writeFile(path, gzipSync(encodeVarintTrace(keys), { level: 9 }));
      const trace = await readTraceFile(path, "varint");
      assert.deepEqual([...trace.keys], [0, 1, 0, 2, 3, 1]);
      assert.equal(trace.distinct, 4);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test("text and int64 traces are renumbered by first appearance", () => {
    const text = new TextEncoder().encode("7\r\n*\n3\n\n7\n12x\n3");
    assert.deepEqual([...parseTrace("text", text).keys], [0, 1, 0, 1]);
    const bytes = new Uint8Array(24);
    const view = new DataView(bytes.buffer);
    view.setBigInt64(0, -5n);
    view.setBigInt64(8, 1n << 40n);
    view.setBigInt64(16, -5n);
    assert.deepEqual([...parseTrace("int64", bytes).keys], [0, 1, 0]);
  });
});

describe("hit-ratio bench: charts", () => {
  test("the SVG has one polyline per series and escapes text", () => {
    const svg = renderChart({
      title: "a <b> & c",
      series: [
        { name: "one", color: "#000", points: [[10, 5], [100, 50], [1000, 90]] },
        { name: "two", color: "#f00", dash: "4 2", points: [[10, 1], [1000, 80]] },
        { name: "three", color: "#00f", points: [[100, 20]] },
      ],
      markers: [{ name: "ref", color: "#0f0", points: [[100, 40]] }],
      highlight: [100],
    });
    assert.ok(svg.startsWith("<svg "));
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.equal(svg.match(/<polyline /g)?.length, 3);
    assert.equal(svg.match(/<svg[ >]/g)?.length, 1);
    assert.ok(svg.includes("a &lt;b&gt; &amp; c"));
    assert.ok(!/NaN|Infinity|undefined/.test(svg), "every coordinate is a number");
    // Every opened element is closed (self-closing or paired), no stray tags.
    const opened = svg.match(/<(?!\/)[a-z]+[^>]*[^/]>/g)?.length ?? 0;
    const closed = svg.match(/<\/[a-z]+>/g)?.length ?? 0;
    assert.equal(opened, closed);
  });

  test("chart capacities span the reference ones, within the distinct keys", () => {
    const caps = chartCapacities([256, 512, 800], 1011, 8);
    for (const c of [256, 512, 800]) assert.ok(caps.includes(c));
    assert.equal(caps[0], 64);
    assert.equal(caps.at(-1), 1011);
    assert.deepEqual(caps, [...new Set(caps)].sort((a, b) => a - b));
  });
});
