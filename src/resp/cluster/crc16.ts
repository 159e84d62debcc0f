/**
 * Redis Cluster key slots: CRC16-XMODEM of the key (or of its `{hash tag}`)
 * modulo 16384, as in the Redis Cluster specification.
 *
 * Hot path: a string key of ASCII characters is hashed straight from its
 * char codes (no `TextEncoder`, no allocation); any other string is encoded
 * to UTF-8 first, so the slot is always that of the bytes Redis receives.
 *
 * @module
 */

/** The number of hash slots in a Redis Cluster. */
export const SLOT_COUNT = 16384;

const TABLE = /* @__PURE__ */ (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[i] = crc;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * CRC16-XMODEM (polynomial 0x1021, initial value 0) of `bytes[from..to)`.
 *
 * @param bytes The input.
 * @param from First index (default 0).
 * @param to End index, exclusive (default `bytes.length`).
 * @returns The checksum, 0-65535.
 *
 * @example The check value of CRC16-XMODEM
 * ```ts
 * import { crc16 } from "./crc16.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(crc16(new TextEncoder().encode("123456789")), 0x31c3);
 * ```
 */
export function crc16(bytes: Uint8Array, from = 0, to: number = bytes.length): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  }
  return crc;
}

/**
 * The cluster slot (0-16383) of a key. When the key holds a non-empty
 * `{hash tag}` (the first `{` and the first `}` after it), only the tag is
 * hashed, so `{user:1}:name` and `{user:1}:email` share a slot.
 *
 * @param key The key, as a string (hashed as UTF-8) or as bytes.
 * @returns The slot.
 *
 * @example Slots and hash tags
 * ```ts
 * import { keySlot } from "./crc16.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(keySlot("foo"), 12182);
 * assertEquals(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
 * assertEquals(keySlot("{}x"), keySlot(new TextEncoder().encode("{}x"))); // empty tag: whole key
 * ```
 */
export function keySlot(key: string | Uint8Array): number {
  // Both `indexOf`s work alike on strings and bytes: `{` is 0x7b, `}` 0x7d.
  const open = typeof key === "string" ? key.indexOf("{") : key.indexOf(0x7b);
  let from = 0;
  let to = key.length;
  if (open !== -1) {
    const close = typeof key === "string"
      ? key.indexOf("}", open + 1)
      : key.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      from = open + 1;
      to = close;
    }
  }
  if (typeof key !== "string") return crc16(key, from, to) & (SLOT_COUNT - 1);
  let ascii = true;
  for (let i = from; i < to; i++) {
    if (key.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  // Non-ASCII text: hash its UTF-8 bytes (the tag bounds are found again there).
  if (!ascii) return keySlot(encoder.encode(key));
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ key.charCodeAt(i)) & 0xff];
  }
  return crc & (SLOT_COUNT - 1);
}
