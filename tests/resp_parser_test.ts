import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  mapGet,
  parseReplies,
  PushReply,
  type Reply,
  replyToString,
  RespParser,
} from "../src/resp/parser.ts";
import { RedisProtocolError, RedisReplyError } from "../src/errors.ts";

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

/** A comparable, runtime-neutral form of a reply. */
function norm(r: Reply): unknown {
  if (r instanceof Uint8Array) return { bulk: Array.from(r) };
  if (r instanceof RedisReplyError) return { error: r.message, code: r.code };
  if (r instanceof PushReply) return { push: r.data.map(norm) };
  if (r instanceof Map) return { map: [...r].map(([k, v]) => [norm(k), norm(v)]) };
  if (Array.isArray(r)) return r.map(norm);
  if (typeof r === "number" && Number.isNaN(r)) return "NaN";
  return r;
}

/** Feeds `bytes` in the given pieces and returns the normalized replies. */
function feedPieces(pieces: Uint8Array[]): unknown[] {
  const out: Reply[] = [];
  const parser = new RespParser((r) => out.push(r));
  for (const piece of pieces) parser.feed(piece);
  assert.equal(parser.busy, false);
  return out.map(norm);
}

/** Each case: wire text and the expected normalized reply. */
const CASES: [string, unknown][] = [
  ["+OK\r\n", "OK"],
  ["+\r\n", ""],
  ["+héllo wörld, a longer simple string\r\n", "héllo wörld, a longer simple string"],
  ["-ERR unknown command 'FOO'\r\n", { error: "ERR unknown command 'FOO'", code: "ERR" }],
  ["-WRONGTYPE Operation against a key\r\n", {
    error: "WRONGTYPE Operation against a key",
    code: "WRONGTYPE",
  }],
  [":0\r\n", 0],
  [":-42\r\n", -42],
  [":9007199254740991\r\n", 9007199254740991],
  [":9223372036854775807\r\n", 9223372036854775807n],
  [":-9223372036854775808\r\n", -9223372036854775808n],
  ["$5\r\nhello\r\n", { bulk: Array.from(b("hello")) }],
  ["$0\r\n\r\n", { bulk: [] }],
  ["$4\r\n\r\n\r\n\r\n", { bulk: [13, 10, 13, 10] }],
  ["$-1\r\n", null],
  ["*-1\r\n", null],
  ["*0\r\n", []],
  ["*3\r\n:1\r\n$1\r\na\r\n*-1\r\n", [1, { bulk: [97] }, null]],
  ["*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n+x\r\n", [[1, 2], ["x"]]],
  ["_\r\n", null],
  ["#t\r\n", true],
  ["#f\r\n", false],
  [",3.14\r\n", 3.14],
  [",-1e10\r\n", -1e10],
  [",10\r\n", 10],
  [",inf\r\n", Infinity],
  [",-inf\r\n", -Infinity],
  [",nan\r\n", "NaN"],
  [
    "(3492890328409238509324850943850943825024385\r\n",
    3492890328409238509324850943850943825024385n,
  ],
  ["(-5\r\n", -5n],
  ["!21\r\nSYNTAX invalid syntax\r\n", { error: "SYNTAX invalid syntax", code: "SYNTAX" }],
  ["=15\r\ntxt:Some string\r\n", { bulk: Array.from(b("Some string")) }],
  ["=4\r\nmkd:\r\n", { bulk: [] }],
  ["%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#f\r\n", {
    map: [["first", 1], [{ bulk: Array.from(b("second")) }, false]],
  }],
  ["%0\r\n", { map: [] }],
  ["~3\r\n+a\r\n+b\r\n:1\r\n", ["a", "b", 1]],
  [">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n", { push: ["invalidate", [{ bulk: [107] }]] }],
  // An attribute is parsed and dropped; the value that follows is the reply.
  ["|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2\r\n:3\r\n", [2, 3]],
  // ...also inside an aggregate, where it is not an element.
  ["*2\r\n|1\r\n+ttl\r\n:100\r\n:1\r\n:2\r\n", [1, 2]],
  ["*1\r\n-ERR inside\r\n", [{ error: "ERR inside", code: "ERR" }]],
];

describe("RespParser: every type", () => {
  for (const [wire, expected] of CASES) {
    test(JSON.stringify(wire).slice(0, 60), () => {
      assert.deepEqual(feedPieces([b(wire)]), [expected]);
    });
  }
});

describe("RespParser: chunking", () => {
  const all = CASES.map(([w]) => w).join("");
  const allBytes = b(all);
  const expected = CASES.map(([, e]) => e);

  test("many replies in one chunk", () => {
    assert.deepEqual(feedPieces([allBytes]), expected);
  });

  test("split at every byte position, into two chunks", () => {
    for (let i = 1; i < allBytes.length; i++) {
      assert.deepEqual(
        feedPieces([allBytes.subarray(0, i), allBytes.subarray(i)]),
        expected,
        `split at ${i}`,
      );
    }
  });

  test("split at every pair of positions of each reply (three chunks)", () => {
    for (const [wire, exp] of CASES) {
      const bytes = b(wire);
      for (let i = 0; i <= bytes.length; i++) {
        for (let j = i; j <= bytes.length; j++) {
          const got = feedPieces([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
          assert.deepEqual(got, [exp], `${JSON.stringify(wire)} split at ${i},${j}`);
        }
      }
    }
  });

  test("one byte at a time", () => {
    const pieces = Array.from(allBytes, (_, i) => allBytes.subarray(i, i + 1));
    assert.deepEqual(feedPieces(pieces), expected);
  });

  test("the chunk buffer may be reused after feed returns", () => {
    const out: Reply[] = [];
    const parser = new RespParser((r) => out.push(r));
    const buf = new Uint8Array(64);
    const send = (s: string) => {
      const n = enc.encodeInto(s, buf).written;
      parser.feed(buf.subarray(0, n));
      buf.fill(0x58); // scribble over what was fed
    };
    send("$10\r\n01234");
    send("56789\r\n+O");
    send("K\r\n$3\r\nabc\r\n");
    assert.deepEqual(out.map(norm), [{ bulk: Array.from(b("0123456789")) }, "OK", {
      bulk: Array.from(b("abc")),
    }]);
  });

  test("values are plain Uint8Array copies, even from a Buffer-like chunk", () => {
    // Node's Buffer#slice returns a view: the parser must not rely on slice().
    class ViewSlicing extends Uint8Array {
      override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
        return this.subarray(start, end) as Uint8Array<ArrayBuffer>;
      }
    }
    const wire = b("$3\r\nabc\r\n*1\r\n$2\r\nde\r\n");
    const chunk = new ViewSlicing(wire.length);
    chunk.set(wire);
    const out: Reply[] = [];
    new RespParser((r) => out.push(r)).feed(chunk);
    chunk.fill(0);
    const first = out[0] as Uint8Array;
    const inner = (out[1] as Reply[])[0] as Uint8Array;
    assert.equal(first.constructor, Uint8Array);
    assert.equal(inner.constructor, Uint8Array);
    assert.deepEqual([...first, ...inner], [...b("abcde")]);
  });

  test("a large bulk string in many chunks is filled in place, not rescanned", () => {
    const size = 4 * 1024 * 1024;
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = i & 0xff;
    const header = b(`$${size}\r\n`);
    const wire = new Uint8Array(header.length + size + 2);
    wire.set(header);
    wire.set(payload, header.length);
    wire.set([13, 10], header.length + size);
    const out: Reply[] = [];
    const parser = new RespParser((r) => out.push(r));
    const start = performance.now();
    for (let i = 0; i < wire.length; i += 1024) parser.feed(wire.subarray(i, i + 1024));
    const elapsed = performance.now() - start;
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], payload);
    // 4096 chunks: quadratic rescanning would take seconds.
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });

  test("deeply nested but within the limit", () => {
    const depth = 64;
    const wire = "*1\r\n".repeat(depth) + ":7\r\n";
    let expected: unknown = 7;
    for (let i = 0; i < depth; i++) expected = [expected];
    assert.deepEqual(feedPieces([b(wire)]), [expected]);
  });
});

describe("RespParser: malformed input", () => {
  const GARBAGE = [
    "HTTP/1.1 400 Bad Request\r\n",
    "?what\r\n",
    "\r\n",
    "+OK\n",
    "+OK\rX\n",
    ":12a\r\n",
    ":\r\n",
    ":-\r\n",
    ":123456789012345678901\r\n",
    "$abc\r\n",
    "$\r\n",
    "$-2\r\n",
    "$?\r\n",
    "$3\r\nabcXY",
    "$3\r\nabc\rX",
    "*x\r\n",
    "*-2\r\n",
    "%-1\r\n",
    "#x\r\n",
    "#tt\r\n",
    "_x\r\n",
    ",1.2.3\r\n",
    ",\r\n",
    ", 1\r\n",
    "(12x\r\n",
    "=3\r\ntxt\r\n",
    "=5\r\nabcde\r\n",
  ];

  for (const wire of GARBAGE) {
    test(`rejects ${JSON.stringify(wire)}`, () => {
      assert.throws(() => parseReplies(b(wire)), RedisProtocolError);
      // ...whatever the chunking.
      const bytes = b(wire);
      for (let i = 1; i < bytes.length; i++) {
        const parser = new RespParser(() => {});
        assert.throws(
          () => {
            parser.feed(bytes.subarray(0, i));
            parser.feed(bytes.subarray(i));
          },
          RedisProtocolError,
          `split at ${i}`,
        );
      }
    });
  }

  test("an unknown type byte fails at once, without waiting for a line end", () => {
    const parser = new RespParser(() => {});
    assert.throws(() => parser.feed(b("G")), RedisProtocolError);
  });

  test("after an error the parser stays failed", () => {
    const parser = new RespParser(() => {});
    assert.throws(() => parser.feed(b("?\r\n")), RedisProtocolError);
    assert.throws(() => parser.feed(b("+OK\r\n")), RedisProtocolError);
  });

  test("replies before the garbage are delivered", () => {
    const out: Reply[] = [];
    const parser = new RespParser((r) => out.push(r));
    assert.throws(() => parser.feed(b("+OK\r\n:1\r\n@@@")), RedisProtocolError);
    assert.deepEqual(out, ["OK", 1]);
  });

  test("a handler that throws fails the parser", () => {
    const parser = new RespParser(() => {
      throw new Error("boom");
    });
    assert.throws(() => parser.feed(b("+OK\r\n")), /boom/);
    assert.throws(() => parser.feed(b("+OK\r\n")), RedisProtocolError);
  });

  test("parseReplies rejects a truncated reply", () => {
    assert.throws(() => parseReplies(b("*2\r\n:1\r\n")), RedisProtocolError);
    assert.throws(() => parseReplies(b("$5\r\nab")), RedisProtocolError);
  });
});

/** Runs `fn` and records the size of every `new Uint8Array(n)` made meanwhile. */
function meteringAllocations(fn: () => void): { sizes: number[] } {
  const Real = Uint8Array;
  const sizes: number[] = [];
  (globalThis as { Uint8Array: unknown }).Uint8Array = new Proxy(Real, {
    construct(target, args, newTarget) {
      if (typeof args[0] === "number") sizes.push(args[0]);
      return Reflect.construct(target, args, newTarget);
    },
  });
  try {
    fn();
    return { sizes };
  } finally {
    (globalThis as { Uint8Array: unknown }).Uint8Array = Real;
  }
}

describe("RespParser: limits", () => {
  test("bulk length over maxBulkLength, checked before allocating", () => {
    assert.throws(() => parseReplies(b("$11\r\n"), { maxBulkLength: 10 }), RedisProtocolError);
    assert.deepEqual(parseReplies(b("$10\r\n0123456789\r\n"), { maxBulkLength: 10 }).length, 1);
    // The default limit (512 MiB): a hostile 1 TiB header allocates nothing.
    assert.throws(() => parseReplies(b("$1099511627776\r\n")), /maxBulkLength/);
    assert.throws(() => parseReplies(b("!999999999999999999999\r\n")), /maxBulkLength/);
    assert.throws(() => parseReplies(b("=600000000\r\n")), /maxBulkLength/);
  });

  test("a declared bulk length is not allocated up front (a 12-byte header, not 512 MiB)", () => {
    for (const type of ["$", "!", "="]) {
      const { sizes } = meteringAllocations(() => {
        const parser = new RespParser(() => {});
        parser.feed(b(`${type}536870000\r\n`));
        parser.feed(new Uint8Array(1000).fill(120));
      });
      const largest = Math.max(0, ...sizes);
      assert.ok(largest <= 64 * 1024, `${type}: allocated ${largest} bytes for 1000 received`);
    }
  });

  test("a split bulk string grows in proportion to the bytes received", () => {
    const size = 300_000;
    const payload = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    const header = b(`$${size}\r\n`);
    const out: Reply[] = [];
    const parser = new RespParser((r) => out.push(r));
    let received = 0;
    let allocated = 0;
    const feed = (chunk: Uint8Array) => {
      const { sizes } = meteringAllocations(() => parser.feed(chunk));
      received += chunk.length;
      allocated += sizes.reduce((n, s) => n + s, 0);
      // Doubling from 64 KiB: no buffer over twice what arrived, and all of
      // them together (the old ones are garbage) under four times.
      const largest = Math.max(0, ...sizes);
      assert.ok(largest <= Math.max(64 * 1024, 2 * received), `${largest} for ${received}`);
      assert.ok(allocated <= 4 * (received + 64 * 1024), `${allocated} for ${received}`);
    };
    feed(header);
    for (let i = 0; i < size; i += 997) feed(payload.subarray(i, Math.min(size, i + 997)));
    feed(b("\r\n"));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], payload);
    assert.equal((out[0] as Uint8Array).buffer.byteLength, size, "the reply holds no slack");
  });

  test("aggregate length over maxAggregateLength", () => {
    const limits = { maxAggregateLength: 3 };
    assert.equal(parseReplies(b("*3\r\n:1\r\n:2\r\n:3\r\n"), limits).length, 1);
    for (const t of ["*", "~", ">", "%", "|"]) {
      assert.throws(() => parseReplies(b(`${t}4\r\n`), limits), /maxAggregateLength/, t);
    }
    assert.throws(() => parseReplies(b("*1000001\r\n")), /maxAggregateLength/);
    assert.throws(() => parseReplies(b("*99999999999999999999\r\n")), /maxAggregateLength/);
  });

  test("nesting over maxDepth", () => {
    assert.throws(() => parseReplies(b("*1\r\n".repeat(65) + ":1\r\n")), /maxDepth/);
    assert.throws(() => parseReplies(b("*1\r\n*1\r\n*1\r\n:1\r\n"), { maxDepth: 2 }), /maxDepth/);
    assert.throws(() => parseReplies(b("%1\r\n*1\r\n:1\r\n:1\r\n"), { maxDepth: 1 }), /maxDepth/);
    assert.equal(parseReplies(b("*1\r\n*1\r\n:1\r\n"), { maxDepth: 2 }).length, 1);
  });

  test("header line over maxLineLength, in one chunk or many", () => {
    const limits = { maxLineLength: 16 };
    assert.deepEqual(parseReplies(b(`+${"a".repeat(15)}\r\n`), limits), ["a".repeat(15)]);
    assert.throws(() => parseReplies(b(`+${"a".repeat(16)}\r\n`), limits), /maxLineLength/);
    const parser = new RespParser(() => {}, limits);
    parser.feed(b("-ERR "));
    assert.throws(() => parser.feed(b("x".repeat(100))), /maxLineLength/);
    // A line without an end never grows past the limit.
    const p2 = new RespParser(() => {});
    assert.throws(() => {
      for (let i = 0; i < 100; i++) p2.feed(b("+" + "y".repeat(1023)));
    }, /maxLineLength/);
  });

  test("invalid limits are a RangeError", () => {
    assert.throws(() => new RespParser(() => {}, { maxDepth: 0 }), RangeError);
    assert.throws(() => new RespParser(() => {}, { maxBulkLength: 1.5 }), RangeError);
  });
});

describe("reply helpers", () => {
  test("replyToString", () => {
    assert.equal(replyToString(b("héllo")), "héllo");
    assert.equal(replyToString("OK"), "OK");
    assert.equal(replyToString(7), "7");
    assert.equal(replyToString(7n), "7");
    assert.equal(replyToString(null), null);
    assert.throws(() => replyToString([]), TypeError);
  });

  test("mapGet finds bulk and simple string keys", () => {
    const [map] = parseReplies(b("%2\r\n$5\r\nproto\r\n:3\r\n+mode\r\n+standalone\r\n"));
    assert.ok(map instanceof Map);
    assert.equal(mapGet(map, "proto"), 3);
    assert.equal(mapGet(map, "mode"), "standalone");
    assert.equal(mapGet(map, "nope"), undefined);
  });

  test("PushReply.kind", () => {
    assert.equal(new PushReply([b("message"), b("ch")]).kind, "message");
    assert.equal(new PushReply([]).kind, "");
  });
});
