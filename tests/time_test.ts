import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InvalidOptionError, parseDuration } from "../mod.ts";

describe("parseDuration", () => {
  test("numbers are milliseconds", () => {
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration(Infinity), Infinity);
  });
  test("strings carry their unit", () => {
    assert.equal(parseDuration("300ms"), 300);
    assert.equal(parseDuration("5s"), 5_000);
    assert.equal(parseDuration("300s"), 300_000);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("1d"), 86_400_000);
    assert.equal(parseDuration("1.5s"), 1_500);
  });
  test("anything else is an InvalidOptionError naming the option", () => {
    for (const bad of ["5 parsecs", "300", "", "-5s", "s", 0, -1, NaN, null, {}, "1w"]) {
      assert.throws(
        () => parseDuration(bad, "AsyncCache", "defaultTtl"),
        (e: unknown) =>
          e instanceof InvalidOptionError && e.option === "defaultTtl" &&
          /Cannot create AsyncCache: defaultTtl must be/.test(e.message),
        `accepted ${String(bad)}`,
      );
    }
  });
});
