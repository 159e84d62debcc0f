/**
 * The L2 wire format: one self-describing binary envelope for a cached value,
 * byte-for-byte identical whichever runtime (Deno, Bun, Node) wrote it, so
 * services on different runtimes share Redis entries and disk snapshots.
 *
 * Layout (version 1). Every entry is `AC CA 01` (magic, then {@linkcode FORMAT_VERSION})
 * followed by exactly one value.
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
 * | `0x09` | BigInt >= 0             | varint length, magnitude big-endian, no leading 0 (1) |
 * | `0x0A` | BigInt < 0              | varint length, magnitude big-endian, no leading 0 (1) |
 * | `0x0B` | Date                    | float64 time value, big-endian (NaN = invalid Date)  |
 * | `0x0C` | Array                   | varint length, then each element                     |
 * | `0x0D` | plain object            | varint count, then (string key, value) pairs         |
 * | `0x0E` | null-prototype object   | as `0x0D`                                            |
 * | `0x0F` | Map                     | varint count, then (key, value) pairs                |
 * | `0x10` | Set                     | varint count, then each element                      |
 * | `0x11` | Uint8Array              | varint byte length, raw bytes                        |
 *
 * (1) At most {@linkcode MAX_BIGINT_BYTES} bytes of magnitude.
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

/**
 * The largest BigInt magnitude, in bytes (1 MiB: about 2.5 million decimal
 * digits), that {@linkcode encodeValue} writes and {@linkcode decodeValue}
 * reads. Past it both throw `SerializationError`, so a hostile or corrupt
 * entry cannot hold the event loop (converting 8 MiB took ~0.5 s).
 *
 * @example A BigInt past the bound is refused at encode time
 * ```ts
 * import { encodeValue, SerializationError } from "@async-cache/cache";
 * import { MAX_BIGINT_BYTES } from "./format.ts";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => encodeValue(1n << BigInt(MAX_BIGINT_BYTES * 8)), SerializationError, "BigInt");
 * ```
 */
export const MAX_BIGINT_BYTES = 1 << 20;

export const MAGIC0 = 0xac;
export const MAGIC1 = 0xca;
/**
 * The L2 format version: the third byte of every envelope. **Bump it (and only it) for any
 * change an older reader would misread**: the value layout below, the entry envelope
 * (`wrap`/`unwrap` in `src/remote/_generations.ts`), or the entry key layout (`namespacePrefix`).
 *
 * A reader checks this one byte before decoding anything. In Redis an entry of another version
 * is a miss, never an error or a warning (`RedisBackend.formatMisses` counts them, one debug line
 * per version): an older one is replaced by the next loaded value, a newer one is left for the
 * processes that read it. `decodeValue` (the public codec) throws `SerializationError` on it.
 *
 * Not covered, on purpose: the generation counters (`__ac:ns:`, `__ac:tag:`: sorted sets of one
 * member) and leases (`__ac:lease:`). Every version shares them, which is how a `clear()` or an
 * `invalidateTags` reaches every process of a mixed fleet; changing them takes a release that
 * writes both forms (see the README, "Rolling a fleet across a format change").
 */
export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 3;

export const T_UNDEFINED = 0x00;
export const T_NULL = 0x01;
export const T_FALSE = 0x02;
export const T_TRUE = 0x03;
export const T_UINT = 0x04;
export const T_NEGINT = 0x05;
export const T_FLOAT = 0x06;
export const T_STRING = 0x07;
export const T_STRING16 = 0x08;
export const T_BIGINT = 0x09;
export const T_NEGBIGINT = 0x0a;
export const T_DATE = 0x0b;
export const T_ARRAY = 0x0c;
export const T_OBJECT = 0x0d;
export const T_NULL_OBJECT = 0x0e;
export const T_MAP = 0x0f;
export const T_SET = 0x10;
export const T_BYTES = 0x11;

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Strings up to this many UTF-16 units are encoded by hand (3 * 42 < 128: one length byte). */
export const SHORT_STRING = 42;
/** Decoded strings up to this many bytes try the hand-written ASCII path first (measured crossover with TextDecoder: ~12 bytes on Node, ~20 on Bun, ~50 on Deno). */
export const SHORT_DECODE = 16;
/** A scratch buffer grown past this is dropped after use, so one big value does not pin memory. */
export const KEEP_BUFFER_BYTES = 1 << 20;

export const textEncoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF is data.
export const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
export const scratch = new DataView(new ArrayBuffer(8));
/** A brand check: `instanceof` alone accepts any object that inherits from Uint8Array.prototype. */
export const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get!;
export const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));
/** `HEX_CODES[2 * b]` and `HEX_CODES[2 * b + 1]`: the two ASCII hex digits of byte `b`. */
export const HEX_CODES: Uint8Array = new Uint8Array(512);
/** The value of an ASCII hex digit (`0-9a-f`) by char code. */
export const HEX_VALUE: Uint8Array = new Uint8Array(128);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX[i].charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX[i].charCodeAt(1);
}
for (let i = 0; i < 16; i++) HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;

/** An error's message, even for a thrown value whose `toString` throws. */
export function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unprintable error";
  }
}
