/**
 * Issue 16, item 3: decoding is bounded by a fixed multiple of its input. The
 * amplifier was cheap containers: an empty Map, Set or Uint8Array is 2 bytes
 * on the wire and ~160-300 bytes of heap, so an 8 MB entry of them made every
 * reader allocate ~800 MB.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DECODE_BUDGET_BASE,
  DECODE_BUDGET_PER_BYTE,
  decodeValue,
  lastDecodeCost,
} from "../src/codec/decode.ts";
import { encodeValue } from "../src/codec/encode.ts";
import { SerializationError } from "../src/errors.ts";

/** An array of `n` empty Maps: `AC CA 01 0C <varint n> (0F 00)*n`. */
function emptyMaps(n: number): Uint8Array {
  const len: number[] = [];
  let v = n;
  while (v >= 0x80) {
    len.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  len.push(v);
  const out = new Uint8Array(4 + len.length + 2 * n);
  out.set([0xac, 0xca, 0x01, 0x0c, ...len]);
  for (let i = 0; i < n; i++) out.set([0x0f, 0x00], 4 + len.length + 2 * i);
  return out;
}

describe("hardening: bounded decoding (issue 16 item 3)", () => {
  test("an entry of a million empty Maps is refused with SerializationError", () => {
    const bytes = emptyMaps(1_000_000);
    assert.throws(() => decodeValue(bytes), (e: unknown) => e instanceof SerializationError);
    assert.ok(lastDecodeCost() <= DECODE_BUDGET_PER_BYTE * bytes.length + DECODE_BUDGET_BASE);
  });

  test("maxEntryBytes refuses a longer entry before decoding it", () => {
    const bytes = encodeValue("x".repeat(100));
    assert.throws(() => decodeValue(bytes, { maxEntryBytes: 50 }), SerializationError);
    assert.equal(decodeValue(bytes, { maxEntryBytes: bytes.length }), "x".repeat(100));
  });

  test("ordinary values still decode", () => {
    const value = {
      users: Array.from({ length: 1000 }, (_, i) => ({ id: i, tags: new Set([i]) })),
    };
    assert.deepStrictEqual(decodeValue(encodeValue(value)), value);
  });

  test("property: any bytes after a header decode within the budget or throw SerializationError", () => {
    // The empty body first, after a costly decode: the cost reported is this call's, not the last one's.
    assert.throws(() => decodeValue(emptyMaps(100_000)), SerializationError);
    assert.ok(lastDecodeCost() > 0);
    assert.throws(() => decodeValue(Uint8Array.from([0xac, 0xca, 0x01])), SerializationError);
    assert.equal(lastDecodeCost(), 0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (body) => {
        const bytes = new Uint8Array(3 + body.length);
        bytes.set([0xac, 0xca, 0x01]);
        bytes.set(body, 3);
        try {
          decodeValue(bytes);
        } catch (error) {
          assert.ok(error instanceof SerializationError, String(error));
        }
        assert.ok(lastDecodeCost() <= DECODE_BUDGET_PER_BYTE * bytes.length + DECODE_BUDGET_BASE);
      }),
      { numRuns: 2000 },
    );
  });
});
