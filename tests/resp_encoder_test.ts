import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeCommand, encodeCommands, utf8Length } from "../src/resp/encoder.ts";
import { parseReplies } from "../src/resp/parser.ts";

const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("encodeCommand", () => {
  test("encodes an array of bulk strings", () => {
    assert.equal(text(encodeCommand(["GET", "key"])), "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  });

  test("lengths are UTF-8 bytes, not UTF-16 units", () => {
    const args = ["SET", "clé", "日本", "😀", ""];
    const bytes = encodeCommand(args);
    assert.equal(
      text(bytes),
      "*5\r\n$3\r\nSET\r\n$4\r\nclé\r\n$6\r\n日本\r\n$4\r\n😀\r\n$0\r\n\r\n",
    );
  });

  test("long non-ASCII and long ASCII strings", () => {
    const long = "é".repeat(1000) + "x".repeat(100);
    const ascii = "k".repeat(10_000);
    const [cmd] = parseReplies(encodeCommand(["SET", long, ascii])) as Uint8Array[][];
    assert.equal(text(cmd[1]), long);
    assert.equal(cmd[1].length, 2100);
    assert.equal(text(cmd[2]), ascii);
  });

  test("lone surrogates encode as U+FFFD, as TextEncoder does", () => {
    for (const s of ["\ud800", "a\udc00b", "\ud83d", "\ud83d\ude00\ud83d"]) {
      assert.equal(utf8Length(s), enc.encode(s).length, JSON.stringify(s));
      const [cmd] = parseReplies(encodeCommand([s])) as Uint8Array[][];
      assert.deepEqual(cmd[0], enc.encode(s));
    }
  });

  test("Uint8Array arguments are binary safe", () => {
    const bin = new Uint8Array([0, 13, 10, 255, 36, 42]);
    const bytes = encodeCommand(["SET", bin, bin.subarray(1, 3)]);
    const [cmd] = parseReplies(bytes) as Uint8Array[][];
    assert.deepEqual(cmd[1], bin);
    assert.deepEqual(cmd[2], new Uint8Array([13, 10]));
  });

  test("numbers and bigints are sent in decimal", () => {
    assert.equal(
      text(encodeCommand(["X", 42, -1.5, 12345678901234567890n, Infinity, -Infinity])),
      "*6\r\n$1\r\nX\r\n$2\r\n42\r\n$4\r\n-1.5\r\n$20\r\n12345678901234567890\r\n$4\r\n+inf\r\n$4\r\n-inf\r\n",
    );
  });

  test("rejects bad arguments with TypeError", () => {
    assert.throws(() => encodeCommand([]), TypeError);
    assert.throws(() => encodeCommand(["GET", null as unknown as string]), TypeError);
    assert.throws(() => encodeCommand(["GET", undefined as unknown as string]), TypeError);
    assert.throws(() => encodeCommand(["GET", {} as unknown as string]), TypeError);
    assert.throws(() => encodeCommand(["X", NaN]), TypeError);
  });

  test("many arguments (lengths with several digits)", () => {
    const args = ["MSET"];
    for (let i = 0; i < 1500; i++) args.push(`key:${i}`, "v".repeat(i));
    const [cmd] = parseReplies(encodeCommand(args)) as Uint8Array[][];
    assert.equal(cmd.length, 3001);
    assert.equal(text(cmd[3000]), "v".repeat(1499));
  });
});

describe("encodeCommands", () => {
  test("encodes a pipeline back to back in one buffer", () => {
    const cmds = [["PING"], ["SET", "k", "välue"], ["GET", new Uint8Array([1, 2])], [
      "INCRBY",
      "n",
      5,
    ]];
    const one = encodeCommands(cmds);
    const separate = cmds.map((c) => encodeCommand(c));
    const total = separate.reduce((n, b) => n + b.length, 0);
    assert.equal(one.length, total);
    let offset = 0;
    for (const b of separate) {
      assert.deepEqual(one.subarray(offset, offset + b.length), b);
      offset += b.length;
    }
    assert.equal(parseReplies(one).length, 4);
  });

  test("an empty pipeline is an empty buffer", () => {
    assert.equal(encodeCommands([]).length, 0);
  });

  test("a bad argument anywhere throws", () => {
    assert.throws(() => encodeCommands([["PING"], ["GET", null as unknown as string]]), TypeError);
    // The encoder stays usable afterwards.
    assert.equal(text(encodeCommands([["PING"]])), "*1\r\n$4\r\nPING\r\n");
  });
});
