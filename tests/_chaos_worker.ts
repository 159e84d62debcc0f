/**
 * The load side of `npm run chaos` (`scripts/chaos.ts`): runs in Deno, Bun or
 * Node (from a tsc build), with `node:*` modules only besides the library.
 *
 * Two `AsyncCache`s, each with its own `RedisBackend` (same prefix and
 * namespace, as two instances of one service would have), and `callers`
 * concurrent loops of `get(key, { loader })` (and a few `set`s) on random
 * keys. A key's value is a pure function of the key, so every value read,
 * from L1, from L2 (possibly written by another runtime) or from the loader,
 * is checked.
 *
 * The controller drives it with JSON lines on stdin and reads JSON lines
 * starting with `CHAOS ` on stdout:
 *
 * - `{ "cmd": "start", "phase": name }`: a new phase (counters restart).
 * - `{ "cmd": "down" }`: the fault began (connection attempts are counted from here).
 * - `{ "cmd": "ready" }`: Redis is usable again: poll until L2 is back in use.
 * - `{ "cmd": "end" }`: waits for that poll (bounded), then prints the phase's figures.
 * - `{ "cmd": "stop" }`: stops the callers, closes the caches, then the backends
 *   (their creator closes them), prints a final line and exits.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { AsyncCache, type Connect, type Logger, RedisBackend } from "../mod.ts";
import { defaultConnect, runtimeName } from "../runtimes/mod.ts";

/** The worker's configuration (`CHAOS_CONFIG`, JSON). */
export interface ChaosWorkerConfig {
  host: string;
  port: number;
  /** The cache's (least-privilege) user. */
  username: string;
  password: string;
  /** A user that may read the cache's keys whatever the fault (for the L2 probe). */
  probeUsername: string;
  probePassword: string;
  prefix: string;
  namespace: string;
  callers: number;
  keyspace: number;
  maxsize: number;
  ttlMs: number;
  socketTimeoutMs: number;
  connectTimeoutMs: number;
  /** Share of operations that are `set`s (0-1). */
  setRatio: number;
}

/** The figures of one phase, as printed. */
export interface PhaseReport {
  runtime: string;
  phase: string;
  seconds: number;
  gets: number;
  sets: number;
  failedGets: number;
  failedSets: number;
  wrongValues: number;
  unhandled: number;
  p50: number;
  p99: number;
  max: number;
  l2Hits: number;
  l2Errors: number;
  loads: number;
  breakerSeen: string[];
  /** ms from `ready` to a value set through each cache being readable by a fresh connection. */
  backInUseMs: (number | null)[];
  /** Connection attempts per second between `down` and `ready`. */
  attemptsPerSecDown: number | null;
  heapBeforeMb: number;
  heapAfterMb: number;
  firstError: string | undefined;
}

const cfg = JSON.parse(process.env.CHAOS_CONFIG ?? "{}") as ChaosWorkerConfig;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

// ------------------------------------------------------------ values

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

interface Value {
  key: string;
  h: number;
  list: number[];
  pad: string;
}

/** The one value `key` may ever have. */
function valueOf(key: string): Value {
  const h = hash(key);
  return { key, h, list: [h % 7, h % 11, h % 13], pad: "v".repeat(h % 300) };
}

function isValueOf(key: string, v: unknown): boolean {
  const want = valueOf(key);
  const got = v as Value | undefined;
  return got !== null && typeof got === "object" && got.key === want.key && got.h === want.h &&
    Array.isArray(got.list) && got.list.length === 3 &&
    got.list.every((x, i) => x === want.list[i]) && got.pad === want.pad;
}

// ------------------------------------------------------------ counters

let unhandled = 0;
let firstError: string | undefined;
const note = (what: string, error: unknown) => {
  firstError ??= `${what}: ${(error as Error)?.stack ?? String(error)}`.slice(0, 600);
};
process.on("unhandledRejection", (reason) => {
  unhandled++;
  note("unhandled rejection", reason);
});

/** Latencies of one phase: every sample up to a cap, then a reservoir. */
class Latencies {
  readonly #cap = 200_000;
  #samples = new Float64Array(this.#cap);
  #seen = 0;
  add(ms: number): void {
    if (this.#seen < this.#cap) this.#samples[this.#seen] = ms;
    else {
      const j = Math.floor(Math.random() * (this.#seen + 1));
      if (j < this.#cap) this.#samples[j] = ms;
    }
    this.#seen++;
  }
  summary(): { p50: number; p99: number; max: number } {
    const n = Math.min(this.#seen, this.#cap);
    const sorted = this.#samples.slice(0, n).sort();
    const at = (p: number) => n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(p * n))];
    return { p50: at(0.5), p99: at(0.99), max: n === 0 ? 0 : sorted[n - 1] };
  }
}

interface Phase {
  name: string;
  startedAt: number;
  gets: number;
  sets: number;
  failedGets: number;
  failedSets: number;
  wrong: number;
  unhandledAtStart: number;
  latencies: Latencies;
  metricsAtStart: { l2Hits: number; l2Errors: number; loads: number }[];
  breakerSeen: Set<string>;
  downAt: number | undefined;
  attemptsAtDown: number;
  attemptsPerSecDown: number | null;
  recovery: Promise<(number | null)[]> | undefined;
  heapBefore: number;
}

let attempts = 0;
/** The runtime's own transport, counting connection attempts. */
const countingConnect: Connect = (options, handlers) => {
  attempts++;
  return defaultConnect(options, handlers);
};

/** Logs the first few messages of each kind to stderr (the controller keeps them in a log file). */
function makeLogger(name: string): Logger {
  const seen = new Map<string, number>();
  const log = (level: string) => (message: string) => {
    const kind = message.replace(/[0-9]+/g, "#").slice(0, 80);
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    if (n <= 3) process.stderr.write(`[${name} ${level}] ${message}\n`);
  };
  return { warn: log("warn"), error: log("error"), debug: () => {} };
}

// ------------------------------------------------------------ the caches

function backendOptions(user: string, password: string, connect?: Connect) {
  return {
    host: cfg.host,
    port: cfg.port,
    username: user,
    password,
    prefix: cfg.prefix,
    socketTimeout: cfg.socketTimeoutMs,
    connectTimeout: cfg.connectTimeoutMs,
    transport: connect,
  };
}

const backends = [0, 1].map((i) =>
  new RedisBackend({
    ...backendOptions(cfg.username, cfg.password, countingConnect),
    clientName: `chaos-${runtimeName}-${i}`,
    logger: makeLogger(`${runtimeName}/backend${i}`),
  })
);
const caches = backends.map((backend, i) =>
  new AsyncCache<Value>({
    maxsize: cfg.maxsize,
    defaultTtl: cfg.ttlMs,
    remoteCache: backend,
    namespace: cfg.namespace,
    logger: makeLogger(`${runtimeName}/cache${i}`),
  })
);

const loader = (key: string) => async () => {
  await sleep(1); // a data source one timer tick away
  return valueOf(key);
};

// ------------------------------------------------------------ callers

let running = true;
let finishedCallers = 0;

function metricsNow() {
  return caches.map((c) => {
    const m = c.getMetrics();
    return { l2Hits: m.l2Hits, l2Errors: m.l2Errors, loads: m.loads };
  });
}

function newPhase(name: string): Phase {
  return {
    name,
    startedAt: now(),
    gets: 0,
    sets: 0,
    failedGets: 0,
    failedSets: 0,
    wrong: 0,
    unhandledAtStart: unhandled,
    latencies: new Latencies(),
    metricsAtStart: metricsNow(),
    breakerSeen: new Set(),
    downAt: undefined,
    attemptsAtDown: 0,
    attemptsPerSecDown: null,
    recovery: undefined,
    heapBefore: process.memoryUsage().heapUsed,
  };
}

async function caller(id: number): Promise<void> {
  let i = id;
  while (running) await step(i++);
  finishedCallers++;
}

async function step(i: number): Promise<void> {
  const key = `k${Math.floor(Math.random() * cfg.keyspace)}`;
  const cache = caches[i % 2];
  const p = phase;
  if (Math.random() < cfg.setRatio) {
    try {
      await cache.set(key, valueOf(key));
      p.sets++;
    } catch (error) {
      p.failedSets++;
      note("set", error);
    }
    return;
  }
  const t0 = now();
  try {
    const v = await cache.get(key, { loader: loader(key) });
    p.latencies.add(now() - t0);
    p.gets++;
    if (!isValueOf(key, v)) {
      p.wrong++;
      note("wrong value", new Error(`${key} read as ${JSON.stringify(v)?.slice(0, 200)}`));
    }
  } catch (error) {
    p.latencies.add(now() - t0);
    p.gets++;
    p.failedGets++;
    note("get", error);
  }
}

let phase: Phase = newPhase("warm-up");

/** Samples the breakers, so a phase reports every state it went through. */
const sampler = setInterval(() => {
  for (const c of caches) phase.breakerSeen.add(c.getMetrics().breaker);
}, 20);

// ------------------------------------------------------------ L2 back in use

let probeSeq = 0;

/**
 * Whether a value just set through `cache` is in Redis: read by a fresh cache
 * on a fresh connection (through the library's own read path, so the probe
 * does not depend on how keys are laid out in Redis).
 */
async function l2InUse(cache: AsyncCache<Value>): Promise<boolean> {
  const key = `probe:${runtimeName}:${process.pid}:${probeSeq++}`;
  await cache.set(key, valueOf(key), { ttl: 60_000 });
  await cache.flush();
  const quiet = { warn: () => {}, error: () => {} };
  const backend = new RedisBackend({
    ...backendOptions(cfg.probeUsername, cfg.probePassword),
    clientName: null,
    logger: quiet,
  });
  const probe = new AsyncCache<Value>({
    remoteCache: backend,
    namespace: cfg.namespace,
    logger: quiet,
  });
  try {
    return isValueOf(key, await probe.get(key));
  } catch {
    return false;
  } finally {
    await probe.close().catch(() => {});
    await backend.close().catch(() => {});
  }
}

/** ms from now until a set through each cache is readable in Redis; `null` past `boundMs`. */
function measureRecovery(boundMs: number): Promise<(number | null)[]> {
  const from = now();
  return Promise.all(caches.map(async (cache) => {
    while (now() - from < boundMs) {
      if (await l2InUse(cache).catch(() => false)) return Math.round(now() - from);
      await sleep(25);
    }
    return null;
  }));
}

// ------------------------------------------------------------ the controller's commands

function send(message: unknown): void {
  process.stdout.write(`CHAOS ${JSON.stringify(message)}\n`);
}

const mb = (bytes: number) => Math.round(bytes / 1048576 * 10) / 10;

async function report(p: Phase): Promise<PhaseReport> {
  const backInUseMs = p.recovery ? await p.recovery : [];
  const m = metricsNow();
  const delta = (f: "l2Hits" | "l2Errors" | "loads") =>
    m.reduce((sum, x, i) => sum + x[f] - (p.metricsAtStart[i]?.[f] ?? 0), 0);
  const { p50, p99, max } = p.latencies.summary();
  return {
    runtime: runtimeName,
    phase: p.name,
    seconds: Math.round((now() - p.startedAt) / 100) / 10,
    gets: p.gets,
    sets: p.sets,
    failedGets: p.failedGets,
    failedSets: p.failedSets,
    wrongValues: p.wrong,
    unhandled: unhandled - p.unhandledAtStart,
    p50: Math.round(p50 * 10) / 10,
    p99: Math.round(p99 * 10) / 10,
    max: Math.round(max),
    l2Hits: delta("l2Hits"),
    l2Errors: delta("l2Errors"),
    loads: delta("loads"),
    breakerSeen: [...p.breakerSeen],
    backInUseMs,
    attemptsPerSecDown: p.attemptsPerSecDown,
    heapBeforeMb: mb(p.heapBefore),
    heapAfterMb: mb(process.memoryUsage().heapUsed),
    firstError,
  };
}

const callers = Array.from({ length: cfg.callers }, (_, id) => caller(id));
const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();

lines.on("line", (line) => {
  queue = queue.then(() => handle(JSON.parse(line))).catch((error) => {
    send({ fatal: String((error as Error)?.stack ?? error) });
  });
});

async function handle(msg: { cmd: string; phase?: string; boundMs?: number }): Promise<void> {
  switch (msg.cmd) {
    case "start":
      firstError = undefined;
      phase = newPhase(msg.phase ?? "?");
      send({ started: phase.name });
      return;
    case "down":
      phase.downAt = now();
      phase.attemptsAtDown = attempts;
      return;
    case "ready": {
      if (phase.downAt !== undefined) {
        const seconds = (now() - phase.downAt) / 1000;
        phase.attemptsPerSecDown = Math.round((attempts - phase.attemptsAtDown) / seconds * 10) /
          10;
      }
      phase.recovery = measureRecovery(msg.boundMs ?? 15_000);
      return;
    }
    case "end":
      send({ report: await report(phase) });
      return;
    case "stop": {
      running = false;
      clearInterval(sampler);
      await Promise.race([Promise.all(callers), sleep(15_000)]);
      // The caches first (they flush), then the backends: their creator closes them.
      const closed = Promise.all(caches.map((c) => c.close()))
        .then(() => Promise.all(backends.map((b) => b.close())));
      await Promise.race([closed, sleep(15_000)]);
      lines.close();
      send({ stopped: true, unhandled, hungCallers: cfg.callers - finishedCallers });
      // Give stdout a moment, then leave even if a handle were still open.
      setTimeout(() => process.exit(0), 50);
      return;
    }
  }
}

send({ hello: runtimeName, pid: process.pid });
