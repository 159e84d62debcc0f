/**
 * Case 6: the stale-read checker (issue 10). Three AsyncCache instances,
 * each with its own RedisBackend (its own connection), on one redis-server.
 * A writer instance bumps a version of 8 keys, one write every ~1 ms
 * (`set` + `flush`, retried until the L2 write succeeded); the "database"
 * is a Map in memory, and the readers' loader returns its current version.
 * Two reader instances run 4 read loops each (`get(key, { loader })` on a
 * random key). A read is **stale** when it returns a version older than one
 * whose write resolved more than `W_MS` (5 ms) before the read began.
 * Must be 0, in a clean run and in one where every connection is killed
 * (`CLIENT KILL TYPE normal SKIPME yes`) once a second.
 *
 * Propagation: each reader's backend is listened to with `onInvalidate`
 * (after its cache's own listener, so the L1 copy is already gone). A push
 * from Redis (not a write of the reader's own) is matched to the writer's
 * latest write of that key: the delay from the write resolving (can be
 * negative: the push and the writer's reply leave Redis together), and
 * from the write being issued. The peer row: bentocache with its Redis
 * bus, two instances, the time from `await a.set()` resolving to B's
 * `bus:message:received` (emitted in the same tick that B's L1 entry is
 * expired). Both measured idle (one write at a time, B holding the key in
 * L1), ours also under the checker's load.
 *
 * @module
 */
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisBusDriver, redisDriver } from "bentocache/drivers/redis";
import { setImmediate } from "node:timers";
import { smoke } from "../_common.mjs";

/** The window: a write must have resolved this long before a read began for an older read to count. */
export const W_MS = 5;
const KEYS = 8;
const LOOPS = 4;
const DURATION_MS = smoke ? 1_500 : 10_000;
const KILL_EVERY_MS = smoke ? 300 : 1_000;
const IDLE_WRITES = smoke ? 20 : 300;
const TTL = 3_600_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const now = () => performance.now();

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** p50 / p99 / mean of delays in ms, as a latency row (ns). */
function latencyRow(name, delaysMs) {
  const s = [...delaysMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return {
    name,
    p50_ns: quantile(s, 0.5) * 1e6,
    p99_ns: quantile(s, 0.99) * 1e6,
    avg_ns: mean * 1e6,
    samples: s.length,
  };
}

/**
 * One checker run.
 *
 * @param lib The library under test (AsyncCache, RedisBackend, RedisClient, defaultConnect).
 * @param port The redis-server port.
 * @param options `durationMs`, `killEveryMs` (0: no kills).
 */
export async function checkStaleReads(lib, port, { durationMs, killEveryMs }) {
  const { AsyncCache, RedisBackend, RedisClient, defaultConnect } = lib;
  const prefix = `stale-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}:`;
  const quiet = { warn() {}, error() {}, debug() {} };
  const backends = [];
  const instance = () => {
    const backend = new RedisBackend({
      host: "127.0.0.1",
      port,
      prefix,
      socketTimeout: 1_000,
      logger: quiet,
    });
    backends.push(backend);
    const cache = new AsyncCache({
      maxsize: 1_000,
      defaultTtl: TTL,
      remoteCache: backend,
      logger: quiet,
    });
    return { backend, cache };
  };
  const writer = instance();
  const readers = [instance(), instance()];
  const admin = new RedisClient({ connect: defaultConnect, host: "127.0.0.1", port });

  const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
  /** Backend key (what `onInvalidate` reports) → index: a cache without a namespace stores `k` as `0::k`. */
  const index = new Map(keys.map((k, i) => [`0::${k}`, i]));
  /** The "database": the current version of each key. */
  const db = new Map(keys.map((k) => [k, 0]));
  /** Per key: [version, resolved at] of each completed write, in order. */
  const completed = keys.map(() => []);
  /** Per key: the latest write issued: { version, issued, resolved, seen: [t per reader] }. */
  const latest = new Array(KEYS).fill(undefined);
  const writes = [];

  // Seed version 1 of every key (the readers then hit L2, and track the keys).
  for (const k of keys) {
    db.set(k, 1);
    await writer.cache.set(k, 1);
  }
  await writer.cache.flush();
  const t0 = now();
  for (let i = 0; i < KEYS; i++) completed[i].push([1, t0]);

  // Propagation: pushes from Redis on each reader's connection.
  readers.forEach((r, ri) => {
    let received = r.backend.invalidationsReceived;
    r.backend.onInvalidate((changed) => {
      const t = now();
      const count = r.backend.invalidationsReceived;
      const fromServer = count !== received;
      received = count;
      if (!fromServer || changed === null) return;
      for (const k of changed) {
        const w = latest[index.get(k)];
        if (w !== undefined && w.seen[ri] === undefined && t >= w.issued) w.seen[ri] = t;
      }
    });
  });

  let stop = false;
  let failedWrites = 0;
  let kills = 0;

  const writeLoop = async () => {
    for (let n = 0; !stop; n++) {
      const i = n % KEYS;
      const k = keys[i];
      const version = db.get(k) + 1;
      db.set(k, version); // the database commits first, then the cache is told
      const w = { key: i, version, issued: now(), resolved: undefined, seen: [] };
      latest[i] = w;
      writes.push(w);
      for (;;) {
        const before = writer.cache.getMetrics().l2Writes;
        await writer.cache.set(k, version);
        await writer.cache.flush();
        if (writer.cache.getMetrics().l2Writes > before) break;
        failedWrites++; // the connection was killed under it (or the breaker skipped it): retry
        await sleep(2);
      }
      w.resolved = now();
      completed[i].push([version, w.resolved]);
      await sleep(1);
    }
  };

  /** The newest version of key i whose write resolved at or before t. */
  const floor = (i, t) => {
    const list = completed[i];
    for (let j = list.length - 1; j >= 0; j--) if (list[j][1] <= t) return list[j][0];
    return 0;
  };

  let reads = 0;
  let stale = 0;
  let loaderCalls = 0;
  const examples = [];
  const readLoop = async (reader, ri) => {
    const loaders = keys.map((k) => () => {
      loaderCalls++;
      return db.get(k);
    });
    let n = 0;
    while (!stop) {
      const i = (Math.random() * KEYS) | 0;
      const began = now();
      const min = floor(i, began - W_MS);
      const version = await reader.cache.get(keys[i], { loader: loaders[i] });
      reads++;
      if (!(version >= min)) {
        stale++;
        if (examples.length < 5) {
          examples.push({
            reader: ri,
            key: keys[i],
            read: version,
            expectedAtLeast: min,
            beganMs: Math.round(began - t0),
            tookMs: +(now() - began).toFixed(2),
          });
        }
      }
      // Yield to I/O now and then, as a server between requests does: an L1
      // hit resolves in a microtask, and a loop of those would starve the sockets.
      if (++n % 8 === 0) await tick();
    }
  };

  const killLoop = async () => {
    if (!(killEveryMs > 0)) return;
    while (!stop) {
      await sleep(killEveryMs);
      if (stop) break;
      const n = await admin.command(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
      kills += typeof n === "number" ? n : 0;
    }
  };

  const started = now();
  const loops = [writeLoop(), killLoop()];
  readers.forEach((r, ri) => {
    for (let j = 0; j < LOOPS; j++) loops.push(readLoop(r, ri));
  });
  await sleep(durationMs);
  stop = true;
  await Promise.all(loops);
  const seconds = (now() - started) / 1000;

  const fromResolved = [];
  const fromIssued = [];
  for (const w of writes) {
    for (const t of w.seen) {
      if (t === undefined || w.resolved === undefined) continue;
      fromResolved.push(t - w.resolved);
      fromIssued.push(t - w.issued);
    }
  }
  const metrics = readers.map((r) => r.cache.getMetrics());
  for (const r of [writer, ...readers]) await r.cache.close();
  for (const b of backends) await b.close();
  await admin.close();
  return {
    seconds,
    reads,
    readsPerSecond: reads / seconds,
    stale,
    examples,
    writes: writes.length,
    failedWrites,
    kills,
    loaderCalls,
    invalidations: metrics.reduce((a, m) => a + m.invalidations, 0),
    l1Hits: metrics.reduce((a, m) => a + m.l1Hits, 0),
    coherence: metrics.map((m) => m.coherence),
    fromResolved,
    fromIssued,
  };
}

/** Idle propagation for ours: B holds the key (an L2 hit, so tracked), A writes, B hears it. */
async function idleOurs(lib, port) {
  const { AsyncCache, RedisBackend } = lib;
  const prefix = `stale-idle-${Date.now().toString(36)}:`;
  const backends = [0, 1].map(() => new RedisBackend({ host: "127.0.0.1", port, prefix }));
  const [a, b] = backends.map((backend) =>
    new AsyncCache({ maxsize: 1_000, defaultTtl: TTL, remoteCache: backend })
  );
  let heard;
  backends[1].onInvalidate(() => heard?.(now()));
  const delays = { resolved: [], issued: [] };
  for (let n = 0; n < IDLE_WRITES; n++) {
    const key = `k${n % 4}`;
    if (n < 4) {
      await a.set(key, 0);
      await a.flush();
    }
    await b.get(key); // an L1 copy in B (tracked)
    const arrived = new Promise((resolve) => {
      heard = resolve;
      setTimeout(() => resolve(undefined), 1_000);
    });
    const issued = now();
    await a.set(key, n + 1);
    await a.flush();
    const resolved = now();
    const t = await arrived;
    if (t !== undefined) {
      delays.resolved.push(t - resolved);
      delays.issued.push(t - issued);
    }
    await sleep(1);
  }
  await a.close();
  await b.close();
  for (const backend of backends) await backend.close();
  return delays;
}

/** Idle propagation for bentocache's Redis bus: the same protocol. */
async function idleBento(port) {
  const prefix = `stale-bento-${Date.now().toString(36)}`;
  const make = () =>
    new BentoCache({
      default: "cache",
      prefix,
      stores: {
        cache: bentostore()
          .useL1Layer(memoryDriver({ maxItems: 1_000 }))
          .useL2Layer(redisDriver({ connection: { host: "127.0.0.1", port } }))
          .useBus(redisBusDriver({ connection: { host: "127.0.0.1", port } })),
      },
    });
  const a = make();
  const b = make();
  let heard;
  b.on("bus:message:received", () => heard?.(now()));
  await sleep(200); // both buses subscribed
  const delays = { resolved: [], issued: [] };
  let lost = 0;
  for (let n = 0; n < IDLE_WRITES; n++) {
    const key = `k${n % 4}`;
    await b.getOrSet({ key, factory: () => 0, ttl: TTL }); // an L1 copy in B
    const arrived = new Promise((resolve) => {
      heard = resolve;
      setTimeout(() => resolve(undefined), 1_000);
    });
    const issued = now();
    await a.set({ key, value: n + 1, ttl: TTL });
    const resolved = now();
    const t = await arrived;
    if (t === undefined) lost++;
    else {
      delays.resolved.push(t - resolved);
      delays.issued.push(t - issued);
    }
    await sleep(1);
  }
  await a.disconnect();
  await b.disconnect();
  return { delays, lost };
}

function describeRun(label, r) {
  console.log(
    `  ${label}: ${r.reads.toLocaleString("en-US")} reads in ${r.seconds.toFixed(1)} s (${
      Math.round(r.readsPerSecond).toLocaleString("en-US")
    }/s, ${
      (100 * r.l1Hits / r.reads).toFixed(1)
    }% L1), ${r.stale} stale (W = ${W_MS} ms), ${r.writes} writes (${r.failedWrites} retried), ${r.kills} connections killed, ${r.loaderCalls} loader calls, ${r.invalidations} invalidations, coherence ${
      r.coherence.join("/")
    }`,
  );
  for (const e of r.examples) console.log(`    stale: ${JSON.stringify(e)}`);
}

export async function run(lib, port) {
  const clean = await checkStaleReads(lib, port, { durationMs: DURATION_MS, killEveryMs: 0 });
  describeRun("no kills", clean);
  const killed = await checkStaleReads(lib, port, {
    durationMs: DURATION_MS,
    killEveryMs: KILL_EVERY_MS,
  });
  describeRun(`CLIENT KILL every ${KILL_EVERY_MS} ms`, killed);
  const ours = await idleOurs(lib, port);
  const bento = await idleBento(port);
  if (bento.lost > 0) {
    console.log(`  bentocache bus: ${bento.lost} messages not received within 1 s`);
  }

  const checkerRow = (name, r) => ({
    name: `${name}: ${r.stale} stale of ${r.reads.toLocaleString("en-US")} reads`,
    ops_per_s: r.readsPerSecond,
    avg_ns: 1e11 / r.readsPerSecond,
    stale_reads: r.stale,
    reads: r.reads,
    writes: r.writes,
    kills: r.kills,
    window_ms: W_MS,
  });
  const rows = [
    latencyRow("bentocache (Redis bus), idle: write issued → B's L1 expired", bento.delays.issued),
    latencyRow("async-cache (RESP3 tracking), idle: write issued → B's L1 drop", ours.issued),
    latencyRow(
      "bentocache (Redis bus), idle: write resolved → B's L1 expired",
      bento.delays.resolved,
    ),
    latencyRow("async-cache (RESP3 tracking), idle: write resolved → B's L1 drop", ours.resolved),
    latencyRow("async-cache, checker load (no kills): write issued → drop", clean.fromIssued),
    latencyRow("async-cache, checker load (no kills): write resolved → drop", clean.fromResolved),
  ];
  for (const row of rows) {
    console.log(
      `  ${row.name.padEnd(72)} p50 ${(row.p50_ns / 1e6).toFixed(3)} ms  p99 ${
        (row.p99_ns / 1e6).toFixed(3)
      } ms  (${row.samples})`,
    );
  }
  const checker = [
    checkerRow("no kills", clean),
    checkerRow(`CLIENT KILL every ${KILL_EVERY_MS} ms`, killed),
  ];
  return [
    {
      id: "stale_reads",
      title: `Stale reads: 1 writer, 2 readers × ${LOOPS} loops on ${KEYS} keys, ${
        DURATION_MS / 1000
      } s each (window ${W_MS} ms)`,
      baseline: checker[0].name,
      unit: "ops",
      rows: checker,
    },
    {
      id: "stale_propagation",
      title: "Invalidation propagation: a write on A → B's L1 copy dropped",
      baseline: rows[0].name,
      unit: "latency",
      rows,
    },
  ];
}
