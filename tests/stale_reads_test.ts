/**
 * Issue 10, the stale-read checker (short version; `npm run bench` runs the
 * 10 s one, bench/cases/stale_reads.mjs). Three caches, each on its own
 * RedisBackend, on one real redis-server: a writer bumps the version of 8
 * keys (`set` + `flush`, retried until the L2 write succeeded, after the
 * in-memory "database" the readers' loader reads), and 2 readers × 4 loops
 * `get` random keys. A read is stale when it returns a version older than
 * one whose write resolved more than `W_MS` before the read began.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { AsyncCache, RedisBackend, RedisClient } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { RecordingLogger, sleep } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

/** The window: writes that resolved less than this long before a read began may still be unseen. */
const W_MS = 5;
const KEYS = 8;
const LOOPS = 4;
interface Outcome {
  reads: number;
  stale: number;
  writes: number;
  kills: number;
  examples: string[];
}

async function check(port: number, durationMs: number, killEveryMs: number): Promise<Outcome> {
  const prefix = `stale-${Math.random().toString(36).slice(2, 8)}:`;
  const backends: RedisBackend[] = [];
  const instance = () => {
    const backend = new RedisBackend({
      host: "127.0.0.1",
      port,
      prefix,
      socketTimeout: 1_000,
      logger: new RecordingLogger(),
    });
    backends.push(backend);
    return new AsyncCache<number>({
      maxsize: 1_000,
      defaultTtl: 60_000,
      remoteCache: backend,
      logger: new RecordingLogger(),
    });
  };
  const writer = instance();
  const readers = [instance(), instance()];
  const admin = new RedisClient({ connect: defaultConnect, host: "127.0.0.1", port });
  const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
  const db = keys.map(() => 1);
  /** Per key: [version, resolved at] of each completed write. */
  const completed: [number, number][][] = keys.map(() => []);
  const out: Outcome = { reads: 0, stale: 0, writes: 0, kills: 0, examples: [] };
  try {
    for (const k of keys) await writer.set(k, 1);
    await writer.flush();
    const t0 = performance.now();
    for (const list of completed) list.push([1, t0]);
    let stop = false;

    const writeLoop = async () => {
      for (let n = 0; !stop; n++) {
        const i = n % KEYS;
        const version = ++db[i];
        for (;;) {
          const before = writer.getMetrics().l2Writes;
          await writer.set(keys[i], version);
          await writer.flush();
          if (writer.getMetrics().l2Writes > before) break;
          await sleep(2); // the write failed (connection killed): retry it
        }
        completed[i].push([version, performance.now()]);
        out.writes++;
        await sleep(1);
      }
    };
    const floor = (i: number, t: number) => {
      const list = completed[i];
      for (let j = list.length - 1; j >= 0; j--) if (list[j][1] <= t) return list[j][0];
      return 0;
    };
    const readLoop = async (reader: AsyncCache<number>) => {
      const loaders = keys.map((_, i) => () => db[i]);
      for (let n = 1; !stop; n++) {
        const i = (Math.random() * KEYS) | 0;
        const began = performance.now();
        const min = floor(i, began - W_MS);
        const version = await reader.get(keys[i], { loader: loaders[i] });
        out.reads++;
        if (!(version !== undefined && version >= min)) {
          out.stale++;
          if (out.examples.length < 3) {
            out.examples.push(
              `${keys[i]}: read ${version}, expected ≥ ${min} at ${(began - t0).toFixed(0)} ms`,
            );
          }
        }
        // An L1 hit resolves in a microtask: yield to I/O now and then, as a server does.
        if (n % 8 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    const killLoop = async () => {
      while (killEveryMs > 0 && !stop) {
        await sleep(killEveryMs);
        if (stop) break;
        const n = await admin.command(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
        out.kills += typeof n === "number" ? n : 0;
      }
    };
    const loops = [writeLoop(), killLoop()];
    for (const r of readers) for (let j = 0; j < LOOPS; j++) loops.push(readLoop(r));
    await sleep(durationMs);
    stop = true;
    await Promise.all(loops);
  } finally {
    for (const c of [writer, ...readers]) await c.close();
    for (const b of backends) await b.close();
    await admin.close();
  }
  return out;
}

describe("stale reads across instances (real Redis, RESP3 tracking)", { skip }, () => {
  let server: RedisServer;
  before(async () => (server = await startRedisServer()));
  after(() => server?.stop());

  test(`no read older than a write resolved ${W_MS} ms before it (1 s)`, async () => {
    const r = await check(server.port, 1_000, 0);
    assert.ok(r.reads > 1_000 && r.writes > 50, JSON.stringify(r));
    assert.equal(r.stale, 0, `${r.stale} stale of ${r.reads} reads: ${r.examples.join("; ")}`);
  });

  // A reconnect drops what was filled while no connection tracked it, and a
  // loader's value is written back only after an L2 miss, and only if absent.
  test("none either while every connection is killed every 250 ms (1 s)", async () => {
    const r = await check(server.port, 1_000, 250);
    assert.ok(r.reads > 1_000 && r.kills >= 9, JSON.stringify(r));
    assert.equal(r.stale, 0, `${r.stale} stale of ${r.reads} reads: ${r.examples.join("; ")}`);
  });
});
