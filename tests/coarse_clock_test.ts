/**
 * Issue 17: with the system clock, the L1 stores read `Date.now()` at most
 * about once a millisecond, and an entry is never served more than ~1 ms
 * past its expiry: after the event loop turns, and within 16 reads in a
 * synchronous loop that holds it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { coarseClock, storeClock } from "../src/cache/_coarse_clock.ts";
import { LruStore } from "../src/cache/lru_store.ts";
import { TinyLfuStore } from "../src/cache/tinylfu_store.ts";
import { systemClock } from "../src/time.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { sleep } from "./_helpers.ts";

describe("coarse clock", () => {
  test("stands in for the system clock only", () => {
    assert.equal(storeClock(systemClock), coarseClock);
    const fake = new FakeClock();
    assert.equal(storeClock(fake), fake);
  });

  test("never lags Date.now() by more than ~1 ms once the event loop turns", async () => {
    for (let i = 0; i < 20; i++) {
      coarseClock.now();
      await sleep(2);
      const lag = Date.now() - coarseClock.now();
      assert.ok(lag <= 1, `lag ${lag} ms`);
    }
  });

  test("a synchronous loop sees time pass within 16 reads", () => {
    const start = coarseClock.now();
    const until = Date.now() + 5;
    while (Date.now() < until) { /* hold the event loop */ }
    let seen = start;
    for (let i = 0; i < 16; i++) seen = coarseClock.now();
    assert.ok(seen >= until, `read ${seen - start} ms after start, wanted >= ${until - start}`);
  });

  for (
    const make of [
      () => new LruStore<string>(10, systemClock),
      () => new TinyLfuStore<string>(10, systemClock),
    ]
  ) {
    test(`${make().constructor.name}: an expired entry is not served past ~1 ms (system clock)`, async () => {
      const store = make();
      store.set("k", "v", 5);
      assert.equal(store.get("k"), "v");
      await sleep(8);
      assert.equal(store.get("k"), undefined);
      store.set("s", "v", 3);
      const until = Date.now() + 6;
      while (Date.now() < until) { /* hold the event loop */ }
      let got: string | undefined = "v";
      for (let i = 0; i < 16; i++) got = store.get("s");
      assert.equal(got, undefined);
    });
  }
});
