/**
 * The wire side of the fake Redis: RESP2/RESP3 reply builders (`resp`),
 * bytes helpers, and the latin1 mapping that makes binary keys usable as
 * `Map` keys.
 *
 * @module
 */
export const enc = new TextEncoder();
export const dec = new TextDecoder();

// ------------------------------------------------------------ reply builders

/**
 * Raw RESP to send: bytes, or text (encoded as UTF-8). It need not be valid.
 *
 * @example Text and bytes are the same reply
 * ```ts
 * import { resp, type RespBytes } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const text: RespBytes = "+OK\r\n";
 * const bytes: RespBytes = resp.ok;
 * assertEquals(new TextEncoder().encode(text), bytes);
 * ```
 */
export type RespBytes = Uint8Array | string;

export function toBytes(data: RespBytes): Uint8Array {
  return typeof data === "string" ? enc.encode(data) : data;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Builders for RESP replies, each returning bytes ready for
 * {@linkcode FakeConnection.send} or to return from an `onCommand` handler.
 *
 * @example Building a reply
 * ```ts
 * import { resp } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = resp.array([resp.bulk("a"), resp.int(1), resp.nil(2)]);
 * assertEquals(new TextDecoder().decode(bytes), "*3\r\n$1\r\na\r\n:1\r\n$-1\r\n");
 * ```
 */
export const resp = {
  /** `+OK` */
  ok: enc.encode("+OK\r\n") as Uint8Array,
  /** A simple string, `+text`. */
  simple: (text: string): Uint8Array => enc.encode(`+${text}\r\n`),
  /** An error reply, `-ERR message` (give the code too). */
  error: (message: string): Uint8Array => enc.encode(`-${message}\r\n`),
  /** An integer, `:n`. */
  int: (n: number | bigint): Uint8Array => enc.encode(`:${n}\r\n`),
  /** A bulk string, binary safe. */
  bulk: (value: string | Uint8Array): Uint8Array => {
    const body = toBytes(value);
    return concat([enc.encode(`$${body.length}\r\n`), body, enc.encode("\r\n")]);
  },
  /** Null: `_` in RESP3, `$-1` in RESP2 (the default). */
  nil: (protocol: 2 | 3 = 2): Uint8Array => enc.encode(protocol === 3 ? "_\r\n" : "$-1\r\n"),
  /** An array of already-encoded elements. */
  array: (items: readonly Uint8Array[]): Uint8Array =>
    concat([enc.encode(`*${items.length}\r\n`), ...items]),
  /** A RESP3 map of already-encoded keys and values. */
  map: (entries: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array =>
    concat([enc.encode(`%${entries.length}\r\n`), ...entries.flat()]),
  /** A RESP3 push message of already-encoded elements. */
  push: (items: readonly Uint8Array[]): Uint8Array =>
    concat([enc.encode(`>${items.length}\r\n`), ...items]),
  /** A RESP3 boolean. */
  bool: (value: boolean): Uint8Array => enc.encode(value ? "#t\r\n" : "#f\r\n"),
  /** A RESP3 double. */
  double: (value: number): Uint8Array =>
    enc.encode(
      `,${
        Number.isNaN(value)
          ? "nan"
          : value === Infinity
          ? "inf"
          : value === -Infinity
          ? "-inf"
          : value
      }\r\n`,
    ),
};

/** Bytes as a string of code units 0-255 (lossless, binary-safe map key). */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
