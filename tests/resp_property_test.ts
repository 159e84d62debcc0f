/**
 * Property tests of the RESP layer (fast-check), on every runtime:
 *
 * - any chunking of a valid RESP2/RESP3 stream parses to the same replies;
 * - random or corrupted bytes make the parser return or throw a
 *   RedisProtocolError, nothing else, and never allocate past its limits;
 * - a RedisClient whose server answers with random bytes settles every command
 *   (a value, or a RedisError) within its socket timeout, with no unhandled
 *   rejection.
 *
 * Runs are bounded (numRuns, sizes) so the file takes a few seconds. A failure
 * prints fast-check's seed and shrunk counterexample: replay it with
 * `{ seed, path }` in the failing property's options.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import {
  parseReplies,
  type ParserLimits,
  PushReply,
  type Reply,
  RespParser,
} from "../src/resp/parser.ts";
import { RedisClient } from "../src/resp/client.ts";
import { RedisError, RedisProtocolError, RedisReplyError } from "../src/errors.ts";
import { FakeRedis, NO_REPLY } from "../src/testing/fake_redis.ts";

const enc = new TextEncoder();
const lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A comparable, runtime-neutral form of a reply (NaN and -0 survive `deepStrictEqual`). */
function norm(r: Reply): unknown {
  if (r instanceof Uint8Array) return { bulk: Array.from(r) };
  if (r instanceof RedisReplyError) return { error: r.message, code: r.code };
  if (r instanceof PushReply) return { push: r.data.map(norm) };
  if (r instanceof Map) return { map: [...r].map(([k, v]) => [norm(k), norm(v)]) };
  if (Array.isArray(r)) return r.map(norm);
  return r;
}

// ------------------------------------------------------------ valid streams

/** A generated reply: its wire bytes and the value the parser must produce. */
interface Wire {
  bytes: Uint8Array;
  value: Reply;
}

const line = (s: string): Uint8Array => enc.encode(`${s}\r\n`);
const CRLF = enc.encode("\r\n");

/** Text for simple strings and errors: any Unicode, without CR or LF. */
const lineText = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
).map((s) => s.replace(/[\r\n]/g, ""));

const bulkBytes = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  // Either side of the parser's small-payload (arena) threshold, 4096 bytes.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 4090, maxLength: 4100 }) },
  // CR and LF inside a payload are data.
  {
    weight: 2,
    arbitrary: fc.array(fc.constantFrom(13, 10, 36, 42), { maxLength: 8 }).map((a) =>
      new Uint8Array(a)
    ),
  },
);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function doubleText(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  return Object.is(n, -0) ? "-0" : String(n);
}

const leaf: fc.Arbitrary<Wire> = fc.oneof(
  lineText.map((s) => ({ bytes: line(`+${s}`), value: s })),
  lineText.map((s) => ({ bytes: line(`-${s}`), value: new RedisReplyError(s) })),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map((n) => ({
    bytes: line(`:${n}`),
    value: n >= -SAFE && n <= SAFE ? Number(n) : n,
  })),
  bulkBytes.map((b) => ({ bytes: concat([line(`$${b.length}`), b, CRLF]), value: b })),
  fc.constantFrom("$-1", "*-1", "_").map((s) => ({ bytes: line(s), value: null })),
  fc.boolean().map((b) => ({ bytes: line(b ? "#t" : "#f"), value: b })),
  fc.double().map((n) => ({ bytes: line(`,${doubleText(n)}`), value: n })),
  fc.bigInt().map((n) => ({ bytes: line(`(${n}`), value: n })),
  fc.uint8Array({ maxLength: 30 }).map((b) => ({
    bytes: concat([line(`!${b.length}`), b, CRLF]),
    value: new RedisReplyError(lossy.decode(b)),
  })),
  fc.tuple(fc.constantFrom("txt", "mkd"), bulkBytes).map(([fmt, b]) => ({
    bytes: concat([line(`=${b.length + 4}`), enc.encode(`${fmt}:`), b, CRLF]),
    value: b,
  })),
);

const { reply } = fc.letrec<{ reply: Wire; aggregate: Wire; attributed: Wire }>((tie) => ({
  reply: fc.oneof(
    { maxDepth: 4, depthIdentifier: "resp" },
    { weight: 3, arbitrary: leaf },
    tie("aggregate"),
    tie("attributed"),
  ),
  aggregate: fc.oneof(
    fc.tuple(fc.constantFrom("*", "~", ">"), fc.array(tie("reply"), { maxLength: 5 })).map(
      ([type, items]) => ({
        bytes: concat([line(`${type}${items.length}`), ...items.map((i) => i.bytes)]),
        value: type === ">" ? new PushReply(items.map((i) => i.value)) : items.map((i) => i.value),
      }),
    ),
    fc.array(fc.tuple(tie("reply"), tie("reply")), { maxLength: 4 }).map((pairs) => {
      // Built with the parser's own semantics: equal primitive keys collapse.
      const map = new Map<Reply, Reply>();
      for (const [k, v] of pairs) map.set(k.value, v.value);
      return {
        bytes: concat([line(`%${pairs.length}`), ...pairs.flatMap(([k, v]) => [k.bytes, v.bytes])]),
        value: map,
      };
    }),
  ),
  // An attribute (`|`) annotates the value after it and is dropped.
  attributed: fc.tuple(fc.array(fc.tuple(leaf, leaf), { minLength: 1, maxLength: 2 }), tie("reply"))
    .map(([pairs, inner]) => ({
      bytes: concat([
        line(`|${pairs.length}`),
        ...pairs.flatMap(([k, v]) => [k.bytes, v.bytes]),
        inner.bytes,
      ]),
      value: inner.value,
    })),
}));

/** A stream of replies, as one buffer, with the expected normalized replies. */
const stream = fc.array(reply, { minLength: 1, maxLength: 6 }).map((replies) => ({
  bytes: concat(replies.map((r) => r.bytes)),
  expected: replies.map((r) => norm(r.value)),
}));

/** Cut positions (taken modulo the stream length), or byte-by-byte. */
const cuts = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.nat(), { maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant("every byte" as const) },
);

function pieces(bytes: Uint8Array, how: number[] | "every byte"): Uint8Array[] {
  const at = how === "every byte"
    ? Array.from(bytes, (_, i) => i)
    : [...new Set(how.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    if (to > from) out.push(bytes.subarray(from, to));
    from = to;
  }
  return out;
}

/**
 * Feeds each piece through a scratch buffer that is scribbled over after each
 * `feed`, as a transport that reuses its read buffer would: a reply that kept
 * a view of a chunk instead of a copy would change.
 */
function feedReusing(pieces: Uint8Array[], limits?: ParserLimits): Reply[] {
  const out: Reply[] = [];
  const parser = new RespParser((r) => out.push(r), limits);
  const max = Math.max(0, ...pieces.map((p) => p.length));
  const scratch = new Uint8Array(max + 7);
  for (const p of pieces) {
    // At an odd offset: the parser must honour byteOffset.
    const view = scratch.subarray(7, 7 + p.length);
    view.set(p);
    parser.feed(view);
    scratch.fill(0x5a);
  }
  assert.equal(parser.busy, false, "the parser is mid-reply after a whole stream");
  return out;
}

describe("RESP parser properties", () => {
  test("any chunking of a valid RESP2/RESP3 stream parses to the same replies", () => {
    fc.assert(
      fc.property(stream, cuts, ({ bytes, expected }, how) => {
        assert.deepStrictEqual(parseReplies(bytes).map(norm), expected);
        assert.deepStrictEqual(feedReusing(pieces(bytes, how)).map(norm), expected);
      }),
      { numRuns: 300 },
    );
  });

  test("many small bulk strings across several chunk arenas (MGET-like), any chunking", () => {
    const mget = fc.array(fc.uint8Array({ minLength: 500, maxLength: 4096 }), {
      minLength: 20,
      maxLength: 40,
    });
    fc.assert(
      fc.property(mget, fc.array(fc.nat(), { maxLength: 4 }), (values, how) => {
        const bytes = concat([
          line(`*${values.length}`),
          ...values.flatMap((v) => [line(`$${v.length}`), v, CRLF]),
        ]);
        const got = feedReusing(pieces(bytes, how));
        assert.deepStrictEqual(got.map(norm), [values.map((v) => norm(v))]);
      }),
      { numRuns: 25 },
    );
  });
});

// ------------------------------------------------------------ hostile bytes

/** Random bytes, biased towards RESP-looking input so the parser gets past the first byte. */
const respish = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 8 }),
    fc.constantFrom(..."+-:$*_#,(!=%~|>\r\n0123456789".split("")).map((c) => enc.encode(c)),
    fc.constantFrom("$-1\r\n", "*1\r\n", "%1\r\n", "|1\r\n", ">2\r\n", "$5\r\n", "*99999999\r\n")
      .map((s) => enc.encode(s)),
    fc.oneof(fc.integer({ min: -3, max: 64 }), fc.integer({ min: -3, max: 1 << 30 }))
      .map((n) => enc.encode(`$${n}\r\n`)),
  ),
  { maxLength: 30 },
).map(concat);

/** A valid stream with one or more corruptions. */
const corrupted = fc.tuple(
  stream,
  fc.array(
    fc.tuple(fc.constantFrom("flip", "set", "insert", "delete", "truncate"), fc.nat(), fc.nat(255)),
    { minLength: 1, maxLength: 4 },
  ),
).map(([{ bytes }, edits]) => {
  let b = Array.from(bytes);
  for (const [kind, pos, byte] of edits) {
    const at = b.length === 0 ? 0 : pos % b.length;
    if (kind === "flip") b[at] ^= 1 << (byte % 8);
    else if (kind === "set") b[at] = byte;
    else if (kind === "insert") b.splice(at, 0, byte);
    else if (kind === "delete") b.splice(at, 1 + (byte % 4));
    else b = b.slice(0, at);
  }
  return new Uint8Array(b);
});

const hostile = fc.oneof(fc.uint8Array({ maxLength: 200 }), respish, corrupted);

const smallLimits: fc.Arbitrary<Required<ParserLimits>> = fc.record({
  maxBulkLength: fc.integer({ min: 1, max: 64 }),
  maxAggregateLength: fc.integer({ min: 1, max: 8 }),
  maxDepth: fc.integer({ min: 1, max: 4 }),
  maxLineLength: fc.integer({ min: 1, max: 48 }),
});

/**
 * Runs `fn` with `globalThis.Uint8Array` replaced by a counting proxy: every
 * `new Uint8Array(n)` made meanwhile (the parser's own buffers) is recorded.
 * Views (`new Uint8Array(buffer, ...)`) and `slice` (the copies of bytes
 * actually received) are not allocations the server can inflate.
 */
function meteringAllocations<T>(fn: () => T): { result: T; sizes: number[] } {
  const Real = Uint8Array;
  const sizes: number[] = [];
  const Meter = new Proxy(Real, {
    construct(target, args, newTarget) {
      if (typeof args[0] === "number") sizes.push(args[0]);
      return Reflect.construct(target, args, newTarget);
    },
  });
  (globalThis as { Uint8Array: unknown }).Uint8Array = Meter;
  try {
    return { result: fn(), sizes };
  } finally {
    (globalThis as { Uint8Array: unknown }).Uint8Array = Real;
  }
}

/** Depth of aggregate nesting of a reply (a scalar is 0). */
function depth(r: Reply): number {
  const items = Array.isArray(r)
    ? r
    : r instanceof PushReply
    ? r.data
    : r instanceof Map
    ? [...r].flat()
    : undefined;
  return items === undefined ? 0 : 1 + Math.max(0, ...items.map(depth));
}

/** Checks every bound of `limits` on a reply the parser returned. */
function withinLimits(r: Reply, limits: Required<ParserLimits>): void {
  if (r instanceof Uint8Array) assert.ok(r.length <= limits.maxBulkLength, "bulk over the limit");
  // Each byte of a line decodes to at most one UTF-16 unit (invalid bytes to U+FFFD).
  if (typeof r === "string") assert.ok(r.length <= limits.maxLineLength, "line over the limit");
  const items = Array.isArray(r) ? r : r instanceof PushReply ? r.data : undefined;
  if (items) {
    assert.ok(items.length <= limits.maxAggregateLength, "aggregate over the limit");
    items.forEach((i) => withinLimits(i, limits));
  }
  if (r instanceof Map) {
    assert.ok(r.size <= limits.maxAggregateLength, "map over the limit");
    for (const [k, v] of r) {
      withinLimits(k, limits);
      withinLimits(v, limits);
    }
  }
}

describe("RESP parser on hostile bytes", () => {
  test("random and corrupted bytes, any chunking: replies or RedisProtocolError, nothing else", () => {
    fc.assert(
      fc.property(hostile, cuts, (bytes, how) => {
        const out: Reply[] = [];
        const parser = new RespParser((r) => out.push(r));
        let failure: unknown;
        for (const piece of pieces(bytes, how)) {
          try {
            parser.feed(piece);
          } catch (error) {
            failure = error;
            break;
          }
        }
        if (failure === undefined) return;
        assert.ok(
          failure instanceof RedisProtocolError,
          `expected RedisProtocolError, got ${String(failure)}`,
        );
        // Once failed, the stream stays failed, with the same error.
        assert.throws(() => parser.feed(enc.encode("+OK\r\n")), (e) => e === failure);
      }),
      { numRuns: 1500 },
    );
  });

  test("parseReplies on arbitrary bytes returns or throws RedisProtocolError", () => {
    fc.assert(
      fc.property(hostile, (bytes) => {
        try {
          parseReplies(bytes);
        } catch (error) {
          assert.ok(error instanceof RedisProtocolError, `got ${String(error)}`);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("within ParserLimits: no reply and no allocation goes past a limit", () => {
    fc.assert(
      fc.property(fc.oneof(hostile, stream.map((s) => s.bytes)), cuts, smallLimits, (
        bytes,
        how,
        limits,
      ) => {
        const out: Reply[] = [];
        const { sizes } = meteringAllocations(() => {
          const parser = new RespParser((r) => out.push(r), limits);
          for (const piece of pieces(bytes, how)) {
            try {
              parser.feed(piece);
            } catch (error) {
              assert.ok(error instanceof RedisProtocolError, `got ${String(error)}`);
              return;
            }
          }
        });
        const bound = Math.max(limits.maxBulkLength, limits.maxLineLength + 2);
        for (const n of sizes) assert.ok(n <= bound, `allocated ${n} bytes, limits allow ${bound}`);
        for (const r of out) {
          withinLimits(r, limits);
          assert.ok(depth(r) <= limits.maxDepth, "nested past maxDepth");
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("a header declaring more than maxBulkLength or maxAggregateLength allocates nothing for it", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("$", "!", "=", "*", "%", "~", ">", "|"),
        fc.integer({ min: 1025, max: Number.MAX_SAFE_INTEGER }),
        (type, n) => {
          const limits = { maxBulkLength: 1024, maxAggregateLength: 1024 };
          const { sizes, result } = meteringAllocations(() => {
            try {
              parseReplies(enc.encode(`${type}${n}\r\nabc`), limits);
              return undefined;
            } catch (error) {
              return error;
            }
          });
          assert.ok(result instanceof RedisProtocolError, `got ${String(result)}`);
          assert.ok(sizes.every((s) => s <= 1024), `allocated ${Math.max(...sizes)} bytes`);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("RESP parser allocation", () => {
  const BULK_START = 64 * 1024;
  test("a declared bulk length costs nothing until the bytes arrive (default limits)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("$", "!", "="),
        fc.integer({ min: 1, max: 512 * 1024 * 1024 }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 8 }),
        (type, declared, wanted, chunkSizes) => {
          const received = Math.min(wanted, declared);
          const header = enc.encode(`${type}${declared}\r\n`);
          const parser = new RespParser(() => {});
          const body = new Uint8Array(received).fill(0x61);
          let fed = 0;
          const { sizes } = meteringAllocations(() => {
            parser.feed(header);
            fed = header.length;
            for (let at = 0, i = 0; at < body.length; i++) {
              const piece = body.subarray(at, at + chunkSizes[i % chunkSizes.length]);
              parser.feed(piece);
              at += piece.length;
              fed += piece.length;
            }
          });
          const largest = Math.max(0, ...sizes);
          const total = sizes.reduce((a, b) => a + b, 0);
          assert.ok(
            largest <= BULK_START + 2 * fed,
            `fed ${fed} bytes, one allocation of ${largest}`,
          );
          assert.ok(total <= 2 * BULK_START + 4 * fed, `fed ${fed} bytes, allocated ${total}`);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ------------------------------------------------------------ the client

const SOCKET_TIMEOUT_MS = 80;
/** Slack for timers on a loaded machine (two cores shared by many test runs). */
const SLACK_MS = 1000;

describe("RedisClient over the fake transport, random reply bytes", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  before(() => void process.on("unhandledRejection", onUnhandled));
  after(() => void process.off("unhandledRejection", onUnhandled));

  /** Garbage for one reply, and how it is delivered. */
  const replyBytes = fc.tuple(
    fc.oneof(hostile, stream.map((s) => s.bytes)),
    fc.array(fc.nat(), { maxLength: 6 }),
    fc.constantFrom("then close", "then reset", "then nothing"),
  );

  /** Settles `p` and says how, within `ms` (or "hung"). */
  async function settle(p: Promise<unknown>, ms: number) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<{ hung: true }>((r) => {
      timer = setTimeout(() => r({ hung: true }), ms);
    });
    const outcome = await Promise.race([
      p.then((value) => ({ value }), (error: unknown) => ({ error })),
      hung,
    ]);
    clearTimeout(timer);
    return outcome;
  }

  test("a command answered with random bytes settles within socketTimeoutMs, with a RedisError or a value", async () => {
    await fc.assert(
      fc.asyncProperty(replyBytes, async ([bytes, how, ending]) => {
        const fake = new FakeRedis();
        fake.onCommand((args, command) => {
          if (args[0] !== "GET") return undefined;
          command.conn.send(bytes, { split: how.map((n) => n % (bytes.length + 1)) });
          if (ending === "then close") command.conn.end();
          if (ending === "then reset") command.conn.reset();
          return NO_REPLY;
        });
        const client = new RedisClient({
          connect: fake.connect,
          socketTimeoutMs: SOCKET_TIMEOUT_MS,
          connectTimeoutMs: 1000,
        });
        try {
          await client.connect();
          const started = performance.now();
          const outcome = await settle(client.command(["GET", "k"]), SOCKET_TIMEOUT_MS + SLACK_MS);
          const elapsed = performance.now() - started;
          assert.ok(!("hung" in outcome), "the command never settled");
          assert.ok(elapsed <= SOCKET_TIMEOUT_MS + SLACK_MS, `settled after ${elapsed} ms`);
          if ("error" in outcome) {
            assert.ok(outcome.error instanceof RedisError, `got ${String(outcome.error)}`);
          }
        } finally {
          await client.close();
          await fake.close();
        }
      }),
      { numRuns: 60 },
    );
    assert.deepStrictEqual(unhandled, []);
  });

  test("random bytes for the handshake: the first command settles with a RedisError or a value", async () => {
    await fc.assert(
      fc.asyncProperty(replyBytes, async ([bytes, how, ending]) => {
        const fake = new FakeRedis();
        fake.onCommand((args, command) => {
          // Only the first connection's handshake gets garbage; reconnects are healthy.
          if (args[0] !== "HELLO" || command.conn.id !== 1) return undefined;
          command.conn.send(bytes, { split: how.map((n) => n % (bytes.length + 1)) });
          if (ending === "then close") command.conn.end();
          if (ending === "then reset") command.conn.reset();
          return NO_REPLY;
        });
        const client = new RedisClient({
          connect: fake.connect,
          socketTimeoutMs: SOCKET_TIMEOUT_MS,
          connectTimeoutMs: SOCKET_TIMEOUT_MS,
        });
        try {
          const started = performance.now();
          const outcome = await settle(client.command(["PING"]), SOCKET_TIMEOUT_MS + SLACK_MS);
          const elapsed = performance.now() - started;
          assert.ok(!("hung" in outcome), "the command never settled");
          assert.ok(elapsed <= SOCKET_TIMEOUT_MS + SLACK_MS, `settled after ${elapsed} ms`);
          if ("error" in outcome) {
            assert.ok(outcome.error instanceof RedisError, `got ${String(outcome.error)}`);
          }
        } finally {
          await client.close();
          await fake.close();
        }
      }),
      { numRuns: 40 },
    );
    assert.deepStrictEqual(unhandled, []);
  });
});
