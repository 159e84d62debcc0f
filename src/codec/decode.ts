/**
 * Decoding the envelope described in `format.ts`: never evaluates code, immune to prototype pollution.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import {
  errorMessage,
  FORMAT_VERSION,
  HEADER_SIZE,
  HEX,
  HEX_CODES,
  MAGIC0,
  MAGIC1,
  MAX_BIGINT_BYTES,
  MAX_DEPTH,
  MAX_SAFE,
  scratch,
  SHORT_DECODE,
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
  textDecoder,
} from "./format.ts";

interface Reader {
  readonly buf: Uint8Array;
  pos: number;
  /** Approximate heap bytes the decoded value may still take (see {@linkcode DECODE_BUDGET_PER_BYTE}). */
  budget: number;
}

/**
 * The decoder's allocation budget, in approximate heap bytes per input byte.
 * Each decoded container, Date, Uint8Array, BigInt and array slot is charged
 * an estimate of its heap size; past `DECODE_BUDGET_PER_BYTE × input +
 * DECODE_BUDGET_BASE` decoding stops with `SerializationError`. Without it an
 * entry of empty Maps (2 bytes each, ~160 heap bytes each) amplified ~100×.
 */
export const DECODE_BUDGET_PER_BYTE = 32;
/** A fixed allowance on top of the per-byte budget, so small values are never refused. */
export const DECODE_BUDGET_BASE = 1 << 16;

const COST_SLOT = 8;
const COST_ARRAY = 32;
const COST_OBJECT = 64;
const COST_COLLECTION = 160;
const COST_BYTES = 200;
const COST_DATE = 48;

/** Options for {@linkcode decodeValue}. */
export interface DecodeOptions {
  /** Refuse (SerializationError) an entry longer than this many bytes before decoding it. Default: no cap. */
  maxEntryBytes?: number;
}

let lastCost = 0;
/** Test hook: the budget the last {@linkcode decodeValue} call spent (approximate heap bytes). */
export function lastDecodeCost(): number {
  return lastCost;
}

function charge(r: Reader, at: number, cost: number): void {
  if (cost > r.budget) {
    throw corrupt(
      at,
      `decoding would allocate more than ${DECODE_BUDGET_PER_BYTE}× the entry's ${r.buf.length} bytes`,
    );
  }
  r.budget -= cost;
}

/**
 * Decodes bytes written by {@linkcode encodeValue}. Decoding never evaluates
 * code and cannot pollute prototypes: `__proto__`, `constructor` and
 * `prototype` keys become ordinary own properties.
 *
 * @param bytes An envelope, e.g. a Redis value or a disk snapshot entry.
 * @param options `maxEntryBytes`: refuse longer entries before decoding.
 * @returns The decoded value.
 * @throws {SerializationError} If the bytes are not an envelope (wrong magic),
 * come from a newer format version, are truncated or corrupt, have trailing
 * bytes, nest deeper than {@linkcode MAX_DEPTH}, exceed `maxEntryBytes`, or
 * would allocate more than {@linkcode DECODE_BUDGET_PER_BYTE} times their size. Never a `RangeError` or
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
export function decodeValue(bytes: Uint8Array, options?: DecodeOptions): unknown {
  return decodeVersion(bytes, FORMAT_VERSION, options);
}

/**
 * {@linkcode decodeValue} for an envelope of format `version` (internal: a
 * `RedisBackend` forced to another version by a test reads its own entries).
 */
export function decodeVersion(
  bytes: Uint8Array,
  version: number,
  options?: DecodeOptions,
): unknown {
  lastCost = 0; // a refusal before decoding spends nothing
  if (!(bytes instanceof Uint8Array)) {
    throw new SerializationError(
      `Cannot decode: expected a Uint8Array, received ${bytes === null ? "null" : typeof bytes}`,
    );
  }
  const max = options?.maxEntryBytes;
  if (max !== undefined && bytes.length > max) {
    throw new SerializationError(
      `Cannot decode: the entry's ${bytes.length} bytes exceed maxEntryBytes (${max})`,
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
  if (bytes[2] !== version) {
    throw new SerializationError(
      `Cannot decode: envelope version ${
        bytes[2]
      } is not supported (this build reads version ${version}; written by ${
        bytes[2] > version ? "a newer" : "an older"
      } async-cache?)`,
    );
  }
  const total = DECODE_BUDGET_PER_BYTE * bytes.length + DECODE_BUDGET_BASE;
  const r: Reader = { buf: bytes, pos: HEADER_SIZE, budget: total };
  let value: unknown;
  try {
    value = readValue(r, 0);
    lastCost = total - r.budget;
  } catch (error) {
    lastCost = total - r.budget;
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
      charge(r, at, COST_DATE);
      return new Date(readFloat64(r, "Date"));
    case T_BYTES: {
      const len = readCount(r, 1, "Uint8Array length");
      charge(r, at, COST_BYTES + len);
      const bytes = buf.slice(r.pos, r.pos + len);
      r.pos += len;
      return bytes;
    }
    case T_ARRAY: {
      checkDepth(at, depth);
      const n = readCount(r, 1, "array length");
      charge(r, at, COST_ARRAY + COST_SLOT * n);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(readValue(r, depth + 1));
      return out;
    }
    case T_OBJECT:
    case T_NULL_OBJECT: {
      checkDepth(at, depth);
      const n = readCount(r, 3, "object key count");
      charge(r, at, COST_OBJECT + 2 * COST_SLOT * n);
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
      charge(r, at, COST_COLLECTION + 3 * COST_SLOT * n);
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
      charge(r, at, COST_COLLECTION + 2 * COST_SLOT * n);
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
  if (len > MAX_BIGINT_BYTES) {
    throw corrupt(at, `BigInt of ${len} bytes exceeds MAX_BIGINT_BYTES (${MAX_BIGINT_BYTES})`);
  }
  const buf = r.buf;
  if (buf[r.pos] === 0) throw corrupt(at, "non-minimal BigInt");
  // Hex digits written as bytes and decoded once: building the string by
  // concatenation cost ~55 ns a byte; BigInt() of hex text is linear.
  const end = r.pos + len;
  const digits = new Uint8Array(2 + 2 * len);
  digits[0] = 48; // 0
  digits[1] = 120; // x
  for (let i = r.pos, p = 2; i < end; i++, p += 2) {
    const b = buf[i] << 1;
    digits[p] = HEX_CODES[b];
    digits[p + 1] = HEX_CODES[b + 1];
  }
  r.pos = end;
  const magnitude = BigInt(textDecoder.decode(digits));
  return negative ? -magnitude : magnitude;
}
