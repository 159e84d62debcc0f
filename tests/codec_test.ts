import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeValue, isEnvelope } from "../src/codec/decode.ts";
import { encodeValue } from "../src/codec/encode.ts";
import { MAX_BIGINT_BYTES, MAX_DEPTH } from "../src/codec/format.ts";
import { SerializationError } from "../src/errors.ts";

const HEADER = [0xac, 0xca, 0x01];

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

function envelope(...body: number[]): Uint8Array {
  return new Uint8Array([...HEADER, ...body]);
}

function roundTrip<T>(value: T): unknown {
  return decodeValue(encodeValue(value));
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

/** Asserts that `fn` throws a SerializationError (and not any other error). */
function throwsSerialization(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SerializationError, `expected SerializationError, got ${error}`);
    assert.equal(error.name, "SerializationError");
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** A small deterministic PRNG, so the fuzz cases are the same on every runtime. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A value using every tag, used for truncation and corruption sweeps. */
function sample(): unknown {
  return {
    s: "héllo 😀",
    long: "x".repeat(50) + "é",
    lone: "a\ud800b",
    n: [0, 1, -1, 300, -70000, 1.5, -0, NaN, Infinity, 2 ** 60],
    b: [true, false, null, undefined],
    big: [0n, 255n, -256n, 2n ** 70n],
    d: [new Date(86_400_000), new Date(NaN)],
    m: new Map<unknown, unknown>([[1, "one"], [{ k: 1 }, [2]]]),
    set: new Set(["a", 2]),
    u8: new Uint8Array([0, 255, 7]),
    nul: Object.assign(Object.create(null), { x: 1 }),
  };
}

describe("encodeValue / decodeValue round trip", () => {
  test("strings", () => {
    for (
      const s of [
        "",
        "a",
        "hello",
        'quote" backslash\\ crlf\r\n nul\0',
        "é",
        "€",
        "😀",
        "mixed é€😀 text",
        "\ufeffleading BOM",
        "x".repeat(42),
        "x".repeat(43),
        "é".repeat(42),
        "é".repeat(43),
        "😀".repeat(100),
        "x".repeat(127),
        "x".repeat(128),
        "y".repeat(100_000),
        "é€😀".repeat(10_000),
      ]
    ) {
      assert.equal(roundTrip(s), s);
    }
  });

  test("strings with lone surrogates round-trip exactly", () => {
    for (
      const s of [
        "\ud800",
        "\udfff",
        "a\ud83d",
        "\ude00b",
        "😀".slice(0, 1) + "x".repeat(100),
        "x".repeat(100) + "\udc00",
        "\ud800".repeat(5000),
      ]
    ) {
      assert.equal(roundTrip(s), s);
    }
  });

  test("numbers, including NaN, ±Infinity and -0", () => {
    for (
      const n of [
        0,
        -0,
        1,
        -1,
        127,
        128,
        255,
        16383,
        16384,
        2 ** 31 - 1,
        2 ** 31,
        -(2 ** 31),
        2 ** 32,
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        2 ** 53,
        -(2 ** 53),
        1.5,
        -1.5,
        0.1,
        Math.PI,
        Number.MIN_VALUE,
        Number.MAX_VALUE,
        Number.EPSILON,
        NaN,
        Infinity,
        -Infinity,
      ]
    ) {
      const back = roundTrip(n);
      assert.ok(Object.is(back, n), `${n} came back as ${back}`);
    }
  });

  test("booleans, null and undefined at top level", () => {
    assert.equal(roundTrip(true), true);
    assert.equal(roundTrip(false), false);
    assert.equal(roundTrip(null), null);
    assert.equal(roundTrip(undefined), undefined);
  });

  test("BigInt of any size and sign", () => {
    for (
      const n of [
        0n,
        1n,
        -1n,
        127n,
        128n,
        255n,
        256n,
        -256n,
        2n ** 64n - 1n,
        -(2n ** 64n),
        2n ** 1000n + 12345n,
        -(3n ** 500n),
      ]
    ) {
      assert.equal(roundTrip(n), n);
    }
  });

  test("Date, including an invalid Date", () => {
    const d = new Date("2024-05-06T07:08:09.123Z");
    const back = roundTrip(d);
    assert.ok(back instanceof Date);
    assert.equal((back as Date).getTime(), d.getTime());
    const invalid = roundTrip(new Date(NaN));
    assert.ok(invalid instanceof Date);
    assert.ok(Number.isNaN((invalid as Date).getTime()));
    assert.equal((roundTrip(new Date(-1e15)) as Date).getTime(), -1e15);
  });

  test("Map with keys of any type, Set", () => {
    const key = { id: 1 };
    const map = new Map<unknown, unknown>([
      ["s", 1],
      [1, "number key"],
      [key, [1, 2]],
      [null, undefined],
      [undefined, null],
      [2n, new Date(0)],
      [new Map([[1, 2]]), new Set([3])],
    ]);
    assert.deepEqual(roundTrip(map), map);
    const set = new Set<unknown>([1, "1", null, undefined, [1], { a: 1 }, 5n]);
    assert.deepEqual(roundTrip(set), set);
    assert.deepEqual(roundTrip(new Map()), new Map());
    assert.deepEqual(roundTrip(new Set()), new Set());
  });

  test("Uint8Array, empty and large, is copied out of the input", () => {
    assert.deepEqual(roundTrip(new Uint8Array()), new Uint8Array());
    const big = new Uint8Array(100_000).map((_, i) => i * 31);
    assert.deepEqual(roundTrip(big), big);
    const view = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
    assert.deepEqual(roundTrip(view), new Uint8Array([8, 7]));
    const encoded = encodeValue(new Uint8Array([1, 2]));
    const decoded = decodeValue(encoded) as Uint8Array;
    encoded[encoded.length - 1] = 99;
    assert.deepEqual(decoded, new Uint8Array([1, 2]));
  });

  test("a Node Buffer decodes as a plain Uint8Array with the same bytes", () => {
    const NodeBuffer = (globalThis as { Buffer?: { from(a: number[]): Uint8Array } }).Buffer;
    if (!NodeBuffer) return;
    const back = roundTrip(NodeBuffer.from([1, 2, 3]));
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
    assert.deepEqual(back, new Uint8Array([1, 2, 3]));
  });

  test("undefined inside arrays and objects is kept", () => {
    const back = roundTrip({ a: undefined, list: [undefined, 1, undefined] }) as Record<
      string,
      unknown
    >;
    assert.ok(Object.hasOwn(back, "a"));
    assert.deepEqual(back, { a: undefined, list: [undefined, 1, undefined] });
  });

  test("sparse arrays come back with holes filled by undefined", () => {
    // deno-lint-ignore no-sparse-arrays
    const back = roundTrip([1, , 3]) as unknown[];
    assert.equal(back.length, 3);
    assert.ok(1 in back);
    assert.equal(back[1], undefined);
    const long = roundTrip(new Array(5)) as unknown[];
    assert.deepEqual(long, [undefined, undefined, undefined, undefined, undefined]);
  });

  test("nested plain objects, arrays and null-prototype objects", () => {
    const value = {
      user: { id: 1, name: "Ann", roles: ["a", "b"], meta: { deep: [[[{ x: [] }]]] } },
      empty: {},
      list: [{}, [], "", 0],
      "key with spaces": 1,
      "": "empty key",
      "😀": "emoji key",
      "\ud800": "lone surrogate key",
      10: "integer-like key",
    };
    assert.deepEqual(roundTrip(value), value);
    const nullProto = Object.assign(Object.create(null), { a: 1, nested: { b: 2 } });
    const back = roundTrip(nullProto);
    assert.equal(Object.getPrototypeOf(back), null);
    assert.deepEqual(back, nullProto);
  });

  test("shared (non-cyclic) references are stored twice", () => {
    const shared = { x: 1 };
    const back = roundTrip({ a: shared, b: shared, list: [shared, shared] }) as {
      a: unknown;
      b: unknown;
    };
    assert.deepEqual(back, { a: { x: 1 }, b: { x: 1 }, list: [{ x: 1 }, { x: 1 }] });
    assert.notEqual(back.a, back.b);
  });

  test("the sample value with every tag", () => {
    const expected = sample() as { d: unknown[] };
    const back = roundTrip(expected) as { d: unknown[] };
    // Node 20's deepEqual says two invalid Dates differ, so compare that one by hand.
    assert.ok(back.d[1] instanceof Date && Number.isNaN(back.d[1].getTime()));
    back.d[1] = expected.d[1] = null;
    assert.deepEqual(back, expected);
  });

  test(`nesting up to ${MAX_DEPTH} levels round-trips`, () => {
    let value: unknown = "leaf";
    for (let i = 0; i < MAX_DEPTH; i++) value = i % 2 ? [value] : { v: value };
    assert.deepEqual(roundTrip(value), value);
  });

  test("each call returns its own buffer; a big value does not disturb the next", () => {
    const a = encodeValue("first");
    const big = encodeValue("z".repeat(3_000_000));
    const b = encodeValue("second");
    assert.equal(decodeValue(a), "first");
    assert.equal(decodeValue(b), "second");
    assert.equal((decodeValue(big) as string).length, 3_000_000);
    assert.notEqual(a.buffer, b.buffer);
  });

  test("a getter that calls encodeValue does not corrupt the outer encoding", () => {
    const value = {
      before: "x".repeat(10),
      get inner() {
        return decodeValue(encodeValue({ nested: "y".repeat(20) }));
      },
      after: [1, 2, 3],
    };
    assert.deepEqual(roundTrip(value), {
      before: "x".repeat(10),
      inner: { nested: "y".repeat(20) },
      after: [1, 2, 3],
    });
  });

  test("a fuzzed set of random values round-trips", () => {
    const rand = prng(42);
    const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)];
    const gen = (depth: number): unknown => {
      const kind = Math.floor(rand() * (depth > 3 ? 8 : 12));
      switch (kind) {
        case 0:
          return Math.floor(rand() * 2 ** 40) - 2 ** 39;
        case 1:
          return rand() * 1e6;
        case 2:
          return pick(["", "a", "é", "😀", "\ud800", "long".repeat(20), "k\r\n\"'"]);
        case 3:
          return pick([true, false, null, undefined, NaN, -0, Infinity]);
        case 4:
          return BigInt(Math.floor(rand() * 1e9)) * pick([1n, -1n, 2n ** 64n]);
        case 5:
          return new Date(Math.floor(rand() * 1e12));
        case 6:
          return new Uint8Array(Math.floor(rand() * 5)).map(() => rand() * 256);
        case 7:
          return "s" + Math.floor(rand() * 100);
        case 8:
          return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1));
        case 9: {
          const o: Record<string, unknown> = {};
          for (let i = rand() * 4; i > 0; i--) {
            Object.defineProperty(o, pick(["a", "b", "__proto__", "é"]), {
              value: gen(depth + 1),
              writable: true,
              enumerable: true,
              configurable: true,
            });
          }
          return o;
        }
        case 10:
          return new Map(Array.from({ length: 3 }, () => [gen(depth + 1), gen(depth + 1)]));
        default:
          return new Set(Array.from({ length: 3 }, () => gen(depth + 1)));
      }
    };
    for (let i = 0; i < 500; i++) {
      const value = gen(0);
      assert.deepEqual(roundTrip(value), value);
    }
  });
});

describe("golden bytes (identical on every runtime)", () => {
  const cases: Array<[string, unknown, number[]]> = [
    ["undefined", undefined, [0x00]],
    ["null", null, [0x01]],
    ["false", false, [0x02]],
    ["true", true, [0x03]],
    ["0", 0, [0x04, 0x00]],
    ["300", 300, [0x04, 0xac, 0x02]],
    ["-1", -1, [0x05, 0x01]],
    ["MAX_SAFE_INTEGER", Number.MAX_SAFE_INTEGER, [
      0x04,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x0f,
    ]],
    ["1.5", 1.5, [0x06, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]],
    ["-0", -0, [0x06, 0x80, 0, 0, 0, 0, 0, 0, 0]],
    ["NaN", NaN, [0x06, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]],
    ["-Infinity", -Infinity, [0x06, 0xff, 0xf0, 0, 0, 0, 0, 0, 0]],
    ["2 ** 53", 2 ** 53, [0x06, 0x43, 0x40, 0, 0, 0, 0, 0, 0]],
    ['""', "", [0x07, 0x00]],
    ['"hi"', "hi", [0x07, 0x02, 0x68, 0x69]],
    ['"é€😀"', "é€😀", [0x07, 0x09, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]],
    ["lone surrogate", "a\ud800", [0x08, 0x02, 0x61, 0x00, 0x00, 0xd8]],
    ["0n", 0n, [0x09, 0x00]],
    ["10n", 10n, [0x09, 0x01, 0x0a]],
    ["-256n", -256n, [0x0a, 0x02, 0x01, 0x00]],
    ["Date(0)", new Date(0), [0x0b, 0, 0, 0, 0, 0, 0, 0, 0]],
    ["invalid Date", new Date(NaN), [0x0b, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]],
    ['[1, "a"]', [1, "a"], [0x0c, 0x02, 0x04, 0x01, 0x07, 0x01, 0x61]],
    ["{ a: 1 }", { a: 1 }, [0x0d, 0x01, 0x07, 0x01, 0x61, 0x04, 0x01]],
    ["null-proto { a: null }", Object.assign(Object.create(null), { a: null }), [
      0x0e,
      0x01,
      0x07,
      0x01,
      0x61,
      0x01,
    ]],
    ["Map { 1 => 2 }", new Map([[1, 2]]), [0x0f, 0x01, 0x04, 0x01, 0x04, 0x02]],
    ['Set { "x" }', new Set(["x"]), [0x10, 0x01, 0x07, 0x01, 0x78]],
    ["Uint8Array [1, 2]", new Uint8Array([1, 2]), [0x11, 0x02, 0x01, 0x02]],
  ];
  for (const [name, value, body] of cases) {
    test(name, () => {
      const encoded = encodeValue(value);
      assert.equal(hex(encoded), hex(envelope(...body)));
      const back = decodeValue(encoded);
      if (typeof value === "number") assert.ok(Object.is(back, value));
      else if (value instanceof Date) {
        assert.ok(Object.is((back as Date).getTime(), value.getTime()));
      } else assert.deepEqual(back, value);
    });
  }

  test("a nested value", () => {
    const value = { id: 7, tags: ["a", "b"], at: new Date(1000), ok: true, n: undefined };
    assert.equal(
      hex(encodeValue(value)),
      "ac ca 01 0d 05" +
        " 07 02 69 64 04 07" + // "id": 7
        " 07 04 74 61 67 73 0c 02 07 01 61 07 01 62" + // "tags": ["a", "b"]
        " 07 02 61 74 0b 40 8f 40 00 00 00 00 00" + // "at": Date(1000)
        " 07 02 6f 6b 03" + // "ok": true
        " 07 01 6e 00", // "n": undefined
    );
  });

  test("a long string uses a two-byte length", () => {
    const encoded = encodeValue("x".repeat(200));
    assert.equal(hex(encoded.subarray(0, 7)), "ac ca 01 07 c8 01 78");
    assert.equal(encoded.length, 3 + 1 + 2 + 200);
  });
});

describe("prototype pollution", () => {
  test("a crafted __proto__ key is an own property and Object.prototype is untouched", () => {
    // { "__proto__": { "polluted": true } }
    const crafted = envelope(
      0x0d,
      0x01,
      0x07,
      0x09,
      ...new TextEncoder().encode("__proto__"),
      0x0d,
      0x01,
      0x07,
      0x08,
      ...new TextEncoder().encode("polluted"),
      0x03,
    );
    const value = decodeValue(crafted) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal((value as Record<string, unknown>).polluted, undefined);
    assert.ok(Object.hasOwn(value, "__proto__"));
    assert.deepEqual(Object.getOwnPropertyDescriptor(value, "__proto__")?.value, {
      polluted: true,
    });
  });

  test("__proto__, constructor and prototype keys round-trip as plain data", () => {
    const value = JSON.parse(
      '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"prototype":{"polluted":3}}',
    );
    const back = roundTrip(value) as Record<string, unknown>;
    assert.deepEqual(Object.keys(back), ["__proto__", "constructor", "prototype"]);
    assert.deepEqual(back, value);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((Object.prototype as unknown as Record<string, unknown>).polluted, undefined);
    const nested = roundTrip([{ a: value }, new Map([["k", value]])]);
    assert.deepEqual(nested, [{ a: value }, new Map([["k", value]])]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("a __proto__ key in a null-prototype object stays an own property", () => {
    const value = Object.create(null);
    value["__proto__"] = { polluted: true };
    const back = roundTrip(value) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(back), null);
    assert.ok(Object.hasOwn(back, "__proto__"));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe("encoding errors", () => {
  class Point {
    constructor(public x = 1) {}
  }
  class MyArray extends Array {}
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["a function", () => ({ user: { fn() {} } }), /function \(fn\) at \$\.user\.fn$/],
    ["an anonymous arrow", () => [1, () => 1], /function.* at \$\[1\]$/],
    ["a symbol value", () => ({ s: Symbol("tag") }), /symbol \(Symbol\(tag\)\) at \$\.s$/],
    ["a symbol key", () => ({ [Symbol("k")]: 1 }), /symbol-keyed property .* at \$$/],
    ["a class instance", () => ({ "a b": new Point() }), /Point instance.* at \$\["a b"\]$/],
    ["a WeakMap", () => new Map([["k", new WeakMap()]]), /WeakMap instance.* at \$<Map value #0>$/],
    ["a Promise", () => ({ p: Promise.resolve(1) }), /Promise \(await it first\) at \$\.p$/],
    ["a Map key", () => new Map([[Symbol.iterator, 1]]), /symbol.* at \$<Map key #0>$/],
    ["a Set item", () => new Set([1, () => 2]), /function.* at \$<Set item #1>$/],
    ["an Int32Array", () => ({ a: new Int32Array(2) }), /an Int32Array \(only Uint8Array/],
    ["an ArrayBuffer", () => new ArrayBuffer(4), /an ArrayBuffer \(only Uint8Array/],
    ["a DataView", () => new DataView(new ArrayBuffer(4)), /a DataView/],
    ["a Uint8ClampedArray", () => new Uint8ClampedArray(1), /Uint8ClampedArray/],
    ["a RegExp", () => /x/, /RegExp instance/],
    ["an Error", () => new Error("x"), /Error instance/],
    ["a boxed string", () => new String("x"), /String instance/],
    ["an Array subclass", () => MyArray.from([1]), /Array subclass/],
    [
      "a custom prototype",
      () => Object.create({ inherited: 1 }),
      /Object instance|custom prototype/,
    ],
  ];
  for (const [name, make, message] of cases) {
    test(name, () => throwsSerialization(() => encodeValue(make()), message));
  }

  test("a top-level function or symbol", () => {
    throwsSerialization(() => encodeValue(() => 1), /at \$$/);
    throwsSerialization(() => encodeValue(Symbol("x")), /symbol/);
  });

  test("cyclic references in objects, arrays, Maps and Sets", () => {
    const obj: Record<string, unknown> = { a: { b: {} } };
    (obj.a as Record<string, Record<string, unknown>>).b.back = obj;
    throwsSerialization(() => encodeValue(obj), /cyclic reference at \$\.a\.b\.back$/);
    const arr: unknown[] = [1];
    arr.push(arr);
    throwsSerialization(() => encodeValue(arr), /cyclic reference at \$\[1\]$/);
    const map = new Map<unknown, unknown>();
    map.set("self", map);
    throwsSerialization(() => encodeValue(map), /cyclic reference at \$<Map value #0>$/);
    const set = new Set<unknown>();
    set.add(set);
    throwsSerialization(() => encodeValue({ s: set }), /cyclic reference at \$\.s<Set item #0>$/);
  });

  test("nesting deeper than MAX_DEPTH, even 100000 deep, without a stack overflow", () => {
    let value: unknown = 1;
    for (let i = 0; i <= MAX_DEPTH; i++) value = [value];
    throwsSerialization(() => encodeValue(value), /nested deeper than 1000/);
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    throwsSerialization(() => encodeValue(deep), /nested deeper/);
  });

  test("a getter that throws becomes a SerializationError with a cause", () => {
    const boom = new Error("boom");
    const value = {
      get bad() {
        throw boom;
      },
    };
    assert.throws(() => encodeValue({ x: value }), (error: unknown) => {
      assert.ok(error instanceof SerializationError);
      assert.match(error.message, /getter threw \(boom\) at \$\.x\.bad$/);
      assert.equal(error.cause, boom);
      return true;
    });
  });

  test("objects that fake a built-in prototype are rejected, not crashed on", () => {
    const fakes: Array<[string, unknown]> = [
      ["Uint8Array", Object.create(Uint8Array.prototype)],
      ["Uint8Array instance as prototype", Object.create(new Uint8Array(2))],
      ["Date", Object.create(Date.prototype)],
      ["Map", Object.create(Map.prototype)],
      ["Set", Object.create(Set.prototype)],
    ];
    for (const [name, fake] of fakes) {
      assert.throws(() => encodeValue(fake), SerializationError, name);
      assert.throws(() => encodeValue({ nested: [fake] }), SerializationError, name);
    }
  });

  test("after an error the next encoding is clean", () => {
    throwsSerialization(() => encodeValue({ a: "x".repeat(100), b: [1, 2, () => 3] }));
    assert.equal(hex(encodeValue(5)), "ac ca 01 04 05");
  });
});

describe("BigInt size bound (issue 9 item 10)", () => {
  /** An envelope holding a positive BigInt whose magnitude is `len` bytes (first byte non-zero). */
  function bigEnvelope(len: number): Uint8Array {
    const varint: number[] = [];
    for (let n = len;; n = Math.floor(n / 128)) {
      if (n < 128) {
        varint.push(n);
        break;
      }
      varint.push((n % 128) | 0x80);
    }
    const out = new Uint8Array(HEADER.length + 1 + varint.length + len).fill(0xa5);
    out.set([...HEADER, 0x09, ...varint]);
    return out;
  }

  test(`a BigInt of MAX_BIGINT_BYTES (${MAX_BIGINT_BYTES}) round-trips without blocking the loop`, () => {
    const n = (1n << BigInt(MAX_BIGINT_BYTES * 8 - 1)) + 987654321n;
    let start = performance.now();
    const encoded = encodeValue(n);
    const encodeMs = performance.now() - start;
    start = performance.now();
    assert.equal(decodeValue(encoded), n);
    const decodeMs = performance.now() - start;
    assert.equal(decodeValue(encodeValue(-n)), -n);
    // Linear-time paths take a few ms here; generous bounds for a loaded machine.
    assert.ok(encodeMs < 250 && decodeMs < 250, `encode ${encodeMs} ms, decode ${decodeMs} ms`);
  });

  test("an 8 MiB BigInt entry is refused with SerializationError, quickly", () => {
    const hostile = bigEnvelope(8 * 1024 * 1024);
    const start = performance.now();
    assert.throws(
      () => decodeValue(hostile),
      (e: unknown) => e instanceof SerializationError && /BigInt/.test(e.message),
    );
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 50, `took ${elapsed} ms`);
    assert.throws(() => decodeValue(bigEnvelope(MAX_BIGINT_BYTES + 1)), SerializationError);
    assert.equal(typeof decodeValue(bigEnvelope(MAX_BIGINT_BYTES)), "bigint");
  });

  test("encoding a BigInt over the bound throws SerializationError at set time", () => {
    const tooBig = 1n << BigInt(MAX_BIGINT_BYTES * 8);
    assert.throws(
      () => encodeValue({ n: tooBig }),
      (e: unknown) =>
        e instanceof SerializationError && /BigInt/.test(e.message) && /\$\.n/.test(e.message),
    );
    assert.throws(() => encodeValue(-tooBig), SerializationError);
    // The shared buffer is clean afterwards.
    assert.equal(decodeValue(encodeValue(5n)), 5n);
  });
});

describe("decoding errors", () => {
  test("truncation at every byte position throws SerializationError", () => {
    const encoded = encodeValue(sample());
    assert.ok(encoded.length > 200);
    for (let i = 0; i < encoded.length; i++) {
      throwsSerialization(() => decodeValue(encoded.subarray(0, i)));
      throwsSerialization(() => decodeValue(encoded.slice(0, i)));
    }
  });

  test("every single-byte corruption decodes or throws SerializationError, never anything else", () => {
    const encoded = encodeValue(sample());
    for (let i = 0; i < encoded.length; i++) {
      for (const b of [0x00, 0x07, 0x0c, 0x7f, 0x80, 0xff, encoded[i] ^ 0x01]) {
        const corrupted = encoded.slice();
        corrupted[i] = b;
        try {
          decodeValue(corrupted);
        } catch (error) {
          assert.ok(error instanceof SerializationError, `byte ${i} = ${b}: ${error}`);
        }
      }
    }
  });

  test("random garbage after a valid header throws SerializationError or decodes", () => {
    const rand = prng(7);
    for (let i = 0; i < 3000; i++) {
      const body = Array.from({ length: 1 + Math.floor(rand() * 40) }, () =>
        // Bias towards valid tags so the decoder gets deep into the bytes.
        rand() < 0.5 ? Math.floor(rand() * 0x12) : Math.floor(rand() * 256));
      try {
        decodeValue(envelope(...body));
      } catch (error) {
        assert.ok(error instanceof SerializationError, `${body}: ${error}`);
      }
    }
  });

  test("wrong magic, foreign data, empty input", () => {
    throwsSerialization(() => decodeValue(new Uint8Array()), /too short/);
    throwsSerialization(() => decodeValue(bytes(0xac)), /too short/);
    throwsSerialization(() => decodeValue(bytes(0xac, 0xca, 0x01)), /too short/);
    throwsSerialization(() => decodeValue(bytes(0xca, 0xac, 0x01, 0x01)), /not an async-cache/);
    throwsSerialization(
      () => decodeValue(new TextEncoder().encode('{"json":true}')),
      /not an async-cache envelope \(starts with 0x7b22/,
    );
  });

  test("a future version", () => {
    throwsSerialization(
      () => decodeValue(bytes(0xac, 0xca, 0x02, 0x01)),
      /version 2 is not supported/,
    );
    throwsSerialization(() => decodeValue(bytes(0xac, 0xca, 0x00, 0x01)), /version 0/);
  });

  test("not a Uint8Array", () => {
    throwsSerialization(() => decodeValue("abc" as unknown as Uint8Array), /expected a Uint8Array/);
    throwsSerialization(() => decodeValue(null as unknown as Uint8Array), /received null/);
  });

  test("trailing bytes, unknown tags, non-string keys, non-canonical numbers", () => {
    throwsSerialization(() => decodeValue(envelope(0x01, 0x01)), /trailing/);
    throwsSerialization(() => decodeValue(envelope(0x12)), /unknown tag 0x12/);
    throwsSerialization(() => decodeValue(envelope(0xff)), /unknown tag 0xff/);
    throwsSerialization(
      () => decodeValue(envelope(0x0d, 0x01, 0x04, 0x01, 0x01)),
      /key is not a string/,
    );
    throwsSerialization(() => decodeValue(envelope(0x04, 0x80, 0x00)), /non-minimal/);
    throwsSerialization(() => decodeValue(envelope(0x05, 0x00)), /negative zero/);
    throwsSerialization(() => decodeValue(envelope(0x0a, 0x00)), /negative zero BigInt/);
    throwsSerialization(() => decodeValue(envelope(0x09, 0x02, 0x00, 0x01)), /non-minimal BigInt/);
    throwsSerialization(
      () => decodeValue(envelope(0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10)),
      /out of range/,
    );
    throwsSerialization(
      () => decodeValue(envelope(0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)),
      /out of range/,
    );
  });

  test("invalid UTF-8 in a string", () => {
    throwsSerialization(() => decodeValue(envelope(0x07, 0x01, 0xff)), /invalid UTF-8/);
    throwsSerialization(() => decodeValue(envelope(0x07, 0x02, 0xc3, 0x28)), /invalid UTF-8/);
    // An encoded lone surrogate (ED A0 80) is not UTF-8 either.
    throwsSerialization(() => decodeValue(envelope(0x07, 0x03, 0xed, 0xa0, 0x80)), /invalid UTF-8/);
    const long = new Uint8Array(200).fill(0x61);
    long[150] = 0x80;
    throwsSerialization(() => decodeValue(envelope(0x07, 0xc8, 0x01, ...long)), /invalid UTF-8/);
  });

  test("a forged huge length fails fast without allocating", () => {
    const huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]; // 2^53 - 1
    const fourGiB = [0x80, 0x80, 0x80, 0x80, 0x10];
    for (const tag of [0x07, 0x08, 0x09, 0x0c, 0x0d, 0x0f, 0x10, 0x11]) {
      throwsSerialization(() => decodeValue(envelope(tag, ...huge, 0x01, 0x01)), /exceeds/);
      throwsSerialization(() => decodeValue(envelope(tag, ...fourGiB, 0x01)), /exceeds/);
    }
    // An array claiming 1000 items with 999 bytes left.
    throwsSerialization(
      () => decodeValue(envelope(0x0c, 0xe8, 0x07, ...new Array(999).fill(0x01))),
      /exceeds/,
    );
    // An array claiming 1000 items with 1000 one-byte items left is fine.
    assert.equal(
      (decodeValue(envelope(0x0c, 0xe8, 0x07, ...new Array(1000).fill(0x01))) as unknown[]).length,
      1000,
    );
  });

  test("nesting deeper than MAX_DEPTH, even 100000 deep", () => {
    const ok = envelope(...new Array(MAX_DEPTH).fill([0x0c, 0x01]).flat(), 0x01);
    let value = decodeValue(ok);
    for (let i = 0; i < MAX_DEPTH; i++) value = (value as unknown[])[0];
    assert.equal(value, null);
    const tooDeep = envelope(...new Array(MAX_DEPTH + 1).fill([0x0c, 0x01]).flat(), 0x01);
    throwsSerialization(() => decodeValue(tooDeep), /nested deeper than 1000/);
    const body = new Uint8Array(3 + 200_000);
    body.set(HEADER);
    for (let i = 3; i < body.length; i += 2) {
      body[i] = 0x0f; // Map of one entry whose key is the next Map
      body[i + 1] = 0x01;
    }
    throwsSerialization(() => decodeValue(body), /nested deeper/);
  });
});

describe("isEnvelope", () => {
  test("recognises the header only", () => {
    assert.equal(isEnvelope(encodeValue(null)), true);
    assert.equal(isEnvelope(bytes(0xac, 0xca, 0x09, 0x00)), true);
    assert.equal(isEnvelope(bytes(0xac, 0xca, 0x01)), false);
    assert.equal(isEnvelope(new TextEncoder().encode("plain text")), false);
    assert.equal(isEnvelope("acca" as unknown as Uint8Array), false);
  });
});
