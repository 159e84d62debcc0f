/**
 * The L2 wire format: one self-describing binary envelope for a cached value,
 * byte-for-byte identical whichever runtime (Deno, Bun, Node) wrote it, so
 * services on different runtimes share Redis entries and disk snapshots.
 *
 * Layout (version 1). Every entry is `AC CA 01` followed by exactly one value.
 * A value is a tag byte and a payload; `varint` is an unsigned LEB128 integer
 * (7 bits per byte, least significant group first, minimal, at most 2^53 - 1):
 *
 * | tag    | value                   | payload                                              |
 * | ------ | ----------------------- | ---------------------------------------------------- |
 * | `0x00` | `undefined`             | none                                                 |
 * | `0x01` | `null`                  | none                                                 |
 * | `0x02` | `false`                 | none                                                 |
 * | `0x03` | `true`                  | none                                                 |
 * | `0x04` | integer >= 0            | varint (safe integers only)                          |
 * | `0x05` | integer < 0             | varint of its magnitude                              |
 * | `0x06` | any other number        | IEEE 754 float64, big-endian (NaN is `7FF8...00`)    |
 * | `0x07` | string                  | varint byte length, UTF-8                            |
 * | `0x08` | string with a lone surrogate | varint UTF-16 unit count, units little-endian  |
 * | `0x09` | BigInt >= 0             | varint length, magnitude big-endian, no leading 0    |
 * | `0x0A` | BigInt < 0              | varint length, magnitude big-endian, no leading 0    |
 * | `0x0B` | Date                    | float64 time value, big-endian (NaN = invalid Date)  |
 * | `0x0C` | Array                   | varint length, then each element                     |
 * | `0x0D` | plain object            | varint count, then (string key, value) pairs         |
 * | `0x0E` | null-prototype object   | as `0x0D`                                            |
 * | `0x0F` | Map                     | varint count, then (key, value) pairs                |
 * | `0x10` | Set                     | varint count, then each element                      |
 * | `0x11` | Uint8Array              | varint byte length, raw bytes                        |
 *
 * Object keys are encoded as string values (tag `0x07` or `0x08`). Nesting is
 * limited to {@linkcode MAX_DEPTH} containers on both sides.
 *
 * Hot path design: one module-level growable buffer is reused by every
 * `encodeValue` call (only the final `slice` allocates), short strings are
 * UTF-8 encoded by hand into it (a `TextEncoder` call costs more than the loop
 * for a few characters) and short ASCII strings are decoded by hand. Paths for
 * error messages are built only while an error unwinds, never on success.
 *
 * @module
 */

import { SerializationError } from "../errors.ts";

/**
 * The deepest nesting of arrays, objects, Maps and Sets that
 * {@linkcode encodeValue} writes and {@linkcode decodeValue} reads.
 *
 * @example Nesting beyond the limit is an error
 * ```ts
 * import { encodeValue, MAX_DEPTH, SerializationError } from "@async-cache/cache";
 * import { assertThrows } from "@std/assert";
 *
 * let deep: unknown = 1;
 * for (let i = 0; i <= MAX_DEPTH; i++) deep = [deep];
 * assertThrows(() => encodeValue(deep), SerializationError, "nested deeper");
 * ```
 */
export const MAX_DEPTH = 1000;

const MAGIC0 = 0xac;
const MAGIC1 = 0xca;
const VERSION = 1;
const HEADER_SIZE = 3;

const T_UNDEFINED = 0x00;
const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_UINT = 0x04;
const T_NEGINT = 0x05;
const T_FLOAT = 0x06;
const T_STRING = 0x07;
const T_STRING16 = 0x08;
const T_BIGINT = 0x09;
const T_NEGBIGINT = 0x0a;
const T_DATE = 0x0b;
const T_ARRAY = 0x0c;
const T_OBJECT = 0x0d;
const T_NULL_OBJECT = 0x0e;
const T_MAP = 0x0f;
const T_SET = 0x10;
const T_BYTES = 0x11;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Strings up to this many UTF-16 units are encoded by hand (3 * 42 < 128: one length byte). */
const SHORT_STRING = 42;
/** Decoded strings up to this many bytes try the hand-written ASCII path first (measured crossover with TextDecoder: ~12 bytes on Node, ~20 on Bun, ~50 on Deno). */
const SHORT_DECODE = 16;
/** A scratch buffer grown past this is dropped after use, so one big value does not pin memory. */
const KEEP_BUFFER_BYTES = 1 << 20;

const textEncoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF is data.
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const scratch = new DataView(new ArrayBuffer(8));
/** A brand check: `instanceof` alone accepts any object that inherits from Uint8Array.prototype. */
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get!;
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

// ---------------------------------------------------------------- encoding

/** An encoding failure on its way up: each container on the way adds its path segment. */
class EncodeFailure {
  readonly path: string[] = [];
  constructor(readonly what: string, readonly cause?: unknown) {}
}

class Writer {
  buf: Uint8Array;
  pos = 0;
  /** The containers currently being encoded, outermost first: cycle detection and depth. */
  readonly stack: object[] = [];
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }
  grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

let shared: Writer | undefined;
let sharedBusy = false;

/**
 * Encodes a value into the async-cache binary envelope (the bytes stored in
 * Redis and in disk snapshots). The output is identical on Deno, Bun and Node.
 *
 * Supported: strings, numbers (including NaN, ±Infinity and -0), booleans,
 * `null`, `undefined`, BigInt, Date (including an invalid Date), Map, Set,
 * Uint8Array (a Node `Buffer` is stored as, and decodes to, a Uint8Array), and
 * arrays and plain objects (prototype `Object.prototype` or `null`) nesting
 * any of these, up to {@linkcode MAX_DEPTH} levels. Holes in sparse arrays
 * decode as `undefined`; non-index properties of arrays are not stored; only
 * own enumerable string keys of objects are stored; an object reached twice
 * (not cyclically) is stored twice, so identity is not preserved.
 *
 * @param value The value to encode.
 * @returns A new `Uint8Array` owned by the caller.
 * @throws {SerializationError} For a function, a symbol (as a value or an
 * enumerable key), a class instance (including RegExp, Error, WeakMap,
 * Promise, ArrayBuffer, DataView and typed arrays other than Uint8Array), a
 * cyclic reference, or nesting deeper than {@linkcode MAX_DEPTH}. The message
 * gives the path, e.g. `Cannot encode a function at $.user.fn`.
 *
 * @example Round-tripping a value
 * ```ts
 * import { decodeValue, encodeValue } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const value = { id: 7n, tags: new Set(["a"]), at: new Date(0), missing: undefined };
 * assertEquals(decodeValue(encodeValue(value)), value);
 * ```
 *
 * @example A function cannot be stored
 * ```ts
 * import { encodeValue, SerializationError } from "@async-cache/cache";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => encodeValue({ user: { fn() {} } }), SerializationError);
 * ```
 */
export function encodeValue(value: unknown): Uint8Array {
  // A getter may call encodeValue while it runs: only the outermost call uses the shared buffer.
  const reuse = !sharedBusy;
  const w = reuse ? (shared ??= new Writer(256)) : new Writer(64);
  if (reuse) sharedBusy = true;
  try {
    w.pos = 0;
    w.stack.length = 0;
    w.ensure(HEADER_SIZE);
    w.buf[0] = MAGIC0;
    w.buf[1] = MAGIC1;
    w.buf[2] = VERSION;
    w.pos = HEADER_SIZE;
    writeValue(w, value);
    return w.buf.slice(0, w.pos);
  } catch (error) {
    if (error instanceof EncodeFailure) {
      const cause = error.cause === undefined ? undefined : { cause: error.cause };
      throw new SerializationError(
        `Cannot encode ${error.what} at $${error.path.reverse().join("")}`,
        cause,
      );
    }
    if (error instanceof SerializationError) throw error;
    // A throwing getter at the top level, or an object that fakes a built-in prototype.
    throw new SerializationError(`Cannot encode the value at $: ${errorMessage(error)}`, {
      cause: error,
    });
  } finally {
    if (reuse) {
      sharedBusy = false;
      w.stack.length = 0;
      if (w.buf.length > KEEP_BUFFER_BYTES) shared = undefined;
    }
  }
}

function writeValue(w: Writer, v: unknown): void {
  switch (typeof v) {
    case "string":
      writeString(w, v);
      return;
    case "number":
      writeNumber(w, v);
      return;
    case "boolean":
      w.ensure(1);
      w.buf[w.pos++] = v ? T_TRUE : T_FALSE;
      return;
    case "undefined":
      w.ensure(1);
      w.buf[w.pos++] = T_UNDEFINED;
      return;
    case "bigint":
      writeBigInt(w, v);
      return;
    case "object":
      if (v === null) {
        w.ensure(1);
        w.buf[w.pos++] = T_NULL;
      } else {
        writeObject(w, v);
      }
      return;
    case "function":
      throw new EncodeFailure(v.name ? `a function (${v.name})` : "a function");
    case "symbol":
      throw new EncodeFailure(`a symbol (${v.toString()})`);
    default:
      throw new EncodeFailure(`a value of type ${typeof v}`);
  }
}

function writeVarint(w: Writer, n: number): void {
  w.ensure(8);
  const buf = w.buf;
  let p = w.pos;
  if (n < 0x80000000) {
    while (n > 0x7f) {
      buf[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
  } else {
    while (n > 0x7f) {
      buf[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
  }
  buf[p++] = n;
  w.pos = p;
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeNumber(w: Writer, v: number): void {
  if (Number.isInteger(v) && v <= MAX_SAFE && v >= -MAX_SAFE && (v !== 0 || 1 / v > 0)) {
    w.ensure(1);
    if (v >= 0) {
      w.buf[w.pos++] = T_UINT;
      writeVarint(w, v);
    } else {
      w.buf[w.pos++] = T_NEGINT;
      writeVarint(w, -v);
    }
    return;
  }
  w.ensure(9);
  w.buf[w.pos++] = T_FLOAT;
  writeFloat64(w, v);
}

function writeFloat64(w: Writer, v: number): void {
  const buf = w.buf;
  const p = w.pos;
  if (v !== v) {
    // NaN payloads are engine-specific: write the one canonical quiet NaN.
    buf[p] = 0x7f;
    buf[p + 1] = 0xf8;
    buf.fill(0, p + 2, p + 8);
  } else {
    scratch.setFloat64(0, v);
    for (let i = 0; i < 8; i++) buf[p + i] = scratch.getUint8(i);
  }
  w.pos = p + 8;
}

function writeString(w: Writer, s: string): void {
  const n = s.length;
  if (n <= SHORT_STRING) {
    w.ensure(2 + 3 * n);
    const buf = w.buf;
    const start = w.pos;
    let p = start + 2;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[p++] = c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d < 0xdc00 || d > 0xdfff) {
          writeString16(w, s);
          return;
        }
        i++;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        buf[p++] = 0xf0 | (cp >> 18);
        buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
        buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[p++] = 0x80 | (cp & 0x3f);
      }
    }
    buf[start] = T_STRING;
    buf[start + 1] = p - start - 2;
    w.pos = p;
    return;
  }
  if (!isWellFormed(s)) {
    writeString16(w, s);
    return;
  }
  const max = 3 * n;
  const reserved = varintSize(max);
  // Room for the largest varint too, so writeVarint below never grows (and drops) the buffer.
  w.ensure(9 + max);
  w.buf[w.pos++] = T_STRING;
  const at = w.pos;
  const { written } = textEncoder.encodeInto(s, w.buf.subarray(at + reserved));
  const needed = varintSize(written);
  if (needed !== reserved) w.buf.copyWithin(at + needed, at + reserved, at + reserved + written);
  writeVarint(w, written);
  w.pos = at + needed + written;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === "function" ? native.call(s) : !LONE_SURROGATE.test(s);
}

/** A string that UTF-8 cannot carry (a lone surrogate) is stored as its UTF-16 units. */
function writeString16(w: Writer, s: string): void {
  const n = s.length;
  w.ensure(1);
  w.buf[w.pos++] = T_STRING16;
  writeVarint(w, n);
  w.ensure(2 * n);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    buf[p++] = c & 0xff;
    buf[p++] = c >> 8;
  }
  w.pos = p;
}

function writeBigInt(w: Writer, v: bigint): void {
  const negative = v < 0n;
  let hex = (negative ? -v : v).toString(16);
  if (hex === "0") hex = "";
  if (hex.length & 1) hex = "0" + hex;
  const len = hex.length >> 1;
  w.ensure(1);
  w.buf[w.pos++] = negative ? T_NEGBIGINT : T_BIGINT;
  writeVarint(w, len);
  w.ensure(len);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < hex.length; i += 2) buf[p++] = parseInt(hex.slice(i, i + 2), 16);
  w.pos = p;
}

function writeObject(w: Writer, v: object): void {
  if (v instanceof Uint8Array && typedArrayTag.call(v) === "Uint8Array") {
    const len = v.byteLength;
    w.ensure(1);
    w.buf[w.pos++] = T_BYTES;
    writeVarint(w, len);
    w.ensure(len);
    w.buf.set(v, w.pos);
    w.pos += len;
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Date.prototype) {
    w.ensure(9);
    w.buf[w.pos++] = T_DATE;
    writeFloat64(w, Date.prototype.getTime.call(v));
    return;
  }
  const stack = w.stack;
  if (stack.length >= MAX_DEPTH) {
    throw new EncodeFailure(`a value nested deeper than ${MAX_DEPTH} levels`);
  }
  if (stack.indexOf(v) !== -1) throw new EncodeFailure("a cyclic reference");
  if (proto === Object.prototype || proto === null) {
    stack.push(v);
    writePlainObject(w, v as Record<string, unknown>, proto === null);
  } else if (Array.isArray(v) && (proto === Array.prototype || !(v instanceof Array))) {
    // Cross-realm arrays are arrays; subclasses of this realm's Array are class instances.
    stack.push(v);
    writeArray(w, v);
  } else if (proto === Map.prototype) {
    stack.push(v);
    writeMap(w, v as Map<unknown, unknown>);
  } else if (proto === Set.prototype) {
    stack.push(v);
    writeSet(w, v as Set<unknown>);
  } else {
    throw new EncodeFailure(describeInstance(v, proto));
  }
  stack.pop();
}

function writeArray(w: Writer, v: unknown[]): void {
  const n = v.length;
  w.ensure(1);
  w.buf[w.pos++] = T_ARRAY;
  writeVarint(w, n);
  let i = 0;
  try {
    for (; i < n; i++) writeValue(w, v[i]);
  } catch (error) {
    throw addSegment(error, `[${i}]`);
  }
}

function writePlainObject(w: Writer, v: Record<string, unknown>, nullProto: boolean): void {
  const keys = Object.keys(v);
  const symbols = Object.getOwnPropertySymbols(v);
  for (const symbol of symbols) {
    if (Object.prototype.propertyIsEnumerable.call(v, symbol)) {
      throw new EncodeFailure(`a symbol-keyed property (${symbol.toString()})`);
    }
  }
  const n = keys.length;
  w.ensure(1);
  w.buf[w.pos++] = nullProto ? T_NULL_OBJECT : T_OBJECT;
  writeVarint(w, n);
  let i = 0;
  try {
    for (; i < n; i++) {
      const key = keys[i];
      writeString(w, key);
      writeValue(w, v[key]);
    }
  } catch (error) {
    throw addSegment(error, keySegment(keys[i]));
  }
}

function writeMap(w: Writer, v: Map<unknown, unknown>): void {
  const n = v.size;
  w.ensure(1);
  w.buf[w.pos++] = T_MAP;
  writeVarint(w, n);
  let i = 0;
  let inKey = true;
  try {
    for (const [key, value] of v) {
      if (i === n) break;
      inKey = true;
      writeValue(w, key);
      inKey = false;
      writeValue(w, value);
      i++;
    }
    if (i !== n) throw new EncodeFailure("a Map that changed size while it was encoded");
  } catch (error) {
    throw addSegment(error, inKey ? `<Map key #${i}>` : `<Map value #${i}>`);
  }
}

function writeSet(w: Writer, v: Set<unknown>): void {
  const n = v.size;
  w.ensure(1);
  w.buf[w.pos++] = T_SET;
  writeVarint(w, n);
  let i = 0;
  try {
    for (const value of v) {
      if (i === n) break;
      writeValue(w, value);
      i++;
    }
    if (i !== n) throw new EncodeFailure("a Set that changed size while it was encoded");
  } catch (error) {
    throw addSegment(error, `<Set item #${i}>`);
  }
}

/** Prefixes a failure's path with one more segment (a getter's own error becomes a failure). */
function addSegment(error: unknown, segment: string): EncodeFailure {
  const failure = error instanceof EncodeFailure
    ? error
    : new EncodeFailure(`a property whose getter threw (${errorMessage(error)})`, error);
  failure.path.push(segment);
  return failure;
}

function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unprintable error";
  }
}

function keySegment(key: string | undefined): string {
  if (key === undefined) return "";
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describeInstance(v: object, proto: object): string {
  if (Array.isArray(v)) return "an Array subclass instance";
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    const name = constructorName(proto) ?? "binary view";
    return `${article(name)} ${name} (only Uint8Array is supported: wrap it in a Uint8Array)`;
  }
  if (v instanceof Promise) return "a Promise (await it first)";
  const name = constructorName(proto);
  return name
    ? `${
      article(name)
    } ${name} instance (only plain objects, arrays, Date, Map, Set and Uint8Array)`
    : "an object with a custom prototype";
}

function article(word: string): string {
  return /^[AEIOUaeiou]/.test(word) ? "an" : "a";
}

function constructorName(proto: object): string | undefined {
  try {
    const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    return typeof ctor === "function" && typeof ctor.name === "string" && ctor.name
      ? ctor.name
      : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- decoding

interface Reader {
  readonly buf: Uint8Array;
  pos: number;
}

/**
 * Decodes bytes written by {@linkcode encodeValue}. Decoding never evaluates
 * code and cannot pollute prototypes: `__proto__`, `constructor` and
 * `prototype` keys become ordinary own properties.
 *
 * @param bytes An envelope, e.g. a Redis value or a disk snapshot entry.
 * @returns The decoded value.
 * @throws {SerializationError} If the bytes are not an envelope (wrong magic),
 * come from a newer format version, are truncated or corrupt, have trailing
 * bytes, or nest deeper than {@linkcode MAX_DEPTH}. Never a `RangeError` or
 * `TypeError`, and a forged length cannot make it allocate more than the input.
 *
 * @example Decoding what was encoded
 * ```ts
 * import { decodeValue, encodeValue } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeValue(new Map([[1, ["x", null]]]));
 * assertEquals(decodeValue(bytes), new Map([[1, ["x", null]]]));
 * ```
 *
 * @example A foreign entry is an error, not a crash
 * ```ts
 * import { decodeValue, SerializationError } from "@async-cache/cache";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => decodeValue(new TextEncoder().encode('{"a":1}')), SerializationError);
 * ```
 */
export function decodeValue(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new SerializationError(
      `Cannot decode: expected a Uint8Array, received ${bytes === null ? "null" : typeof bytes}`,
    );
  }
  if (bytes.length < HEADER_SIZE + 1) {
    throw new SerializationError(
      `Cannot decode: ${bytes.length} bytes is too short for an async-cache envelope`,
    );
  }
  if (bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) {
    throw new SerializationError(
      `Cannot decode: not an async-cache envelope (starts with 0x${HEX[bytes[0]]}${
        HEX[bytes[1]]
      }, expected 0xacca)`,
    );
  }
  if (bytes[2] !== VERSION) {
    throw new SerializationError(
      `Cannot decode: envelope version ${
        bytes[2]
      } is not supported (this build reads version ${VERSION}; written by a newer async-cache?)`,
    );
  }
  const r: Reader = { buf: bytes, pos: HEADER_SIZE };
  let value: unknown;
  try {
    value = readValue(r, 0);
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    // Defence in depth: nothing below should throw anything else.
    throw new SerializationError(
      `Cannot decode: corrupt envelope near byte ${r.pos}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  if (r.pos !== bytes.length) {
    throw corrupt(r.pos, `${bytes.length - r.pos} trailing bytes after the value`);
  }
  return value;
}

/**
 * Tells whether bytes start like an async-cache envelope (magic bytes `AC CA`
 * and a version byte). A cheap sniff: it does not validate the body, and an
 * envelope of a newer version still returns `true`.
 *
 * @param bytes Any bytes.
 * @returns `true` if `bytes` carries the envelope header.
 *
 * @example Sniffing an entry
 * ```ts
 * import { encodeValue, isEnvelope } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isEnvelope(encodeValue("hi")), true);
 * assertEquals(isEnvelope(new TextEncoder().encode("hi")), false);
 * ```
 */
export function isEnvelope(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.length > HEADER_SIZE && bytes[0] === MAGIC0 &&
    bytes[1] === MAGIC1;
}

function corrupt(at: number, what: string): SerializationError {
  return new SerializationError(`Cannot decode: corrupt envelope at byte ${at}: ${what}`);
}

function need(r: Reader, n: number, what: string): void {
  if (n > r.buf.length - r.pos) {
    throw corrupt(r.pos, `truncated ${what} (needs ${n} bytes, ${r.buf.length - r.pos} left)`);
  }
}

function readVarint(r: Reader, what: string): number {
  const buf = r.buf;
  const start = r.pos;
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (r.pos >= buf.length) throw corrupt(start, `truncated ${what}`);
    const b = buf[r.pos++];
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (b === 0 && i > 0) throw corrupt(start, `non-minimal ${what}`);
      if (result > MAX_SAFE) throw corrupt(start, `${what} out of range`);
      return result;
    }
    scale *= 128;
  }
  throw corrupt(start, `${what} out of range`);
}

/** Reads a count of items that each take at least `minBytes`, so a forged count fails here. */
function readCount(r: Reader, minBytes: number, what: string): number {
  const at = r.pos;
  const n = readVarint(r, what);
  if (n * minBytes > r.buf.length - r.pos) {
    throw corrupt(at, `${what} ${n} exceeds the ${r.buf.length - r.pos} bytes left`);
  }
  return n;
}

function readFloat64(r: Reader, what: string): number {
  need(r, 8, what);
  const buf = r.buf;
  const p = r.pos;
  for (let i = 0; i < 8; i++) scratch.setUint8(i, buf[p + i]);
  r.pos = p + 8;
  return scratch.getFloat64(0);
}

function readValue(r: Reader, depth: number): unknown {
  const buf = r.buf;
  if (r.pos >= buf.length) throw corrupt(r.pos, "truncated: a value was expected");
  const at = r.pos;
  const tag = buf[r.pos++];
  switch (tag) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_UINT:
      return readVarint(r, "integer");
    case T_NEGINT: {
      const n = readVarint(r, "integer");
      if (n === 0) throw corrupt(at, "negative zero integer");
      return -n;
    }
    case T_FLOAT:
      return readFloat64(r, "number");
    case T_STRING:
      return readString(r);
    case T_STRING16:
      return readString16(r);
    case T_BIGINT:
    case T_NEGBIGINT:
      return readBigInt(r, tag === T_NEGBIGINT, at);
    case T_DATE:
      return new Date(readFloat64(r, "Date"));
    case T_BYTES: {
      const len = readCount(r, 1, "Uint8Array length");
      const bytes = buf.slice(r.pos, r.pos + len);
      r.pos += len;
      return bytes;
    }
    case T_ARRAY: {
      checkDepth(at, depth);
      const n = readCount(r, 1, "array length");
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(readValue(r, depth + 1));
      return out;
    }
    case T_OBJECT:
    case T_NULL_OBJECT: {
      checkDepth(at, depth);
      const n = readCount(r, 3, "object key count");
      const out: Record<string, unknown> = tag === T_OBJECT ? {} : Object.create(null);
      for (let i = 0; i < n; i++) {
        const key = readKey(r);
        const value = readValue(r, depth + 1);
        if (key === "__proto__") {
          // Plain assignment would call Object.prototype's __proto__ setter.
          Object.defineProperty(out, key, {
            value,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else {
          out[key] = value;
        }
      }
      return out;
    }
    case T_MAP: {
      checkDepth(at, depth);
      const n = readCount(r, 2, "Map size");
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const key = readValue(r, depth + 1);
        out.set(key, readValue(r, depth + 1));
      }
      return out;
    }
    case T_SET: {
      checkDepth(at, depth);
      const n = readCount(r, 1, "Set size");
      const out = new Set<unknown>();
      for (let i = 0; i < n; i++) out.add(readValue(r, depth + 1));
      return out;
    }
    default:
      throw corrupt(at, `unknown tag 0x${HEX[tag]}`);
  }
}

function checkDepth(at: number, depth: number): void {
  if (depth >= MAX_DEPTH) throw corrupt(at, `nested deeper than ${MAX_DEPTH} levels`);
}

function readKey(r: Reader): string {
  const at = r.pos;
  const tag = r.pos < r.buf.length ? r.buf[r.pos++] : -1;
  if (tag === T_STRING) {
    const p = r.pos;
    // One-byte length (the common case): try the key cache.
    if (p < r.buf.length && r.buf[p] <= MAX_CACHED_KEY && r.buf[p] > 0) {
      const len = r.buf[p];
      if (len < r.buf.length - p) {
        const key = cachedKey(r.buf, p + 1, len);
        if (key !== undefined) {
          r.pos = p + 1 + len;
          return key;
        }
      }
    }
    return readString(r);
  }
  if (tag === T_STRING16) return readString16(r);
  throw corrupt(
    at,
    tag === -1 ? "truncated: an object key was expected" : "object key is not a string",
  );
}

// Object keys repeat across entries ("id", "name"...). Engines must intern a
// string before using it as a property name, so handing back the same string
// for the same bytes saves building and interning it again (as msgpackr does).
const MAX_CACHED_KEY = 24;
const KEY_CACHE_SLOTS = 4096;
const keyCacheBytes: Array<Uint8Array | undefined> = new Array(KEY_CACHE_SLOTS);
const keyCacheStrings: string[] = new Array(KEY_CACHE_SLOTS);

/** The key for an ASCII run of bytes, from the cache or newly cached; `undefined` if not ASCII. */
function cachedKey(buf: Uint8Array, start: number, len: number): string | undefined {
  const end = start + len;
  let h = len;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]) | 0;
  const slot = (h ^ (h >>> 15)) & (KEY_CACHE_SLOTS - 1);
  const cached = keyCacheBytes[slot];
  if (cached !== undefined && cached.length === len) {
    let i = 0;
    while (i < len && cached[i] === buf[start + i]) i++;
    if (i === len) return keyCacheStrings[slot];
  }
  let s = "";
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c >= 0x80) return undefined;
    s += String.fromCharCode(c);
  }
  keyCacheBytes[slot] = buf.slice(start, end);
  keyCacheStrings[slot] = s;
  return s;
}

function readString(r: Reader): string {
  const len = readCount(r, 1, "string length");
  const buf = r.buf;
  const start = r.pos;
  const end = start + len;
  if (len <= SHORT_DECODE) {
    let s = "";
    let i = start;
    for (; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === end) {
      r.pos = end;
      return s;
    }
  }
  let s: string;
  try {
    s = textDecoder.decode(buf.subarray(start, end));
  } catch (error) {
    throw new SerializationError(
      `Cannot decode: corrupt envelope at byte ${start}: invalid UTF-8 in a string`,
      { cause: error },
    );
  }
  r.pos = end;
  return s;
}

function readString16(r: Reader): string {
  const n = readCount(r, 2, "string length");
  const buf = r.buf;
  let p = r.pos;
  const units: number[] = [];
  let s = "";
  for (let i = 0; i < n; i++) {
    units.push(buf[p] | (buf[p + 1] << 8));
    p += 2;
    if (units.length === 4096) {
      s += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  r.pos = p;
  return s + String.fromCharCode(...units);
}

function readBigInt(r: Reader, negative: boolean, at: number): bigint {
  const len = readCount(r, 1, "BigInt length");
  if (len === 0) {
    if (negative) throw corrupt(at, "negative zero BigInt");
    return 0n;
  }
  const buf = r.buf;
  if (buf[r.pos] === 0) throw corrupt(at, "non-minimal BigInt");
  let hex = "0x";
  const end = r.pos + len;
  for (let i = r.pos; i < end; i++) hex += HEX[buf[i]];
  r.pos = end;
  const magnitude = BigInt(hex);
  return negative ? -magnitude : magnitude;
}
