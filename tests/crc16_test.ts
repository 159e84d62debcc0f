import { test } from "node:test";
import assert from "node:assert/strict";
import { crc16, keySlot, SLOT_COUNT } from "../src/resp/cluster/crc16.ts";

const enc = new TextEncoder();

test("CRC16-XMODEM known vectors", () => {
  assert.equal(crc16(enc.encode("123456789")), 0x31c3);
  assert.equal(crc16(enc.encode("")), 0);
  assert.equal(crc16(enc.encode("A")), 0x58e5);
  assert.equal(crc16(enc.encode("xx123456789yy"), 2, 11), 0x31c3);
});

test("keySlot: Redis' own examples and hash tags", () => {
  assert.equal(keySlot("foo"), 12182);
  assert.equal(keySlot("bar"), 5061);
  assert.equal(keySlot("123456789"), 0x31c3 % SLOT_COUNT);
  assert.equal(keySlot("{user1000}.following"), keySlot("user1000"));
  assert.equal(keySlot("foo{}{bar}"), crc16(enc.encode("foo{}{bar}")) % SLOT_COUNT); // empty tag
  assert.equal(keySlot("foo{{bar}}zap"), keySlot("{bar")); // first { to first }
  assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar"));
  assert.equal(keySlot("{no close"), crc16(enc.encode("{no close")) % SLOT_COUNT);
});

test("keySlot: strings hash as their UTF-8 bytes, the same as a Uint8Array key", () => {
  for (const key of ["é", "ключ{тег}", "{日本}語", "a\u0000b", "emoji😀{x}", "plain"]) {
    assert.equal(keySlot(key), keySlot(enc.encode(key)), key);
  }
  assert.equal(keySlot("x{é}y"), keySlot("é"));
});

test("keySlot is always a slot", () => {
  for (let i = 0; i < 2000; i++) {
    const s = keySlot(`k${i * 7919}`);
    assert.ok(Number.isInteger(s) && s >= 0 && s < SLOT_COUNT);
  }
});
