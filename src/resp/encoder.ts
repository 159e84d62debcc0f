/**
 * RESP command encoder: a command is an array of arguments, sent as a RESP
 * array of bulk strings (`*<n>\r\n$<len>\r\n<bytes>\r\n...`).
 *
 * Hot path design: two passes over the arguments and one allocation. The first
 * pass measures every argument's UTF-8 byte length without encoding it (the
 * lengths go into a module-level scratch array that is reused across calls, so
 * no intermediate array or string is built); the second pass fills one exactly
 * sized buffer, ASCII strings byte by byte and others with `encodeInto`. A whole
 * tick's worth of pipelined commands is encoded the same way into one buffer
 * ({@linkcode encodeCommands}), so the client makes one `write` per tick.
 *
 * @module
 */

import { describe } from "../errors.ts";

/**
 * One argument of a command. Strings are sent as UTF-8, `Uint8Array`s as they
 * are (binary safe); numbers and bigints are sent in decimal (`Infinity` as
 * `+inf`, `-Infinity` as `-inf`, the spelling Redis accepts for scores).
 */
export type CommandArg = string | Uint8Array | number | bigint;

/** A command: its name then its arguments, e.g. `["SET", "k", bytes, "PX", 1000]`. */
export type Command = readonly CommandArg[];

const utf8 = new TextEncoder();
const CR = 13;
const LF = 10;
const ASTERISK = 42;
const DOLLAR = 36;
/** Strings up to this many chars are copied byte by byte when ASCII (faster than encodeInto). */
const SMALL_ASCII = 64;

/**
 * The byte length of every argument of the commands being encoded, in order,
 * so the fill pass need not measure again. Reused across calls (encoding is
 * synchronous, so calls cannot interleave).
 */
let scratch: number[] = [];

/**
 * Encodes one command.
 *
 * @param args The command name and its arguments.
 * @returns The RESP bytes.
 * @throws {TypeError} If `args` is empty or an argument is not a string, `Uint8Array`, number or bigint, or is `NaN`.
 *
 * @example Encoding SET
 * ```ts
 * import { encodeCommand } from "./encoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeCommand(["SET", "k", "é"]);
 * assertEquals(new TextDecoder().decode(bytes), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n");
 * ```
 */
export function encodeCommand(args: Command): Uint8Array {
  const size = measure(args, 0);
  const out = new Uint8Array(size);
  fill(args, out, 0, 0);
  releaseScratch();
  return out;
}

/**
 * Encodes several commands into one buffer, back to back (a pipeline).
 *
 * @param commands The commands, in the order the server must run them.
 * @returns The RESP bytes of all the commands.
 * @throws {TypeError} As {@linkcode encodeCommand}, for any of the commands.
 *
 * @example A two-command pipeline
 * ```ts
 * import { encodeCommands } from "./encoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeCommands([["PING"], ["GET", "k"]]);
 * assertEquals(new TextDecoder().decode(bytes), "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
 * ```
 */
export function encodeCommands(commands: readonly Command[]): Uint8Array {
  let size = 0;
  let slot = 0;
  for (let i = 0; i < commands.length; i++) {
    size += measure(commands[i], slot);
    slot += commands[i].length;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  slot = 0;
  for (let i = 0; i < commands.length; i++) {
    offset = fill(commands[i], out, offset, slot);
    slot += commands[i].length;
  }
  releaseScratch();
  return out;
}

/** Keeps the scratch array from pinning memory after one huge pipeline. */
function releaseScratch(): void {
  if (scratch.length > 4096) scratch = [];
}

/**
 * Returns the encoded size of `args`, recording each argument's byte length
 * in `scratch[slot + i]`. Numbers are short, so they are simply stringified
 * again in the fill pass.
 */
function measure(args: Command, slot: number): number {
  const n = args.length;
  if (n === 0) throw new TypeError("Cannot encode command: it has no arguments");
  let size = 1 + digits(n) + 2;
  for (let i = 0; i < n; i++) {
    const arg = args[i];
    let len: number;
    if (typeof arg === "string") {
      len = utf8Length(arg);
    } else if (arg instanceof Uint8Array) {
      len = arg.byteLength;
    } else if (typeof arg === "number" || typeof arg === "bigint") {
      len = numberText(arg).length;
    } else {
      throw new TypeError(
        `Cannot encode command: argument ${i} must be a string, Uint8Array, number or bigint: received ${
          describe(arg)
        }`,
      );
    }
    scratch[slot + i] = len;
    size += 1 + digits(len) + 2 + len + 2;
  }
  return size;
}

/** Writes `args` at `offset` using the lengths `measure` recorded; returns the new offset. */
function fill(args: Command, out: Uint8Array, offset: number, slot: number): number {
  const n = args.length;
  out[offset++] = ASTERISK;
  offset = writeInt(out, offset, n);
  out[offset++] = CR;
  out[offset++] = LF;
  for (let i = 0; i < n; i++) {
    const arg = args[i];
    const len = scratch[slot + i];
    out[offset++] = DOLLAR;
    offset = writeInt(out, offset, len);
    out[offset++] = CR;
    out[offset++] = LF;
    if (typeof arg === "string") {
      if (len === arg.length && len <= SMALL_ASCII) {
        for (let j = 0; j < len; j++) out[offset + j] = arg.charCodeAt(j);
      } else {
        utf8.encodeInto(arg, out.subarray(offset, offset + len));
      }
    } else if (arg instanceof Uint8Array) {
      out.set(arg, offset);
    } else {
      const text = numberText(arg as number | bigint);
      for (let j = 0; j < len; j++) out[offset + j] = text.charCodeAt(j);
    }
    offset += len;
    out[offset++] = CR;
    out[offset++] = LF;
  }
  return offset;
}

/** The decimal text sent for a number argument (always ASCII). */
function numberText(value: number | bigint): string {
  if (typeof value === "bigint") return value.toString();
  if (Number.isFinite(value)) return String(value);
  if (value === Infinity) return "+inf";
  if (value === -Infinity) return "-inf";
  throw new TypeError("Cannot encode command: a number argument is NaN");
}

/**
 * The number of bytes `TextEncoder` produces for `s`, without encoding it.
 * A lone surrogate becomes U+FFFD (3 bytes), as `TextEncoder` does.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A surrogate pair: 2 UTF-16 units, 4 bytes.
        bytes += 2;
        i++;
      } else {
        bytes += 2;
      }
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** Decimal digits of a non-negative integer. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes a non-negative integer in decimal; returns the new offset. */
function writeInt(out: Uint8Array, offset: number, n: number): number {
  if (n < 10) {
    out[offset] = 48 + n;
    return offset + 1;
  }
  const d = digits(n);
  let end = offset + d;
  while (end > offset) {
    out[--end] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return offset + d;
}
