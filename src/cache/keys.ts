/**
 * Cache keys: the canonical string for a memoized call's arguments, and the
 * normaliser for keys passed to the cache directly.
 *
 * The canonical form is a small JSON-like grammar in which every token is
 * self-delimiting, so no two different argument lists share a key:
 *
 * | value           | token                                                   |
 * | --------------- | ------------------------------------------------------- |
 * | string          | `JSON.stringify(s)`: `"1"`, `"a\"b"`, `"\r\n"`          |
 * | number          | `String(n)`: `1`, `1.5`, `NaN`, `-Infinity`; `-0` is `-0` |
 * | BigInt          | `12n`, `-3n`                                            |
 * | boolean, null   | `true`, `false`, `null`                                 |
 * | undefined       | `undefined` (also for array holes)                      |
 * | Date            | `Date(1700000000000)`, invalid: `Date(NaN)`             |
 * | Uint8Array      | `Uint8Array(00ff10)` (lowercase hex)                    |
 * | array           | `[a,b]` in order                                        |
 * | plain object    | `{"a":1,"b":2}`, keys sorted by UTF-16 code units       |
 * | Map             | `Map{k:v,...}`, entries sorted as strings               |
 * | Set             | `Set[a,...]`, items sorted as strings                   |
 *
 * The arguments are joined with `,`, so `canonicalKey([1, "a"])` is `1,"a"`.
 * The output depends only on the values, never on the runtime or on
 * insertion order, so it can name shared Redis entries.
 *
 * @module
 */

import { describe, InvalidKeyError, SerializationError } from "../errors.ts";

const MAX_DEPTH = 1000;
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));
/** A brand check: `instanceof` alone accepts any object that inherits from Uint8Array.prototype. */
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get!;

/**
 * Builds the canonical cache key of a call's arguments: deterministic across
 * calls, processes and runtimes.
 *
 * - `f(1)` and `f("1")` differ (strings are quoted); `f()` and `f(undefined)` differ.
 * - Object keys are sorted: `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` are the same key;
 *   a property set to `undefined` is kept, so `{ a: undefined }` differs from `{}`.
 * - Arrays keep their order; Map entries and Set items are sorted by their
 *   canonical form, so insertion order does not matter.
 * - `-0` and `0` differ (`Object.is` semantics: `1 / x` tells them apart), `NaN`
 *   equals `NaN`.
 * - Null-prototype objects are keyed like plain objects; a Node `Buffer` like a
 *   Uint8Array with the same bytes.
 *
 * @param args The arguments of the call.
 * @returns The canonical key.
 * @throws {SerializationError} For a function, a symbol (value or enumerable
 * key), a class instance other than Date, Map, Set and Uint8Array, a cyclic
 * reference, or nesting deeper than 1000 levels. The message gives the path,
 * e.g. `args[0].user.fn`.
 *
 * @example Argument order inside objects does not matter, types do
 * ```ts
 * import { canonicalKey } from "@async-cache/cache";
 * import { assertEquals, assertNotEquals } from "@std/assert";
 *
 * assertEquals(canonicalKey([{ a: 1, b: 2 }]), canonicalKey([{ b: 2, a: 1 }]));
 * assertNotEquals(canonicalKey([1]), canonicalKey(["1"]));
 * assertEquals(canonicalKey([7, "x", [true, null]]), '7,"x",[true,null]');
 * ```
 */
export function canonicalKey(args: readonly unknown[]): string {
  const n = args.length;
  if (n === 1) {
    // The common memoized call: one primitive argument.
    const a = args[0];
    if (typeof a === "string") return JSON.stringify(a);
    if (typeof a === "number") return numberToken(a);
  }
  const stack: object[] = [];
  let out = "";
  for (let i = 0; i < n; i++) {
    if (i > 0) out += ",";
    try {
      out += token(args[i], stack);
    } catch (error) {
      throw toError(error, `args[${i}]`);
    }
  }
  return out;
}

/**
 * Normalises a key given to the cache: a string is itself, a number is its
 * decimal string as Redis would store it (`1` → `"1"`, `1.5` → `"1.5"`, `-0` →
 * `"0"`; very large or small numbers use JavaScript's exponent form, `1e+21`).
 *
 * @param key A string or a finite number.
 * @returns The string key.
 * @throws {InvalidKeyError} For a string that is not well-formed UTF-16 (a
 * lone surrogate): such keys would collide in Redis.
 * @throws {TypeError} For a non-finite number or any other type; the message
 * shows the key received.
 *
 * @example Numbers and strings name the same entry
 * ```ts
 * import { normalizeKey } from "@async-cache/cache";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(normalizeKey(1), "1");
 * assertEquals(normalizeKey("user:1"), "user:1");
 * assertThrows(() => normalizeKey(NaN), TypeError);
 * ```
 */
export function normalizeKey(key: string | number): string {
  if (typeof key === "string") {
    // Native and linear (no allocation) on Node 20+, Deno and Bun; the regex is a fallback.
    if (isWellFormed(key)) return key;
    throw new InvalidKeyError(
      `Invalid cache key: must be well-formed UTF-16 (it holds a lone surrogate, which Redis would store as U+FFFD): received ${
        JSON.stringify(key).slice(0, 200)
      }`,
    );
  }
  if (typeof key === "number") {
    if (Number.isFinite(key)) return String(key);
    throw new TypeError(`Invalid cache key: a number key must be finite: received ${key}`);
  }
  throw new TypeError(
    `Invalid cache key: must be a string or a finite number: received ${
      typeof key === "symbol" ? String(key) : describe(key)
    }`,
  );
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NATIVE_WELL_FORMED = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed ===
  "function";

/**
 * Tells whether a string key is well-formed UTF-16 (no lone surrogate), the
 * check {@linkcode normalizeKey} applies; for hot paths that skip `normalizeKey`
 * for string keys.
 */
export function isWellFormed(s: string): boolean {
  return NATIVE_WELL_FORMED
    ? (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : !LONE_SURROGATE.test(s);
}

/** A failure on its way up; each container adds its path segment. */
class KeyFailure {
  readonly path: string[] = [];
  constructor(readonly what: string, readonly cause?: unknown) {}
}

function toError(error: unknown, root: string): SerializationError {
  const failure = error instanceof KeyFailure
    ? error
    : new KeyFailure(`a value whose getter threw (${safeMessage(error)})`, error);
  const path = root + failure.path.reverse().join("");
  return new SerializationError(
    `Cannot make a cache key from ${failure.what} at ${path}`,
    failure.cause === undefined ? undefined : { cause: failure.cause },
  );
}

function addSegment(error: unknown, segment: string): KeyFailure {
  const failure = error instanceof KeyFailure
    ? error
    : new KeyFailure(`a value whose getter threw (${safeMessage(error)})`, error);
  failure.path.push(segment);
  return failure;
}

function safeMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unprintable error";
  }
}

function numberToken(n: number): string {
  return n === 0 && 1 / n < 0 ? "-0" : String(n);
}

function token(v: unknown, stack: object[]): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return numberToken(v);
    case "boolean":
      return v ? "true" : "false";
    case "undefined":
      return "undefined";
    case "bigint":
      return `${v}n`;
    case "object":
      return v === null ? "null" : objectToken(v, stack);
    case "function":
      throw new KeyFailure(v.name ? `a function (${v.name})` : "a function");
    case "symbol":
      throw new KeyFailure(`a symbol (${v.toString()})`);
    default:
      throw new KeyFailure(`a value of type ${typeof v}`);
  }
}

function objectToken(v: object, stack: object[]): string {
  if (v instanceof Uint8Array && typedArrayTag.call(v) === "Uint8Array") {
    let hex = "";
    for (let i = 0; i < v.length; i++) hex += HEX[v[i]];
    return `Uint8Array(${hex})`;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Date.prototype) return `Date(${Date.prototype.getTime.call(v)})`;
  if (stack.length >= MAX_DEPTH) {
    throw new KeyFailure(`a value nested deeper than ${MAX_DEPTH} levels`);
  }
  if (stack.indexOf(v) !== -1) throw new KeyFailure("a cyclic reference");
  stack.push(v);
  let out: string;
  if (proto === Object.prototype || proto === null) {
    out = plainObjectToken(v as Record<string, unknown>, stack);
  } else if (Array.isArray(v) && (proto === Array.prototype || !(v instanceof Array))) {
    out = arrayToken(v, stack);
  } else if (proto === Map.prototype) {
    out = mapToken(v as Map<unknown, unknown>, stack);
  } else if (proto === Set.prototype) {
    out = setToken(v as Set<unknown>, stack);
  } else {
    throw new KeyFailure(
      `${describeInstance(proto)} (only plain objects, arrays, Date, Map, Set and Uint8Array)`,
    );
  }
  stack.pop();
  return out;
}

function arrayToken(v: readonly unknown[], stack: object[]): string {
  let out = "[";
  let i = 0;
  try {
    for (; i < v.length; i++) {
      if (i > 0) out += ",";
      out += token(v[i], stack);
    }
  } catch (error) {
    throw addSegment(error, `[${i}]`);
  }
  return out + "]";
}

function plainObjectToken(v: Record<string, unknown>, stack: object[]): string {
  for (const symbol of Object.getOwnPropertySymbols(v)) {
    if (Object.prototype.propertyIsEnumerable.call(v, symbol)) {
      throw new KeyFailure(`a symbol-keyed property (${symbol.toString()})`);
    }
  }
  const keys = Object.keys(v).sort();
  let out = "{";
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      if (i > 0) out += ",";
      out += JSON.stringify(keys[i]) + ":" + token(v[keys[i]], stack);
    }
  } catch (error) {
    const key = keys[i];
    throw addSegment(
      error,
      /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`,
    );
  }
  return out + "}";
}

function mapToken(v: Map<unknown, unknown>, stack: object[]): string {
  const entries: string[] = [];
  let i = 0;
  let inKey = true;
  try {
    for (const [key, value] of v) {
      inKey = true;
      const k = token(key, stack);
      inKey = false;
      entries.push(k + ":" + token(value, stack));
      i++;
    }
  } catch (error) {
    throw addSegment(error, inKey ? `<Map key #${i}>` : `<Map value #${i}>`);
  }
  return "Map{" + entries.sort().join(",") + "}";
}

function setToken(v: Set<unknown>, stack: object[]): string {
  const items: string[] = [];
  let i = 0;
  try {
    for (const item of v) {
      items.push(token(item, stack));
      i++;
    }
  } catch (error) {
    throw addSegment(error, `<Set item #${i}>`);
  }
  return "Set[" + items.sort().join(",") + "]";
}

function describeInstance(proto: object): string {
  try {
    const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    if (typeof ctor === "function" && typeof ctor.name === "string" && ctor.name) {
      return `${/^[AEIOUaeiou]/.test(ctor.name) ? "an" : "a"} ${ctor.name} instance`;
    }
  } catch {
    // fall through
  }
  return "an object with a custom prototype";
}
