/**
 * Encoding a value into the envelope described in `format.ts`.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import {
  errorMessage,
  FORMAT_VERSION,
  HEADER_SIZE,
  HEX_VALUE,
  KEEP_BUFFER_BYTES,
  MAGIC0,
  MAGIC1,
  MAX_BIGINT_BYTES,
  MAX_DEPTH,
  MAX_SAFE,
  scratch,
  SHORT_STRING,
  T_ARRAY,
  T_BIGINT,
  T_BYTES,
  T_DATE,
  T_FALSE,
  T_FLOAT,
  T_MAP,
  T_NEGBIGINT,
  T_NEGINT,
  T_NULL,
  T_NULL_OBJECT,
  T_OBJECT,
  T_SET,
  T_STRING,
  T_STRING16,
  T_TRUE,
  T_UINT,
  T_UNDEFINED,
  textEncoder,
  typedArrayTag,
} from "./format.ts";

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
    w.buf[2] = FORMAT_VERSION;
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
  if (len > MAX_BIGINT_BYTES) {
    throw new EncodeFailure(
      `a BigInt of ${len} bytes (more than MAX_BIGINT_BYTES, ${MAX_BIGINT_BYTES})`,
    );
  }
  w.ensure(1);
  w.buf[w.pos++] = negative ? T_NEGBIGINT : T_BIGINT;
  writeVarint(w, len);
  w.ensure(len);
  const buf = w.buf;
  let p = w.pos;
  for (let i = 0; i < hex.length; i += 2) {
    buf[p++] = (HEX_VALUE[hex.charCodeAt(i)] << 4) | HEX_VALUE[hex.charCodeAt(i + 1)];
  }
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
