/**
 * Issue 19 item 1: the L2 format is versioned, and a version this build does
 * not read is a miss (no error, no wrong value, no warning; a debug note and
 * a counter), on a real redis-server.
 *
 * A release that changes the format bumps one constant (`FORMAT_VERSION` in
 * `src/codec/format.ts`), which is the envelope's third byte. These tests
 * stand in for "another release" in two ways: bytes of another version
 * written straight to Redis, and a second `RedisBackend` forced to an
 * adjacent version (`forceFormatVersion`, an internal test hook), so that
 * two "processes" of a rolling deploy share one Redis with tracking on, a
 * namespace and tags.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, decodeValue, encodeValue, RedisBackend } from "../mod.ts";
import { FORMAT_VERSION } from "../src/codec/format.ts";
import { forceFormatVersion } from "../src/remote/redis_backend.ts";
import { namespacePrefix, nextStamp, wrap } from "../src/remote/_generations.ts";
import type { Logger } from "../src/logger.ts";
import { waitFor } from "./_helpers.ts";
import { redisForSuite, redisServerAvailable, SKIP_MESSAGE } from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
const PREFIX = "fv:";
let unique = 0;

/** Records every level, debug included. */
class LevelLogger implements Logger {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  readonly debugs: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
  error(message: string): void {
    this.errors.push(message);
  }
  debug(message: string): void {
    this.debugs.push(message);
  }
}

/** The stored bytes of an entry as `version` would write them (same body, another version byte). */
function entryBytes(namespace: string, value: unknown, version: number): Uint8Array {
  const bytes = encodeValue(
    wrap({ namespace, stamp: nextStamp(), tags: [], expiresAt: undefined, keepMs: 0, value }),
  );
  bytes[2] = version;
  return bytes;
}

describe("issue 19: versioned L2 format (real redis-server)", { skip }, () => {
  const redis = redisForSuite({ before, after });
  const opened = redis.opened;

  const backend = (version?: number) => {
    const logger = new LevelLogger();
    const b = new RedisBackend({
      host: "127.0.0.1",
      port: redis.server.port,
      prefix: PREFIX,
      logger,
    });
    if (version !== undefined) forceFormatVersion(b, version);
    opened.push(b);
    return { backend: b, logger };
  };
  const cache = <V>(b: RedisBackend, namespace: string, logger: Logger) => {
    const c = new AsyncCache<V>({ remoteCache: b, namespace, logger, defaultTtl: 60_000 });
    opened.push(c);
    return c;
  };
  const raw = async (b: RedisBackend, key: string) => {
    const reply = await b.client.command(["GET", PREFIX + key]);
    return reply instanceof Uint8Array ? reply : undefined;
  };

  for (const namespace of ["", "tenant"]) {
    const how = namespace === "" ? "no namespace" : `namespace "${namespace}"`;

    test(`an entry of a newer version is a miss, not logged, and left for its readers (${how})`, async () => {
      const { backend: b, logger } = backend();
      const c = cache<string>(b, namespace, logger);
      const key = `newer${++unique}`;
      const full = namespacePrefix(namespace) + key;
      const planted = entryBytes(namespace, "written by the next release", FORMAT_VERSION + 1);
      await b.client.command(["SET", PREFIX + full, planted]);

      assert.equal(await c.get(key), undefined, "no loader: a miss, not the value");
      assert.equal(await c.get(key, { loader: () => "loaded" }), "loaded");
      await c.flush();
      assert.deepEqual(
        await raw(b, full),
        planted,
        "a newer entry is neither deleted nor replaced",
      );
      assert.equal(await b.get(full), undefined, "RedisBackend.get reads it as a miss too");
      assert.deepEqual(logger.warnings, []);
      assert.deepEqual(logger.errors, []);
      assert.equal(c.getMetrics().l2Errors, 0);
      assert.equal(c.getMetrics().breaker, "closed");
      assert.ok(b.formatMisses >= 2, `formatMisses = ${b.formatMisses}`);
      assert.ok(logger.debugs.length <= 1, logger.debugs.join("\n"));
    });

    test(`an entry of an older version is a miss, and the loaded value replaces it (${how})`, async () => {
      const { backend: b, logger } = backend();
      const c = cache<string>(b, namespace, logger);
      const key = `older${++unique}`;
      const full = namespacePrefix(namespace) + key;
      await b.client.command([
        "SET",
        PREFIX + full,
        entryBytes(namespace, "written by the last release", FORMAT_VERSION - 1),
      ]);

      let loads = 0;
      const loader = () => `loaded ${++loads}`;
      assert.equal(await c.get(key, { loader }), "loaded 1");
      await c.flush();
      const stored = await raw(b, full);
      assert.ok(stored !== undefined, "the key holds the reloaded entry");
      assert.equal(stored[2], FORMAT_VERSION, "upgraded in place to this build's version");
      assert.deepEqual(logger.warnings, []);
      assert.deepEqual(logger.errors, []);

      const { backend: b2, logger: logger2 } = backend();
      const reader = cache<string>(b2, namespace, logger2);
      assert.equal(await reader.get(key, { loader }), "loaded 1", "another instance reads it");
      assert.equal(loads, 1);
      assert.equal(reader.getMetrics().l2Hits, 1);
    });
  }

  test("garbage that is not an envelope is still a logged miss (unchanged)", async () => {
    const { backend: b, logger } = backend();
    const c = cache<string>(b, "", logger);
    const key = `junk${++unique}`;
    await b.client.command(["SET", PREFIX + namespacePrefix("") + key, "not an entry"]);
    assert.equal(await c.get(key, { loader: () => "loaded" }), "loaded");
    assert.equal(logger.warnings.length, 1, "a foreign value is worth a warning; a version is not");
  });

  test("a backend forced to another version reads and writes that version only", async () => {
    const next = FORMAT_VERSION + 1;
    const { backend: b1, logger: l1 } = backend(next);
    const { backend: b2, logger: l2 } = backend(next);
    const writer = cache<string>(b1, "forced", l1);
    const reader = cache<string>(b2, "forced", l2);
    const key = `forced${++unique}`;
    await writer.set(key, "v");
    await writer.flush();
    const stored = await raw(b1, namespacePrefix("forced") + key);
    assert.equal(stored?.[2], next);
    assert.equal(await reader.get(key), "v");
    assert.throws(() => decodeValue(stored!), /version/, "this build's decoder refuses it");
  });

  for (
    const [oldVersion, newVersion] of [[FORMAT_VERSION, FORMAT_VERSION + 1], [
      FORMAT_VERSION - 1,
      FORMAT_VERSION,
    ]]
  ) {
    test(`a rolling deploy: versions ${oldVersion} and ${newVersion} share one Redis without wrong values`, async () => {
      const namespace = `fleet${++unique}`;
      const { backend: ob, logger: ol } = backend(oldVersion);
      const { backend: nb, logger: nl } = backend(newVersion);
      const old = cache<number>(ob, namespace, ol);
      const neu = cache<number>(nb, namespace, nl);
      const db = new Map<string, number>();
      const loader = (k: string) => () => db.get(k)!;
      const tags = ["t"];
      const read = (c: AsyncCache<number>, k: string) => c.get(k, { loader: loader(k), tags });
      /** Waits until `c` has heard `n` more invalidations than `before`. */
      const heard = (c: AsyncCache<number>, before: number, n = 1) =>
        waitFor(() => c.getMetrics().invalidations >= before + n, 3_000);
      const check = async (k: string, what: string) => {
        assert.equal(await read(old, k), db.get(k), `old, ${what}`);
        assert.equal(await read(neu, k), db.get(k), `new, ${what}`);
        await old.flush();
        await neu.flush();
        assert.equal(await read(old, k), db.get(k), `old again, ${what}`);
        assert.equal(await read(neu, k), db.get(k), `new again, ${what}`);
      };

      db.set("a", 1);
      db.set("b", 1);
      await check("a", "first loads");
      await check("b", "first loads");
      assert.equal(old.getMetrics().coherence, "tracking");
      assert.equal(neu.getMetrics().coherence, "tracking");

      // set on either side reaches the other's L1 (same Redis key: tracking tells it).
      for (const [writer, other, name] of [[old, neu, "old"], [neu, old, "new"]] as const) {
        const before = other.getMetrics().invalidations;
        db.set("a", db.get("a")! + 1);
        await writer.set("a", db.get("a")!, { tags });
        await writer.flush();
        await heard(other, before);
        await check("a", `after set on ${name}`);
      }

      // delete on either side.
      for (const [writer, other, name] of [[old, neu, "old"], [neu, old, "new"]] as const) {
        const before = other.getMetrics().invalidations;
        db.set("a", db.get("a")! + 1);
        await writer.delete("a");
        await heard(other, before);
        await check("a", `after delete on ${name}`);
      }

      // invalidateTags on either side: the tag counters are shared by every version.
      for (const [writer, other, name] of [[old, neu, "old"], [neu, old, "new"]] as const) {
        await check("b", `before invalidateTags on ${name}`);
        const before = other.getMetrics().invalidations;
        db.set("b", db.get("b")! + 1);
        await writer.invalidateTags(tags);
        await heard(other, before);
        await check("b", `after invalidateTags on ${name}`);
      }

      // clear() of the namespace on either side: its generation is shared too.
      for (const [writer, other, name] of [[old, neu, "old"], [neu, old, "new"]] as const) {
        const before = other.getMetrics().invalidations;
        db.set("b", db.get("b")! + 1);
        await writer.clear();
        await writer.flush();
        await heard(other, before);
        await check("b", `after clear on ${name}`);
      }

      for (const logger of [ol, nl]) {
        assert.deepEqual(logger.warnings, []);
        assert.deepEqual(logger.errors, []);
      }
      assert.equal(old.getMetrics().l2Errors, 0);
      assert.equal(neu.getMetrics().l2Errors, 0);
      assert.ok(ob.formatMisses + nb.formatMisses > 0, "they did meet each other's entries");
    });
  }
});
