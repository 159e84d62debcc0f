/**
 * The L1 tag index (issue 15 items 3 and 6): a tag dropped while a lookup
 * runs keeps that lookup's entry out of L1, whichever tags its reader
 * declared; entries kept stale past their TTL stay indexed through pruning.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TagIndex } from "../src/cache/_tag_index.ts";
import { LruStore } from "../src/cache/lru_store.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";

describe("TagIndex", () => {
  test("3. a tag dropped after a lookup began counts for that lookup, declared or not", () => {
    const index = new TagIndex(() => true, () => 100);
    const before = index.mark();
    index.drop(["undeclared"]);
    assert.equal(index.droppedSince(["undeclared"], before), true);
    assert.equal(index.droppedSince(["other"], before), false);
    assert.equal(index.droppedSince(["undeclared"], index.mark()), false, "a later lookup");
  });

  test("3. past its bound, the record of drops fails closed for older lookups", () => {
    const index = new TagIndex(() => true, () => 100);
    const before = index.mark();
    for (let i = 0; i < 2_000; i++) index.drop([`t${i}`]);
    assert.equal(index.droppedSince(["never-dropped"], before), true);
    assert.equal(index.droppedSince(["never-dropped"], index.mark()), false);
  });

  test("6. pruning keeps entries expired but kept for stale reads", () => {
    const clock = new FakeClock();
    const store = new LruStore<string>(10, clock);
    const index = new TagIndex((k) => store.has(k), () => 0); // prunes on every set
    store.set("kept", "v", 100, 60_000);
    index.set("kept", ["perm"]);
    clock.advance(1_000); // expired, kept for stale reads
    assert.equal(store.stale("kept"), "v");
    store.set("other", "w");
    index.set("other", ["x"]); // a prune
    assert.deepEqual(index.drop(["perm"]), ["kept"]);
  });
});
