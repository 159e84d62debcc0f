/**
 * Hardening of the RESP layer against a hostile server (issue 16, items 4, 5 and the
 * "also check" list): each test here failed on the code before its fix.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseReplies } from "../src/resp/parser.ts";
import { RedisProtocolError } from "../src/errors.ts";

const enc = new TextEncoder();

describe("hardening: RESP parser", () => {
  // The pathological input for the old `\d+\.?\d*` pattern: on the old code this blocks the
  // event loop for seconds (8 s on Node), so a regression shows as a hang, not a slow assert.
  test("a double line of 65,534 digits and an x is a protocol error, found in linear time", {
    timeout: 60_000,
  }, () => {
    const line = "," + "1".repeat(65_534) + "x\r\n";
    assert.throws(() => parseReplies(enc.encode(line)), (e: unknown) => {
      assert.ok(e instanceof RedisProtocolError);
      assert.match(e.message, /double/);
      return true;
    });
  });

  test("double and big-number lines longer than their caps are protocol errors", () => {
    const longDouble = "," + "1".repeat(600) + "\r\n";
    assert.throws(() => parseReplies(enc.encode(longDouble)), {
      name: "RedisProtocolError",
      message: /double longer than/,
    });
    const longBig = "(" + "9".repeat(20_000) + "\r\n";
    assert.throws(() => parseReplies(enc.encode(longBig)), {
      name: "RedisProtocolError",
      message: /big number longer than/,
    });
  });

  test("well-formed doubles and big numbers still parse", () => {
    const cases: [string, number][] = [
      [",1.5", 1.5],
      [",-0.25", -0.25],
      [",10", 10],
      [",.5", 0.5],
      [",3.", 3],
      [",1e10", 1e10],
      [",-1.5E-3", -1.5e-3],
      [",+2", 2],
      [",inf", Infinity],
      [",-inf", -Infinity],
      [",1.7976931348623157e308", 1.7976931348623157e308],
    ];
    for (const [wire, value] of cases) {
      assert.deepEqual(parseReplies(enc.encode(wire + "\r\n")), [value], wire);
    }
    assert.ok(Number.isNaN(parseReplies(enc.encode(",nan\r\n"))[0]));
    for (const bad of [",", ",.", ",1e", ",1e+", ",e5", ",1.2.3", ",--1", ",1 ", ",0x10", ",1_0"]) {
      assert.throws(
        () => parseReplies(enc.encode(bad + "\r\n")),
        { name: "RedisProtocolError" },
        bad,
      );
    }
    const big = "(" + "3".repeat(1000) + "\r\n";
    assert.deepEqual(parseReplies(enc.encode(big)), [BigInt("3".repeat(1000))]);
    assert.deepEqual(parseReplies(enc.encode("(-12\r\n")), [-12n]);
    for (const bad of ["(", "(-", "(1x", "(+-1"]) {
      assert.throws(
        () => parseReplies(enc.encode(bad + "\r\n")),
        { name: "RedisProtocolError" },
        bad,
      );
    }
  });
});
