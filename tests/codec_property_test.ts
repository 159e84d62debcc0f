/**
 * Property tests of the value envelope (fast-check), on every runtime:
 *
 * - arbitrary values (strings with lone surrogates, NaN, -0, ±Infinity,
 *   BigInt, valid and invalid Dates, Map, Set, Uint8Array, plain and
 *   null-prototype objects with `__proto__`/`constructor` keys, arrays with
 *   `undefined`, nested) round-trip exactly, and re-encode to the same bytes;
 * - any corruption of an envelope, and any bytes after a valid header, either
 *   decode or throw a SerializationError, never a bare RangeError/TypeError;
 * - a value holding something the envelope cannot store throws a
 *   SerializationError at encode time.
 *
 * A failure prints fast-check's seed and shrunk counterexample: replay it with
 * `{ seed, path }` in the failing property's options.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeValue } from "../src/codec/decode.ts";
import { encodeValue } from "../src/codec/encode.ts";
import { SerializationError } from "../src/errors.ts";

// ------------------------------------------------------------ exact equality

/**
 * Exact structural equality, stricter than `deepStrictEqual` and identical on
 * every runtime: numbers by `Object.is` (NaN equals NaN, -0 is not 0), Dates
 * by time value (two invalid Dates are equal), exact prototypes (a Uint8Array
 * is not a Buffer), own keys in the same order, Map and Set entries in order.
 */
function same(a: unknown, b: unknown, path = "$"): void {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    assert.ok(Object.is(a, b), `${path}: ${show(a)} !== ${show(b)}`);
    return;
  }
  assert.equal(Object.getPrototypeOf(b), Object.getPrototypeOf(a), `${path}: prototype differs`);
  if (a instanceof Date) {
    assert.ok(Object.is(a.getTime(), (b as Date).getTime()), `${path}: Date differs`);
  } else if (a instanceof Uint8Array) {
    assert.deepStrictEqual(Array.from(b as Uint8Array), Array.from(a), `${path}: bytes differ`);
  } else if (a instanceof Map) {
    const ea = [...a], eb = [...(b as Map<unknown, unknown>)];
    assert.equal(eb.length, ea.length, `${path}: Map size differs`);
    ea.forEach(([k, v], i) => {
      same(k, eb[i][0], `${path}.<key ${i}>`);
      same(v, eb[i][1], `${path}.<value ${i}>`);
    });
  } else if (a instanceof Set) {
    const ea = [...a], eb = [...(b as Set<unknown>)];
    assert.equal(eb.length, ea.length, `${path}: Set size differs`);
    ea.forEach((v, i) => same(v, eb[i], `${path}.<item ${i}>`));
  } else {
    const ka = Reflect.ownKeys(a), kb = Reflect.ownKeys(b);
    assert.deepStrictEqual(kb, ka, `${path}: keys differ`);
    for (const k of ka) {
      same(
        (a as Record<PropertyKey, unknown>)[k],
        (b as Record<PropertyKey, unknown>)[k],
        `${path}[${String(k)}]`,
      );
    }
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ------------------------------------------------------------ values

/** Strings: ASCII, any Unicode, and UTF-16 with lone surrogates. */
const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.array(fc.integer({ min: 0xd7f0, max: 0xe010 }), { maxLength: 6 })
    .map((units) => String.fromCharCode(...units)),
);

/** Object keys, with the ones that matter for prototype pollution. */
const objectKey = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "0", "1") },
);

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  fc.double(), // NaN, -0, ±Infinity included
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 5e-324),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 24 }),
);

/** Builds an object with own properties in order; `__proto__` becomes an own key, not a setter. */
function makeObject(entries: [string, unknown][], nullProto: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = nullProto ? Object.create(null) : {};
  for (const [k, v] of entries) {
    Object.defineProperty(out, k, {
      value: v,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return out;
}

const { value } = fc.letrec<{ value: unknown; inner: unknown; container: unknown }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthIdentifier: "value" }, scalar, tie("container")),
  // Inside containers, undefined is a value too.
  inner: fc.oneof({ weight: 6, arbitrary: tie("value") }, {
    weight: 1,
    arbitrary: fc.constant(undefined),
  }),
  container: fc.oneof(
    fc.array(tie("inner"), { maxLength: 5 }),
    fc.tuple(
      fc.uniqueArray(fc.tuple(objectKey, tie("inner")), {
        maxLength: 5,
        selector: ([k]) => k,
      }),
      fc.boolean(),
    ).map(([entries, nullProto]) => makeObject(entries, nullProto)),
    fc.array(fc.tuple(tie("inner"), tie("inner")), { maxLength: 4 }).map((e) => new Map(e)),
    fc.array(tie("inner"), { maxLength: 5 }).map((items) => new Set(items)),
  ),
}));

describe("envelope round trip", () => {
  test("any value decodes to an exactly equal value, and re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeValue(v);
        const back = decodeValue(bytes);
        same(v, back);
        assert.ok(sameBytes(encodeValue(back), bytes), "re-encoding changed the bytes");
      }),
      { numRuns: 1000 },
    );
  });

  test("undefined at the top level and inside containers", () => {
    fc.assert(
      fc.property(fc.array(fc.option(scalar, { nil: undefined }), { maxLength: 8 }), (items) => {
        same(decodeValue(encodeValue(undefined)), undefined);
        same(decodeValue(encodeValue(items)), items);
        same(decodeValue(encodeValue({ items })), { items });
      }),
      { numRuns: 100 },
    );
  });

  test("decoding never touches Object.prototype", () => {
    fc.assert(
      fc.property(value, (v) => {
        decodeValue(encodeValue(v));
        assert.deepStrictEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_KEYS);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
      }),
      { numRuns: 200 },
    );
  });
});

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

// ------------------------------------------------------------ corruption

type Edit = ["flip" | "set" | "insert" | "delete" | "truncate" | "append", number, number];

const edit: fc.Arbitrary<Edit> = fc.tuple(
  fc.constantFrom("flip", "set", "insert", "delete", "truncate", "append"),
  fc.nat(),
  fc.nat(255),
);

function applyEdits(bytes: Uint8Array, edits: Edit[]): Uint8Array {
  let b = Array.from(bytes);
  for (const [kind, pos, byte] of edits) {
    const at = b.length === 0 ? 0 : pos % b.length;
    if (kind === "flip") b[at] ^= 1 << (byte % 8);
    else if (kind === "set") b[at] = byte;
    else if (kind === "insert") b.splice(at, 0, byte);
    else if (kind === "delete") b.splice(at, 1 + (byte % 8));
    else if (kind === "truncate") b = b.slice(0, at);
    else b.push(byte);
  }
  return new Uint8Array(b);
}

/** Decodes, and fails the property on any error but a SerializationError. */
function decodesOrSerializationError(bytes: Uint8Array): void {
  try {
    decodeValue(bytes);
  } catch (error) {
    assert.ok(
      error instanceof SerializationError && error.name === "SerializationError",
      `expected SerializationError, got ${(error as Error)?.name}: ${(error as Error)?.message}`,
    );
  }
}

/** Any bytes after a valid header: tags and lengths biased towards the envelope's own. */
const body = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 0x12 }), // every tag, and the first unknown one
    fc.integer({ min: 0x80, max: 0xff }), // varint continuation bytes: huge lengths
    fc.nat(255),
  ),
  { maxLength: 64 },
);

describe("corrupt envelopes", () => {
  test("any corruption of a valid envelope decodes or throws SerializationError", () => {
    fc.assert(
      fc.property(value, fc.array(edit, { minLength: 1, maxLength: 4 }), (v, edits) => {
        decodesOrSerializationError(applyEdits(encodeValue(v), edits));
      }),
      { numRuns: 1000 },
    );
  });

  test("any bytes after a valid header decode or throw SerializationError", () => {
    fc.assert(
      fc.property(body, (tail) => {
        decodesOrSerializationError(new Uint8Array([0xac, 0xca, 0x01, ...tail]));
      }),
      { numRuns: 1000 },
    );
  });

  test("arbitrary bytes decode or throw SerializationError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrSerializationError),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------ encode errors

/** Things the envelope cannot hold. */
const poison = fc.constantFrom<[string, () => unknown]>(
  ["a function", () => () => 1],
  ["a symbol", () => Symbol("s")],
  ["a class instance", () => new (class Point {})()],
  ["a RegExp", () => /x/],
  ["an Error", () => new Error("e")],
  ["a WeakMap", () => new WeakMap()],
  ["a Promise", () => Promise.resolve(1)],
  ["an ArrayBuffer", () => new ArrayBuffer(2)],
  ["a Float64Array", () => new Float64Array(1)],
);

describe("values the envelope cannot hold", () => {
  test("a poison anywhere inside a value is a SerializationError at encode time", () => {
    fc.assert(
      fc.property(
        poison,
        fc.array(fc.constantFrom("array", "object", "map value", "map key", "set"), {
          maxLength: 4,
        }),
        ([, make], wrappers) => {
          let v: unknown = make();
          for (const w of wrappers) {
            if (w === "array") v = [1, v];
            else if (w === "object") v = { a: 1, b: v };
            else if (w === "map value") v = new Map([["k", v]]);
            else if (w === "map key") v = new Map([[v, 1]]);
            else v = new Set([v]);
          }
          assert.throws(() => encodeValue(v), (error: unknown) => {
            assert.ok(error instanceof SerializationError, `got ${String(error)}`);
            return true;
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a cycle through any containers is a SerializationError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("array", "object", "map", "set"), { minLength: 1, maxLength: 4 }),
        (kinds) => {
          const root: unknown[] = [];
          let v: unknown = root;
          for (const k of kinds) {
            if (k === "array") v = [v];
            else if (k === "object") v = { v };
            else if (k === "map") v = new Map([["v", v]]);
            else v = new Set([v]);
          }
          root.push(v);
          assert.throws(() => encodeValue(root), SerializationError);
        },
      ),
      { numRuns: 50 },
    );
  });
});
