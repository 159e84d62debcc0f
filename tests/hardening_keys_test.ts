/**
 * Issue 16, item 10: keys that are not well-formed UTF-16 (a lone surrogate)
 * would all map to one Redis key (UTF-8 turns each lone surrogate into U+FFFD),
 * so they are refused with InvalidKeyError before reaching L1 or L2.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, InvalidKeyError } from "../mod.ts";
import { normalizeKey } from "../src/cache/keys.ts";

describe("hardening: keys (issue 16 item 10)", () => {
  test("a key with a lone surrogate is refused with InvalidKeyError", async () => {
    for (const key of ["user:\udbff", "user:\udc00", "\udc00\ud800", "a\ud800b"]) {
      assert.throws(() => normalizeKey(key), { name: "InvalidKeyError" });
      assert.throws(() => normalizeKey(key), InvalidKeyError);
    }
    const cache = new AsyncCache({ maxsize: 10 });
    try {
      await assert.rejects(() => cache.set("user:\udbff", 1), { name: "InvalidKeyError" });
      await assert.rejects(() => cache.delete("user:\udc00"), { name: "InvalidKeyError" });
      await cache.set("user:\uFFFD", 1);
      for (const key of ["user:\udbff", "user:\udc00"]) {
        await assert.rejects(() => cache.get(key), { name: "InvalidKeyError" });
        await assert.rejects(() => cache.get(key, { loader: () => 2 }), {
          name: "InvalidKeyError",
        });
      }
      assert.equal(await cache.get("user:\uFFFD"), 1);
    } finally {
      await cache.close();
    }
  });

  test("well-formed keys (U+FFFD, surrogate pairs) are still accepted", () => {
    assert.equal(normalizeKey("user:\uFFFD"), "user:\uFFFD");
    assert.equal(normalizeKey("emoji:\ud83d\ude00"), "emoji:\ud83d\ude00");
    assert.equal(normalizeKey(""), "");
  });
});
