import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { canonicalKey, normalizeKey } from "../src/cache/keys.ts";
import { SerializationError } from "../src/errors.ts";

const key = (...args: unknown[]): string => canonicalKey(args);

function assertAllDistinct(keys: string[]): void {
  const seen = new Map<string, number>();
  keys.forEach((k, i) => {
    assert.ok(!seen.has(k), `cases ${seen.get(k)} and ${i} share the key ${k}`);
    seen.set(k, i);
  });
}

function throwsSerialization(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SerializationError, `expected SerializationError, got ${error}`);
    assert.match(error.message, message);
    return true;
  });
}

describe("canonicalKey", () => {
  test("exact output for primitives (the format is shared across processes)", () => {
    assert.equal(key(), "");
    assert.equal(key(1), "1");
    assert.equal(key("1"), '"1"');
    assert.equal(key(1.5, -2, 1e21), "1.5,-2,1e+21");
    assert.equal(key(NaN, Infinity, -Infinity), "NaN,Infinity,-Infinity");
    assert.equal(key(0, -0), "0,-0");
    assert.equal(key(10n, -3n), "10n,-3n");
    assert.equal(key(true, false, null, undefined), "true,false,null,undefined");
    assert.equal(key('a"b\\c\r\n'), '"a\\"b\\\\c\\r\\n"');
    assert.equal(key("é😀"), '"é😀"');
  });

  test("exact output for structures", () => {
    assert.equal(key([1, "a", [null]]), '[1,"a",[null]]');
    assert.equal(key({ b: 2, a: { d: 1, c: [] } }), '{"a":{"c":[],"d":1},"b":2}');
    assert.equal(key(new Date(1700000000000)), "Date(1700000000000)");
    assert.equal(key(new Date(NaN)), "Date(NaN)");
    assert.equal(key(new Uint8Array([0, 15, 255])), "Uint8Array(000fff)");
    assert.equal(key(new Map<unknown, unknown>([["b", 1], [2, "x"]])), 'Map{"b":1,2:"x"}');
    assert.equal(key(new Set([3, 1, "2"])), 'Set["2",1,3]');
  });

  test('f(1) and f("1") differ; so do other look-alikes', () => {
    assertAllDistinct([
      key(1),
      key("1"),
      key(1n),
      key("1n"),
      key(true),
      key("true"),
      key(null),
      key("null"),
      key(undefined),
      key("undefined"),
      key(),
      key(""),
      key(NaN),
      key("NaN"),
      key(new Date(1)),
      key("Date(1)"),
      key([1]),
      key("[1]"),
      key(new Set([1])),
      key([1, 1]),
      key(1, 1),
      key([[1, 1]]),
      key({ 1: 1 }),
      key(new Map([[1, 1]])),
      key(new Map([["1", 1]])),
      key(new Uint8Array([1])),
      key([new Uint8Array([1])]),
    ]);
  });

  test("strings with quotes, separators, CRLF and non-ASCII cannot collide", () => {
    assertAllDistinct([
      key("a", "b"),
      key("a,b"),
      key('a","b'),
      key('a\\",\\"b'),
      key(["a", "b"]),
      key('["a","b"]'),
      key({ a: "b" }),
      key('{"a":"b"}'),
      key({ 'a":"b': 1 }),
      key({ a: '":"b' }),
      key("line\r\nbreak"),
      key("line\nbreak"),
      key("line\\nbreak"),
      key("é"),
      key("e\u0301"),
      key("\ud800"),
      key("\ud800\udc00"),
      key("\udc00\ud800"),
      key("\u2028"),
      key("\0"),
      key(""),
      key("", ""),
    ]);
  });

  test("object key order does not matter; values and keys do", () => {
    assert.equal(key({ a: 1, b: 2 }), key({ b: 2, a: 1 }));
    assert.equal(
      key({ x: { p: [1, { z: 1, y: 2 }], q: 0 } }),
      key({ x: { q: 0, p: [1, { y: 2, z: 1 }] } }),
    );
    assert.equal(key({ 10: "a", 9: "b", x: 1 }), key({ x: 1, 9: "b", 10: "a" }));
    assertAllDistinct([key({ a: 1 }), key({ a: 2 }), key({ b: 1 }), key({ a: 1, b: 1 }), key({})]);
  });

  test("undefined properties are kept, so { a: undefined } differs from {}", () => {
    assert.notEqual(key({ a: undefined }), key({}));
    assert.notEqual(key(undefined), key());
  });

  test("null-prototype objects key like plain objects", () => {
    assert.equal(key(Object.assign(Object.create(null), { b: 1, a: 2 })), key({ a: 2, b: 1 }));
  });

  test("arrays keep their order; holes are undefined", () => {
    assert.notEqual(key([1, 2]), key([2, 1]));
    // deno-lint-ignore no-sparse-arrays
    assert.equal(key([1, , 3]), key([1, undefined, 3]));
  });

  test("Map entries and Set items are sorted, so insertion order does not matter", () => {
    assert.equal(
      key(new Map<unknown, unknown>([[{ b: 1 }, "x"], ["a", 1], [3, [2]]])),
      key(new Map<unknown, unknown>([[3, [2]], ["a", 1], [{ b: 1 }, "x"]])),
    );
    assert.equal(key(new Set(["b", 1, [2]])), key(new Set([[2], 1, "b"])));
    assert.notEqual(key(new Map([[1, 2]])), key(new Map([[2, 1]])));
    assert.notEqual(key(new Set([1])), key(new Set([1, 2])));
    // Two equal-looking object keys are both kept, in a deterministic order.
    assert.equal(
      key(new Map([[{}, 1], [{}, 2]])),
      key(new Map([[{}, 2], [{}, 1]])),
    );
  });

  test("Dates, BigInts and bytes by value", () => {
    assert.equal(key(new Date(5)), key(new Date(5)));
    assert.notEqual(key(new Date(5)), key(new Date(6)));
    assert.notEqual(key(2n ** 64n), key(2n ** 64n + 1n));
    assert.equal(key(new Uint8Array([1, 2])), key(new Uint8Array([9, 1, 2]).subarray(1)));
  });

  test("-0 and 0 differ; NaN equals NaN", () => {
    assert.notEqual(key(-0), key(0));
    assert.notEqual(key([-0]), key([0]));
    assert.equal(key(NaN), key(0 / 0));
  });

  test("the same call always gives the same key", () => {
    const make = () => [1, "a", { z: [new Set([2, 1])], y: new Map([["k", 1n]]) }, new Date(9)];
    assert.equal(canonicalKey(make()), canonicalKey(make()));
    assert.equal(
      canonicalKey(make()),
      '1,"a",{"y":Map{"k":1n},"z":[Set[1,2]]},Date(9)',
    );
  });

  test("functions, symbols, class instances and cycles throw SerializationError with a path", () => {
    class Point {
      x = 1;
    }
    throwsSerialization(() => key(() => 1), /function at args\[0\]$/);
    throwsSerialization(
      () => key(1, { user: { fn() {} } }),
      /function \(fn\) at args\[1\]\.user\.fn$/,
    );
    throwsSerialization(() => key(Symbol("s")), /symbol \(Symbol\(s\)\) at args\[0\]$/);
    throwsSerialization(() => key({ [Symbol("k")]: 1 }), /symbol-keyed property/);
    throwsSerialization(() => key([new Point()]), /a Point instance .* at args\[0\]\[0\]$/);
    throwsSerialization(() => key({ "a b": /re/ }), /RegExp instance .* at args\[0\]\["a b"\]$/);
    throwsSerialization(() => key(new Map([[1, new WeakMap()]])), /WeakMap .*<Map value #0>$/);
    throwsSerialization(() => key(new Set([Promise.resolve()])), /Promise .*<Set item #0>$/);
    throwsSerialization(() => key(new Int32Array(1)), /an Int32Array instance/);
    throwsSerialization(() => key(Object.create(Uint8Array.prototype)), /Uint8Array instance/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = { again: cyclic };
    throwsSerialization(() => key(cyclic), /cyclic reference at args\[0\]\.self\.again$/);
    const arr: unknown[] = [];
    arr.push(arr);
    throwsSerialization(() => key(arr), /cyclic reference at args\[0\]\[0\]$/);
  });

  test("shared (non-cyclic) references are fine", () => {
    const shared = { a: 1 };
    assert.equal(key(shared, [shared, shared]), '{"a":1},[{"a":1},{"a":1}]');
  });

  test("deep nesting throws SerializationError, not a stack overflow", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    throwsSerialization(() => key(deep), /nested deeper than 1000/);
  });

  test("a throwing getter becomes a SerializationError with a cause", () => {
    const boom = new Error("boom");
    const value = {
      get x() {
        throw boom;
      },
    };
    assert.throws(() => key(value), (error: unknown) => {
      assert.ok(error instanceof SerializationError);
      assert.match(error.message, /getter threw \(boom\) at args\[0\]\.x$/);
      assert.equal(error.cause, boom);
      return true;
    });
  });
});

describe("normalizeKey", () => {
  test("well-formed strings are returned unchanged, any content (a lone surrogate is refused)", () => {
    for (const s of ["", "user:1", "a b\r\n", "é😀", "\ufffd"]) assert.equal(normalizeKey(s), s);
    assert.throws(() => normalizeKey("\ud800"), { name: "InvalidKeyError" });
  });

  test("finite numbers become their decimal string", () => {
    assert.equal(normalizeKey(1), "1");
    assert.equal(normalizeKey(-7), "-7");
    assert.equal(normalizeKey(1.5), "1.5");
    assert.equal(normalizeKey(-0), "0");
    assert.equal(normalizeKey(Number.MAX_SAFE_INTEGER), "9007199254740991");
    assert.equal(normalizeKey(1), normalizeKey("1"));
  });

  test("non-finite numbers and other types throw a TypeError naming the key", () => {
    assert.throws(() => normalizeKey(NaN), { name: "TypeError", message: /received NaN/ });
    assert.throws(() => normalizeKey(Infinity), {
      name: "TypeError",
      message: /received Infinity/,
    });
    assert.throws(() => normalizeKey(-Infinity), TypeError);
    const bad: unknown[] = [null, undefined, true, 1n, {}, [1], Symbol("s"), () => 1];
    const shown = ["null", "undefined", "true", "1n", "{}", "[1]", "Symbol(s)", "a function"];
    bad.forEach((value, i) => {
      assert.throws(
        () => normalizeKey(value as string),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.ok(
            (error as Error).message.endsWith(`received ${shown[i]}`),
            (error as Error).message,
          );
          return true;
        },
      );
    });
  });
});
