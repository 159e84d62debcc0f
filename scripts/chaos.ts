/**
 * `npm run chaos`: the Redis tier under faults, on Deno, Bun and Node at once.
 *
 * 1. Starts a throwaway `redis-server` on a free loopback port, with a
 *    least-privilege user for the caches (the ACL of the README) and an admin
 *    user for this controller and the L2 probes.
 * 2. Starts one worker per runtime (`tests/_chaos_worker.ts`; Node runs a
 *    private tsc build in `.tmp/chaos-build`): each runs two `AsyncCache`s,
 *    each with its own `RedisBackend` (same prefix), under `--callers`
 *    concurrent `get(key, { loader })` loops. Every value is a pure function
 *    of its key, so every value read is checked, including those another
 *    runtime wrote.
 * 3. Runs the phases, one fault each: SIGKILL + restart, SIGSTOP/SIGCONT,
 *    `maxmemory` with `noeviction` (OOM on SET), a password change, an ACL
 *    change, `CLIENT KILL` of the caches' connections.
 * 4. Prints per phase and runtime: gets, failed gets, wrong values, unhandled
 *    rejections, p50/p99/max latency against `socketTimeout`, the time from
 *    Redis ready to L2 back in use (a value set through each cache and
 *    flushed, read back on a fresh connection), connection attempts per
 *    second while down, and heap used before and after.
 *
 * Exits 1 on any failed get, wrong value, unhandled rejection, hung caller or
 * dead worker. Every process it starts is stopped by PID, also on failure or
 * Ctrl-C. Loopback only; bounded in time (`--short`: about 25 s in all).
 *
 * Run: `deno run -A scripts/chaos.ts [--short] [--hold=SECONDS]
 *       [--runtimes=deno,bun,node] [--callers=N]`
 *
 * @module
 */
import { RedisClient, RedisReplyError } from "../mod.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { type RedisServer, startRedisServer } from "../tests/_redis_server.ts";
import type { ChaosWorkerConfig, PhaseReport } from "../tests/_chaos_worker.ts";
import { BIN, buildForNode, flag, NODE, onInterrupt, ROOT, stopChild, tail } from "./_processes.ts";

// ------------------------------------------------------------ options

type Runtime = "deno" | "bun" | "node";
const SHORT = flag("short") !== undefined;
/** How long each fault lasts, in ms. */
const HOLD_MS = Number(flag("hold") ?? (SHORT ? 1 : 5)) * 1000;
const CALLERS = Number(flag("callers") ?? (SHORT ? 16 : 48));
const RUNTIMES = (flag("runtimes") ?? "deno,bun,node").split(",") as Runtime[];
/** How long a worker may take to see L2 back in use after a fault ends. */
const RECOVERY_BOUND_MS = 15_000;
if (!RUNTIMES.every((r) => ["deno", "bun", "node"].includes(r))) {
  throw new Error("--runtimes takes deno, bun and node");
}
if (!(HOLD_MS >= 300 && HOLD_MS <= 120_000)) throw new Error("--hold must be 0.3-120 seconds");
if (!(CALLERS >= 1 && CALLERS <= 1000)) throw new Error("--callers must be 1-1000");

const LOGS = await Deno.makeTempDir({ prefix: "async-cache-chaos-" });

const ADMIN = { user: "chaos-admin", password: "admin-secret" };
const CACHE = { user: "chaos-cache", password: "cache-secret" };
const PREFIX = "chaos:";
const WORKER: Omit<ChaosWorkerConfig, "host" | "port"> = {
  username: CACHE.user,
  password: CACHE.password,
  probeUsername: ADMIN.user,
  probePassword: ADMIN.password,
  prefix: PREFIX,
  namespace: "svc",
  callers: CALLERS,
  keyspace: 5000,
  maxsize: 500,
  ttlMs: 2000,
  socketTimeoutMs: 250,
  connectTimeoutMs: 500,
  setRatio: 0.05,
};
/** The README's least-privilege ACL, for this prefix. */
const CACHE_ACL =
  `~${PREFIX}* resetchannels -@all +get +mget +set +pttl +unlink +scan +ping +hello`;

// ------------------------------------------------------------ processes

interface Worker {
  runtime: Runtime;
  child: Deno.ChildProcess;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
  log: string;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
  output: Promise<void>;
  /** Messages not yet taken by `next`. */
  inbox: Record<string, unknown>[];
  wake: (() => void) | undefined;
}

const workers: Worker[] = [];
let redis: RedisServer | undefined;
let admin: RedisClient | undefined;
/** A kill or restart of Redis under way: cleanup waits for it. */
let redisOp: Promise<unknown> = Promise.resolve();
let cleaning: Promise<void> | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder();

async function spawnWorker(runtime: Runtime, cmd: string, args: string[], env: string) {
  if (cleaning) throw new Error("stopping: no new process");
  const log = `${LOGS}/${runtime}.log`;
  const file = await Deno.open(log, { write: true, create: true, truncate: true });
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", CHAOS_CONFIG: env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w: Worker = {
    runtime,
    child,
    stdin: child.stdin.getWriter(),
    log,
    exited: false,
    status: child.status,
    output: Promise.resolve(),
    inbox: [],
    wake: undefined,
  };
  const dec = new TextDecoder();
  const readLines = async () => {
    let buffered = "";
    for await (const chunk of child.stdout) {
      buffered += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("CHAOS ")) {
          w.inbox.push(JSON.parse(line.slice(6)));
          w.wake?.();
        } else await file.write(enc.encode(line + "\n"));
      }
    }
  };
  const copy = async () => {
    for await (const chunk of child.stderr) await file.write(chunk);
  };
  w.output = Promise.all([readLines(), copy()]).then(() => {}, () => {}).finally(() =>
    file.close()
  );
  w.status.then(() => {
    w.exited = true;
    w.wake?.();
  }, () => (w.exited = true));
  workers.push(w);
  return w;
}

/** The next message from `w` that has `field`, within `ms`. */
async function next(w: Worker, field: string, ms: number): Promise<Record<string, unknown>> {
  const until = Date.now() + ms;
  for (;;) {
    const i = w.inbox.findIndex((m) => field in m || "fatal" in m);
    if (i !== -1) {
      const [m] = w.inbox.splice(i, 1);
      if ("fatal" in m) throw new Error(`${w.runtime} worker: ${m.fatal}`);
      return m;
    }
    if (w.exited) throw new Error(`${w.runtime} worker exited:\n${await tail(w.log)}`);
    const left = until - Date.now();
    if (left <= 0) throw new Error(`${w.runtime} worker: no "${field}" in ${ms} ms`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, left);
      w.wake = () => {
        clearTimeout(t);
        r();
      };
    });
    w.wake = undefined;
  }
}

async function tell(message: Record<string, unknown>): Promise<void> {
  const line = enc.encode(JSON.stringify(message) + "\n");
  await Promise.all(workers.map((w) => w.stdin.write(line).catch(() => {})));
}

/** SIGTERM by PID, SIGKILL after 3 s; waits for the exit. */
async function stopWorker(w: Worker): Promise<void> {
  if (!w.exited) await stopChild(w.child.pid, w.status);
  await w.stdin.close().catch(() => {});
  await w.output;
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(workers.map((w) => stopWorker(w).catch(() => {})));
    await admin?.close().catch(() => {});
    await redisOp.catch(() => {});
    await redis?.stop().catch(() => {}); // SIGCONTs a paused server first
  })();
  return cleaning;
}

onInterrupt(cleanup);

// ------------------------------------------------------------ Redis administration

/** An admin command, retried while Redis is reconnecting (bounded). */
async function adminCommand(args: (string | number | Uint8Array)[]): Promise<unknown> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await admin!.command(args);
    } catch (error) {
      if (error instanceof RedisReplyError || Date.now() > until) throw error;
      await sleep(50);
    }
  }
}

/** Fills Redis past a fresh `maxmemory` with big keys outside the cache prefix. */
async function fillToMaxmemory(): Promise<{ keys: number; megabytes: number }> {
  await adminCommand(["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
  const info = String(new TextDecoder().decode(await adminCommand(["INFO", "memory"]) as never));
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  const headroom = 8 * 1024 * 1024;
  await adminCommand(["CONFIG", "SET", "maxmemory", String(used + headroom)]);
  const big = new Uint8Array(512 * 1024).fill(120);
  for (let i = 0; i < 200; i++) {
    try {
      await adminCommand(["SET", `fill:${i}`, big]);
    } catch (error) {
      if (error instanceof RedisReplyError && error.code === "OOM") {
        return { keys: i, megabytes: i / 2 };
      }
      throw error;
    }
  }
  throw new Error("Redis never answered OOM while filling to maxmemory");
}

async function unfill(keys: number): Promise<void> {
  const names = Array.from({ length: keys + 1 }, (_, i) => `fill:${i}`);
  await adminCommand(["UNLINK", ...names]);
  await adminCommand(["CONFIG", "SET", "maxmemory", "0"]);
}

// ------------------------------------------------------------ phases

interface Fault {
  name: string;
  /** Starts the fault; returns a note for the report. */
  begin(): Promise<string>;
  /** During the fault (after `begin`), for `HOLD_MS`. */
  during?(): Promise<void>;
  /** Ends the fault: Redis is usable when this resolves. */
  end(): Promise<void>;
}

let filled = 0;
const FAULTS: Fault[] = [
  {
    name: "SIGKILL + restart",
    begin: async () => {
      await (redisOp = redis!.kill());
      return "redis-server SIGKILLed";
    },
    end: async () => {
      const t0 = Date.now();
      await (redisOp = redis!.restart());
      console.log(`   restarted (empty) in ${Date.now() - t0} ms, pid ${redis!.pid}`);
    },
  },
  {
    name: "SIGSTOP / SIGCONT",
    begin: () => Promise.resolve(void redis!.pause()).then(() => "redis-server SIGSTOPped"),
    end: () => Promise.resolve(redis!.resume()),
  },
  {
    name: "OOM (maxmemory, noeviction)",
    begin: async () => {
      const { keys, megabytes } = await fillToMaxmemory();
      filled = keys;
      return `OOM on SET after ${megabytes} MB of fill:* keys`;
    },
    end: () => unfill(filled),
  },
  {
    name: "password change",
    begin: async () => {
      await adminCommand(["ACL", "SETUSER", CACHE.user, "resetpass", ">another-secret"]);
      await adminCommand(["CLIENT", "KILL", "USER", CACHE.user]);
      return `${CACHE.user}'s password changed, its connections killed`;
    },
    end: async () => {
      await adminCommand(["ACL", "SETUSER", CACHE.user, "resetpass", `>${CACHE.password}`]);
    },
  },
  {
    name: "ACL change (-mget -set)",
    begin: async () => {
      await adminCommand(["ACL", "SETUSER", CACHE.user, "-mget", "-set"]);
      return `${CACHE.user} lost MGET and SET (NOPERM)`;
    },
    end: async () => {
      await adminCommand(["ACL", "SETUSER", CACHE.user, "+mget", "+set"]);
    },
  },
  {
    name: "CLIENT KILL",
    begin: () => Promise.resolve(`CLIENT KILL USER ${CACHE.user} every 200 ms`),
    during: async () => {
      const until = Date.now() + HOLD_MS;
      while (Date.now() < until) {
        await adminCommand(["CLIENT", "KILL", "USER", CACHE.user]).catch(() => {});
        await sleep(200);
      }
    },
    end: () => Promise.resolve(),
  },
];

async function runPhase(fault: Fault | undefined): Promise<PhaseReport[]> {
  const name = fault?.name ?? "baseline (Redis up)";
  await tell({ cmd: "start", phase: name });
  await Promise.all(workers.map((w) => next(w, "started", 5000)));
  console.log(`\n== ${name}`);
  if (fault) {
    const t0 = Date.now();
    const noteText = await fault.begin();
    await tell({ cmd: "down" });
    console.log(`   ${noteText}`);
    if (fault.during) await fault.during();
    else await sleep(Math.max(0, HOLD_MS - (Date.now() - t0)));
    await fault.end();
    await tell({ cmd: "ready", boundMs: RECOVERY_BOUND_MS });
    console.log(`   Redis usable again after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    await sleep(HOLD_MS);
  }
  await tell({ cmd: "end" });
  const reports = await Promise.all(
    workers.map(async (w) => (await next(w, "report", RECOVERY_BOUND_MS + 10_000)).report),
  ) as PhaseReport[];
  printPhase(reports);
  return reports;
}

// ------------------------------------------------------------ report

const pad = (s: unknown, n: number) => String(s).padStart(n);

function printPhase(reports: PhaseReport[]): void {
  console.log(
    `   ${"runtime".padEnd(8)}${pad("gets", 9)}${pad("failed", 8)}${pad("wrong", 7)}${
      pad("unhandled", 10)
    }${pad("p50 ms", 8)}${pad("p99 ms", 8)}${pad("max ms", 8)}${pad("L2 hits", 9)}${
      pad("L2 errors", 10)
    }${pad("loads", 8)}  ${"L2 back (ms)".padEnd(14)}${pad("conn/s down", 12)}  heap MB`,
  );
  for (const r of reports) {
    const back = r.backInUseMs.length === 0
      ? "-"
      : r.backInUseMs.map((x) => x === null ? "never" : String(x)).join(" / ");
    console.log(
      `   ${r.runtime.padEnd(8)}${pad(r.gets, 9)}${pad(r.failedGets, 8)}${pad(r.wrongValues, 7)}${
        pad(r.unhandled, 10)
      }${pad(r.p50, 8)}${pad(r.p99, 8)}${pad(r.max, 8)}${pad(r.l2Hits, 9)}${pad(r.l2Errors, 10)}${
        pad(r.loads, 8)
      }  ${back.padEnd(14)}${
        pad(r.attemptsPerSecDown ?? "-", 12)
      }  ${r.heapBeforeMb} -> ${r.heapAfterMb}`,
    );
    if (r.failedGets || r.wrongValues || r.unhandled) {
      console.log(`     first error: ${r.firstError}`);
    }
  }
  const breakers = reports.map((r) => `${r.runtime}: ${r.breakerSeen.join(", ")}`).join("; ");
  console.log(`   breaker states seen: ${breakers}`);
}

// ------------------------------------------------------------ main

let failed = false;
const started = Date.now();
try {
  console.log(
    `chaos: ${RUNTIMES.join(" + ")}, ${CALLERS} callers x 2 caches each, faults of ${
      HOLD_MS / 1000
    } s, socketTimeout ${WORKER.socketTimeoutMs} ms, connectTimeout ${WORKER.connectTimeoutMs} ms`,
  );
  // The worker (and what it imports) compiled, as Node runs the npm package.
  const nodeEntry = RUNTIMES.includes("node")
    ? await buildForNode("chaos-build", ["tests/_chaos_worker.ts"], "tests/_chaos_worker.js")
    : undefined;
  redis = await startRedisServer({
    users: [
      "default off",
      `${ADMIN.user} on >${ADMIN.password} ~* &* +@all`,
      `${CACHE.user} on >${CACHE.password} ${CACHE_ACL}`,
    ],
  });
  console.log(`redis-server pid ${redis.pid} on ${redis.host}:${redis.port}; ACL ${CACHE_ACL}`);
  admin = new RedisClient({
    connect: defaultConnect,
    host: redis.host,
    port: redis.port,
    username: ADMIN.user,
    password: ADMIN.password,
    clientName: "chaos-admin",
    connectTimeoutMs: 1000,
    socketTimeoutMs: 2000,
  });
  await admin.connect();

  const env = JSON.stringify({ ...WORKER, host: redis.host, port: redis.port });
  const worker = `${ROOT}/tests/_chaos_worker.ts`;
  for (const runtime of RUNTIMES) {
    const [cmd, args] = runtime === "deno"
      ? [Deno.execPath(), ["run", "-A", worker]]
      : runtime === "bun"
      ? [`${BIN}/bun`, [worker]]
      : [NODE, [nodeEntry!]];
    await spawnWorker(runtime, cmd, args, env);
  }
  for (const w of workers) {
    const hello = await next(w, "hello", 30_000);
    console.log(`${w.runtime} worker pid ${hello.pid}`);
  }

  const all: PhaseReport[] = [];
  all.push(...await runPhase(undefined));
  for (const fault of FAULTS) all.push(...await runPhase(fault));

  await tell({ cmd: "stop" });
  const stops = await Promise.all(workers.map((w) => next(w, "stopped", 30_000)));
  const hung = stops.reduce((n, s) => n + Number(s.hungCallers), 0);
  const late = stops.reduce((n, s) => n + Number(s.unhandled), 0);

  const sum = (f: (r: PhaseReport) => number) => all.reduce((n, r) => n + f(r), 0);
  const gets = sum((r) => r.gets);
  const failedGets = sum((r) => r.failedGets);
  const wrong = sum((r) => r.wrongValues);
  const unhandled = Math.max(sum((r) => r.unhandled), late);
  const neverBack = all.filter((r) => r.backInUseMs.includes(null)).length;
  console.log(
    `\ntotal: ${gets} gets, ${failedGets} failed, ${wrong} wrong values, ${unhandled} unhandled ` +
      `rejections, ${hung} hung callers in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (neverBack > 0) {
    console.log(`note: L2 not back in use within ${RECOVERY_BOUND_MS} ms in ${neverBack} case(s)`);
  }
  failed = failedGets > 0 || wrong > 0 || unhandled > 0 || hung > 0;
  console.log(failed ? `FAILED (worker logs in ${LOGS})` : "ok");
} catch (error) {
  failed = true;
  console.error(`\nFAILED: ${(error as Error)?.stack ?? error}\n(logs in ${LOGS})`);
} finally {
  await cleanup();
  if (!failed) await Deno.remove(LOGS, { recursive: true }).catch(() => {});
}
Deno.exit(failed ? 1 : 0);
