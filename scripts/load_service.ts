/**
 * `npm run load`: the example service (`examples/`) under HTTP load, on two
 * runtimes at once, sharing one Redis that is killed and restarted mid-run.
 *
 * 1. Starts a throwaway `redis-server` on a free loopback port.
 * 2. Starts one instance of the service per runtime (default Deno and Node;
 *    Node (24, `node_modules/node24`) runs a private `tsc` build of `examples/`
 *    in `.tmp/load-build`, as it runs the npm package), each on its own free loopback port,
 *    both with the same Redis prefix, so they share entries.
 * 3. Drives both with autocannon (in a Node child process) for a bounded time,
 *    on `GET /item/:id` over a keyspace of random ids.
 * 4. SIGKILLs Redis partway through, and restarts it (empty) later.
 * 5. Prints, per instance and per phase (Redis up / down / restarted):
 *    requests, requests/s, p50/p99/max latency, non-2xx responses, socket
 *    errors, loader calls (from `/stats`), L2 errors, and how long after
 *    Redis was back the circuit breaker closed again.
 *
 * Exits non-zero if any response was not 2xx, any request failed, or a
 * process died. Every process it starts (services, load driver,
 * redis-server) is stopped by PID at the end, also on failure or Ctrl-C.
 *
 * Run: `deno run -A scripts/load_service.ts [--short] [--seconds=N]
 *       [--runtimes=deno,node|deno,bun|bun,node] [--connections=N] [--keyspace=N]`
 * `--short` is a few seconds (for `npm test`).
 */
import { freePort, type RedisServer, startRedisServer } from "../tests/_redis_server.ts";
import { BIN, buildForNode, flag, NODE, onInterrupt, ROOT, stopChild, tail } from "./_processes.ts";

// ------------------------------------------------------------ options

const SHORT = flag("short") !== undefined;
const SECONDS = Number(flag("seconds") ?? (SHORT ? 6 : 20));
const CONNECTIONS = Number(flag("connections") ?? (SHORT ? 10 : 20));
const KEYSPACE = Number(flag("keyspace") ?? (SHORT ? 500 : 2000));
const RUNTIMES = (flag("runtimes") ?? "deno,node").split(",") as Runtime[];
/** Redis is killed at this fraction of the run, and restarted at the next. */
const KILL_AT = 0.35;
const RESTART_AT = 0.6;
/** Each instance's cache: entries expire from L1 (and L2) so the run keeps using Redis. */
const CACHE_TTL = SHORT ? "1s" : "2s";
const REDIS_TIMEOUT = "250ms";

type Runtime = "deno" | "node" | "bun";
for (const r of RUNTIMES) {
  if (!["deno", "node", "bun"].includes(r)) throw new Error(`unknown runtime ${r} in --runtimes`);
}
if (!(SECONDS >= 3 && SECONDS <= 600)) throw new Error("--seconds must be 3-600");
if (!(CONNECTIONS >= 1 && CONNECTIONS <= 1000)) throw new Error("--connections must be 1-1000");

const LOGS = await Deno.makeTempDir({ prefix: "async-cache-load-" });

// ------------------------------------------------------------ processes

interface Proc {
  name: string;
  child: Deno.ChildProcess;
  log: string;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
  output: Promise<void>;
}

const procs: Proc[] = [];
let redis: RedisServer | undefined;
/** The Redis kill or restart in progress, if any. */
let redisOp: Promise<unknown> = Promise.resolve();

/** Starts a process with stdout and stderr going to a log file. */
async function start(
  name: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  stdoutTo?: { text: string },
): Promise<Proc> {
  if (cleaning) throw new Error("stopping: no new process");
  const log = `${LOGS}/${name}.log`;
  const file = await Deno.open(log, { write: true, create: true, truncate: true });
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dec = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, keep: boolean) => {
    for await (const chunk of stream) {
      if (keep && stdoutTo) stdoutTo.text += dec.decode(chunk, { stream: true });
      else await file.write(chunk);
    }
  };
  const proc: Proc = {
    name,
    child,
    log,
    exited: false,
    status: child.status,
    output: Promise.all([pump(child.stdout, true), pump(child.stderr, false)])
      .then(() => {}, () => {})
      .finally(() => file.close()),
  };
  proc.status.then(() => (proc.exited = true), () => (proc.exited = true));
  procs.push(proc);
  return proc;
}

/** SIGTERM by PID, then SIGKILL after 3 s; waits for the exit. */
async function stop(proc: Proc): Promise<void> {
  if (proc.exited) return;
  await stopChild(proc.child.pid, proc.status);
  await proc.output;
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(procs.map((p) => stop(p).catch(() => {})));
    // A kill or restart under way (Ctrl-C mid-run) finishes first (bounded), then stop.
    await redisOp.catch(() => {});
    await redis?.stop().catch(() => {});
  })();
  return cleaning;
}

onInterrupt(cleanup);

// ------------------------------------------------------------ helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return await res.json();
  } catch {
    return undefined;
  }
}

async function waitHealthy(name: string, base: string, proc: Proc): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (proc.exited) throw new Error(`${name} exited while starting:\n${await tail(proc.log)}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not yet */ }
    if (Date.now() > until) {
      throw new Error(`${name} not healthy in 30 s:\n${await tail(proc.log)}`);
    }
    await sleep(100);
  }
}

// ------------------------------------------------------------ the load driver (Node)

/**
 * Runs in a Node child process (autocannon is a Node tool): one autocannon
 * instance per service, concurrently, starting at `startAt`; each response is
 * counted in the phase its arrival time falls in. Prints JSON on stdout.
 */
const DRIVER = `
import autocannon from "autocannon";
const cfg = JSON.parse(process.env.LOAD_CONFIG);
await new Promise((r) => setTimeout(r, Math.max(0, cfg.startAt - Date.now())));
const bounds = [...cfg.phases.map((p) => p.from), cfg.startAt + cfg.seconds * 1000];
const phaseOf = (t) => {
  let i = 0;
  while (i + 1 < cfg.phases.length && t >= bounds[i + 1]) i++;
  return i;
};
const pct = (sorted, p) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const runs = cfg.targets.map((target) => {
  const stats = cfg.phases.map(() => ({ latencies: [], non2xx: 0, errors: 0 }));
  const inst = autocannon({
    url: target.url,
    connections: cfg.connections,
    duration: cfg.seconds,
    timeout: 10,
    requests: [{
      method: "GET",
      setupRequest: (req) => {
        req.path = "/item/" + Math.floor(Math.random() * cfg.keyspace);
        return req;
      },
    }],
  });
  inst.on("response", (_client, status, _bytes, ms) => {
    const s = stats[phaseOf(Date.now())];
    s.latencies.push(ms);
    if (status < 200 || status > 299) s.non2xx++;
  });
  inst.on("reqError", () => stats[phaseOf(Date.now())].errors++);
  return inst.then((r) => ({
    name: target.name,
    total: {
      requests: r.requests.total,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      max: r.latency.max,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
    },
    phases: stats.map((s, i) => {
      const sorted = s.latencies.sort((a, b) => a - b);
      const seconds = (bounds[i + 1] - bounds[i]) / 1000;
      return {
        requests: sorted.length,
        rps: sorted.length / seconds,
        p50: pct(sorted, 0.5),
        p99: pct(sorted, 0.99),
        max: sorted.at(-1) ?? 0,
        non2xx: s.non2xx,
        errors: s.errors,
      };
    }),
  }));
});
process.stdout.write(JSON.stringify(await Promise.all(runs)));
`;

interface PhaseStats {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}
interface DriverResult {
  name: string;
  total: PhaseStats & { timeouts: number };
  phases: PhaseStats[];
}

interface Sample {
  t: number;
  breaker: string;
  l2Errors: number;
  loaderCalls: number;
}

// ------------------------------------------------------------ main

interface Instance {
  name: string;
  runtime: Runtime;
  base: string;
  proc: Proc;
  samples: Sample[];
}

let failed = false;
try {
  console.log(
    `load: ${RUNTIMES.join(" + ")}, ${SECONDS} s, ${CONNECTIONS} connections each, ` +
      `${KEYSPACE} ids, cache TTL ${CACHE_TTL}, Redis timeout ${REDIS_TIMEOUT}`,
  );
  redis = await startRedisServer();
  console.log(`redis-server pid ${redis.pid} on ${redis.host}:${redis.port}`);

  // examples/service.ts + node_server.ts (and what they import), compiled for Node.
  const nodeEntry = RUNTIMES.includes("node")
    ? await buildForNode(
      "load-build",
      ["examples/service.ts", "examples/node_server.ts"],
      "examples/node_server.js",
    )
    : undefined;

  const instances: Instance[] = [];
  for (const [i, runtime] of RUNTIMES.entries()) {
    const name = `${runtime}-${i + 1}`;
    const port = await freePort();
    const env = {
      PORT: String(port),
      HOST: "127.0.0.1",
      INSTANCE: name,
      REDIS_URL: redis.url,
      CACHE_PREFIX: "load:",
      CACHE_TTL,
      REDIS_TIMEOUT,
      SOURCE_LATENCY_MS: "20",
    };
    const [cmd, args] = runtime === "deno"
      ? [Deno.execPath(), ["run", "-A", "examples/deno_server.ts"]]
      : runtime === "bun"
      ? [`${BIN}/bun`, ["examples/bun_server.ts"]]
      : [NODE, [nodeEntry!]];
    const proc = await start(name, cmd, args, env);
    instances.push({ name, runtime, base: `http://127.0.0.1:${port}`, proc, samples: [] });
  }
  for (const inst of instances) {
    await waitHealthy(inst.name, inst.base, inst.proc);
    console.log(`${inst.name} pid ${inst.proc.child.pid} on ${inst.base}`);
  }

  // The plan, in wall-clock time shared with the driver.
  const startAt = Date.now() + 1500;
  const killAt = startAt + SECONDS * 1000 * KILL_AT;
  const restartAt = startAt + SECONDS * 1000 * RESTART_AT;
  const endAt = startAt + SECONDS * 1000;
  const phases = [
    { name: "Redis up", from: startAt },
    { name: "Redis killed (SIGKILL)", from: killAt },
    { name: "Redis restarted (empty)", from: restartAt },
  ];
  const driverOut = { text: "" };
  const driver = await start("autocannon", NODE, ["--input-type=module", "-e", DRIVER], {
    LOAD_CONFIG: JSON.stringify({
      startAt,
      seconds: SECONDS,
      connections: CONNECTIONS,
      keyspace: KEYSPACE,
      phases,
      targets: instances.map((i) => ({ name: i.name, url: i.base })),
    }),
  }, driverOut);

  // Samples /stats every 200 ms while the load runs.
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await Promise.all(instances.map(async (inst) => {
        const m = await getJson(`${inst.base}/stats`);
        if (m) {
          inst.samples.push({
            t: Date.now(),
            breaker: String(m.breaker),
            l2Errors: Number(m.l2Errors),
            loaderCalls: Number(m.loaderCalls),
          });
        }
      }));
      await sleep(200);
    }
  })();

  await sleep(killAt - Date.now());
  if (cleaning) throw new Error("stopped before the Redis kill");
  await (redisOp = redis.kill());
  const killedAt = Date.now();
  console.log(`t=${((killedAt - startAt) / 1000).toFixed(1)} s: redis-server SIGKILLed`);
  await sleep(restartAt - Date.now());
  if (cleaning) throw new Error("stopped before the Redis restart");
  await (redisOp = redis.restart());
  const readyAt = Date.now();
  console.log(
    `t=${((readyAt - startAt) / 1000).toFixed(1)} s: redis-server restarted, ` +
      `pid ${redis.pid}, ready after ${readyAt - restartAt} ms`,
  );

  const status = await driver.status;
  await driver.output;
  sampling = false;
  await sampler;
  if (!status.success) throw new Error(`the load driver failed:\n${await tail(driver.log)}`);
  const results = JSON.parse(driverOut.text) as DriverResult[];

  // Loader calls per phase, from the /stats samples nearest each boundary.
  const bounds = [startAt, killAt, restartAt, endAt];
  const loaderAt = (inst: Instance, t: number) => {
    let best: Sample | undefined;
    for (const s of inst.samples) if (s.t <= t) best = s;
    return best?.loaderCalls ?? 0;
  };
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const pad = (s: string | number, n: number) => String(s).padStart(n);

  console.log("");
  for (const inst of instances) {
    const r = results.find((x) => x.name === inst.name)!;
    const final = await getJson(`${inst.base}/stats`);
    const loaderTotal = Number(final?.loaderCalls ?? loaderAt(inst, Infinity));
    // When the breaker let L2 back in: the first sample after Redis was ready
    // with the breaker closed and no new L2 errors since the previous sample.
    let backAfter: number | undefined;
    for (let i = 1; i < inst.samples.length; i++) {
      const s = inst.samples[i];
      if (s.t < readyAt) continue;
      if (s.breaker === "closed" && s.l2Errors === inst.samples[i - 1].l2Errors) {
        backAfter = s.t - readyAt;
        break;
      }
    }
    console.log(
      `== ${inst.name} (${inst.runtime}, pid ${inst.proc.child.pid}): ` +
        `${r.total.requests} requests, ${r.total.rps.toFixed(0)} req/s, p99 ${ms(r.total.p99)}, ` +
        `loader calls ${loaderTotal}, non-2xx ${r.total.non2xx}, errors ${r.total.errors}` +
        (r.total.timeouts ? `, timeouts ${r.total.timeouts}` : ""),
    );
    console.log(
      `   ${"phase".padEnd(26)}${pad("requests", 10)}${pad("req/s", 8)}${pad("p50", 10)}${
        pad("p99", 10)
      }${pad("max", 10)}${pad("non-2xx", 9)}${pad("errors", 8)}${pad("loader", 8)}`,
    );
    r.phases.forEach((p, i) => {
      const loads = loaderAt(inst, bounds[i + 1]) - loaderAt(inst, bounds[i]);
      console.log(
        `   ${phases[i].name.padEnd(26)}${pad(p.requests, 10)}${pad(p.rps.toFixed(0), 8)}${
          pad(ms(p.p50), 10)
        }${pad(ms(p.p99), 10)}${pad(ms(p.max), 10)}${pad(p.non2xx, 9)}${pad(p.errors, 8)}${
          pad(loads, 8)
        }`,
      );
    });
    // The breaker's state changes, as sampled.
    const changes: string[] = [];
    let last = "";
    for (const s of inst.samples) {
      if (s.breaker === last) continue;
      const at = s.t < startAt ? "before the load" : `t=${((s.t - startAt) / 1000).toFixed(1)} s`;
      changes.push(`${s.breaker} ${s.t < startAt ? "" : "at "}${at}`);
      last = s.breaker;
    }
    console.log(`   breaker: ${changes.join(" -> ")}`);
    console.log(
      `   L2 errors ${final?.l2Errors ?? "?"}, l2Hits ${final?.l2Hits ?? "?"}, breaker now ${
        final?.breaker ?? "?"
      }; ` +
        (backAfter === undefined
          ? "breaker not seen closed after the restart"
          : `L2 back in use ~${backAfter} ms after Redis was ready (200 ms sampling)`),
    );
    if (r.total.non2xx > 0 || r.total.errors > 0 || r.total.timeouts > 0) failed = true;
    if (inst.proc.exited) {
      failed = true;
      console.log(`   ${inst.name} EXITED during the run:\n${await tail(inst.proc.log)}`);
    }
  }
  console.log(
    failed
      ? "\nFAILED: a request failed or was not answered 2xx, or an instance died (logs in " +
        LOGS + ")"
      : "\nok: every request answered 2xx while Redis was killed and restarted",
  );
} catch (error) {
  failed = true;
  console.error(`\nFAILED: ${(error as Error)?.stack ?? error}\n(logs in ${LOGS})`);
} finally {
  await cleanup();
  if (!failed) await Deno.remove(LOGS, { recursive: true }).catch(() => {});
}
Deno.exit(failed ? 1 : 0);
