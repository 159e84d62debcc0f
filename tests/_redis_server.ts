/**
 * Test harness: a throwaway `redis-server` on a free loopback port, in its own
 * temp dir, with no persistence. Works under Deno, Bun and Node (it uses only
 * `node:*` modules).
 *
 * ```ts ignore
 * const available = redisServerAvailable(); // throws on CI when redis-server is missing
 * describe("x", { skip: available ? false : SKIP_MESSAGE }, () => {
 *   let server: RedisServer;
 *   before(async () => (server = await startRedisServer({ tls: true })));
 *   after(() => server.stop());
 * });
 * ```
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";

/** The skip reason tests print when `redis-server` is not installed. */
export const SKIP_MESSAGE =
  "redis-server not found (install it, or set REDIS_SERVER to its path): skipping real-Redis tests";

/** How to start the server. */
export interface RedisServerOptions {
  /** `requirepass`: the password of the `default` user. */
  password?: string;
  /** ACL rules, one user each, e.g. `"alice on >secret ~* &* +@all"`. */
  users?: string[];
  /** Listen with TLS only (`port` is then the TLS port), with a throwaway CA: see `caPem`. */
  tls?: boolean;
  /** Also listen on a unix socket: see `path`. */
  unixSocket?: boolean;
  /** Extra `redis.conf` lines, e.g. `"maxmemory 10mb"`. */
  config?: string[];
  /** How long to wait for the server to be ready (default 10 000 ms). */
  startTimeoutMs?: number;
  /** Run as a Sentinel (`redis-server redis.conf --sentinel`); `config` holds its `sentinel ...` lines. */
  sentinel?: boolean;
}

function redisBinary(): string | undefined {
  const fromEnv = process.env.REDIS_SERVER;
  const candidates = fromEnv
    ? [fromEnv]
    : [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin", "/usr/local/bin"]
      .map((dir) => join(dir, "redis-server"));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch { /* try the next */ }
  }
  return undefined;
}

/**
 * Whether `redis-server` can be run here (`$REDIS_SERVER`, else `$PATH`).
 *
 * @returns `true` when found; `false` when missing and not on CI.
 * @throws {Error} when missing and `process.env.CI === "true"`: CI must not skip silently.
 */
export function redisServerAvailable(): boolean {
  if (redisBinary() !== undefined) return true;
  if (process.env.CI === "true") {
    throw new Error("redis-server is required on CI (CI=true) but was not found on PATH");
  }
  return false;
}

/** Binds port 0 on 127.0.0.1, reads the port the OS chose, and releases it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Servers still running, killed on process exit if a test forgot (or crashed before) `stop()`. */
const live = new Set<RedisServer>();
let exitHook = false;
function track(server: RedisServer, running: boolean): void {
  if (running) live.add(server);
  else live.delete(server);
  if (exitHook || !running) return;
  exitHook = true;
  process.once("exit", () => {
    for (const s of live) {
      try {
        if (s.pid !== undefined) process.kill(s.pid, "SIGKILL");
        rmSync(s.dir, { recursive: true, force: true });
      } catch { /* best effort */ }
    }
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=async-cache test CA",
  );
  run("req", ...ec, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(
    f("server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  run(
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.crt"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.crt"),
    "-days",
    "2",
    "-extfile",
    f("server.ext"),
  );
  return { ca: f("ca.crt"), cert: f("server.crt"), key: f("server.key") };
}

/** A running (or stopped) `redis-server`. Create one with {@linkcode startRedisServer}. */
export class RedisServer implements AsyncDisposable {
  /** Always the loopback address. */
  readonly host = "127.0.0.1";
  /** The port clients use: the TLS port when `tls`, else the plain one. */
  port = 0;
  /** The unix socket path, when started with `unixSocket: true`. */
  readonly path: string | undefined;
  /** The throwaway CA certificate (PEM) that signed the server's, when `tls`. */
  readonly caPem: string | undefined;
  /** The server's working directory (config, log, certificates). */
  readonly dir: string;
  readonly #options: RedisServerOptions;
  readonly #binary: string;
  #certs: { ca: string; cert: string; key: string } | undefined;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #running = false;
  #paused = false;
  #removed = false;

  /** Use {@linkcode startRedisServer}. */
  constructor(options: RedisServerOptions = {}) {
    const binary = redisBinary();
    if (binary === undefined) throw new Error(SKIP_MESSAGE);
    this.#binary = binary;
    this.#options = options;
    this.dir = mkdtempSync(join(tmpdir(), "async-cache-redis-"));
    this.path = options.unixSocket ? join(this.dir, "redis.sock") : undefined;
    this.caPem = undefined;
    if (options.tls) {
      const certs = makeCerts(this.dir);
      this.caPem = readFileSync(certs.ca, "utf8");
      this.#certs = certs;
    }
  }

  /** `redis://` or `rediss://` URL of the server (with the password, if any). */
  get url(): string {
    const auth = this.#options.password ? `:${encodeURIComponent(this.#options.password)}@` : "";
    return `${this.#options.tls ? "rediss" : "redis"}://${auth}${this.host}:${this.port}`;
  }

  /** The process id while running. */
  get pid(): number | undefined {
    return this.#running ? this.#child?.pid : undefined;
  }

  /** Whether the process is running (paused counts as running). */
  get running(): boolean {
    return this.#running;
  }

  #configText(): string {
    const o = this.#options;
    const lines = [
      `bind 127.0.0.1`,
      `dir ${this.dir}`,
      `logfile ${join(this.dir, "redis.log")}`,
      `save ""`,
      `appendonly no`,
      `daemonize no`,
      `protected-mode no`,
    ];
    if (this.#certs) {
      lines.push(
        `port 0`,
        `tls-port ${this.port}`,
        `tls-cert-file ${this.#certs.cert}`,
        `tls-key-file ${this.#certs.key}`,
        `tls-ca-cert-file ${this.#certs.ca}`,
        `tls-auth-clients no`,
      );
    } else lines.push(`port ${this.port}`);
    if (this.path) lines.push(`unixsocket ${this.path}`, `unixsocketperm 700`);
    if (o.password !== undefined) lines.push(`requirepass "${o.password}"`);
    for (const rule of o.users ?? []) lines.push(`user ${rule}`);
    lines.push(...(o.config ?? []));
    return lines.join("\n") + "\n";
  }

  /** Starts the process on `this.port`; resolves when it logs that it is ready. */
  async #spawn(): Promise<void> {
    const conf = join(this.dir, "redis.conf");
    const log = join(this.dir, "redis.log");
    writeFileSync(conf, this.#configText());
    writeFileSync(log, "");
    const args = this.#options.sentinel ? [conf, "--sentinel"] : [conf];
    const child = spawn(this.#binary, args, { stdio: "ignore" });
    let exitCode: number | string | null | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        exitCode = code ?? signal;
        this.#running = false;
        track(this, false);
        resolve();
      });
      child.once("error", (error) => {
        exitCode = error.message;
        this.#running = false;
        track(this, false);
        resolve();
      });
    });
    this.#child = child;
    this.#running = true;
    track(this, true);
    this.#paused = false;
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 10_000);
    for (;;) {
      if (exitCode !== undefined) {
        throw new Error(`redis-server exited (${exitCode}) while starting:\n${tail(log)}`);
      }
      // A sentinel never logs "Ready": its ID follows the listening sockets.
      const ready = this.#options.sentinel ? "Sentinel ID is" : "Ready to accept connections";
      if (readFileSync(log, "utf8").includes(ready)) return;
      if (Date.now() > deadline) {
        await this.#terminate();
        throw new Error(`redis-server did not get ready in time:\n${tail(log)}`);
      }
      await sleep(10);
    }
  }

  /** @internal Picks a free port and starts, retrying when another process wins the port. */
  async start(): Promise<this> {
    for (let attempt = 1;; attempt++) {
      this.port = await freePort();
      try {
        await this.#spawn();
        return this;
      } catch (error) {
        const log = tail(join(this.dir, "redis.log"));
        if (attempt >= 5 || !/in use|Could not create server/i.test(log)) {
          this.#removeDir();
          throw error;
        }
      }
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing is answered. */
  pause(): void {
    if (!this.#running || this.#paused) return;
    this.#signal("SIGSTOP");
    this.#paused = true;
  }

  /** Thaws a paused server (SIGCONT). */
  resume(): void {
    if (!this.#running || !this.#paused) return;
    this.#signal("SIGCONT");
    this.#paused = false;
  }

  /** Kills the server abruptly (SIGKILL) and waits for it to exit; `restart()` brings it back. */
  async kill(): Promise<void> {
    if (!this.#running) return;
    this.#signal("SIGKILL");
    await this.#exited;
  }

  /** Starts the server again on the same port (after `kill()`, or kills it first). Data is lost. */
  async restart(): Promise<void> {
    await this.kill();
    let lastError: unknown;
    // The port may linger briefly after the kill; the OS rarely hands it to someone else.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        return await this.#spawn();
      } catch (error) {
        lastError = error;
        await sleep(50);
      }
    }
    throw lastError;
  }

  /** By PID: Deno's `ChildProcess.kill` ignores any signal after the first. */
  #signal(signal: "SIGSTOP" | "SIGCONT" | "SIGTERM" | "SIGKILL"): void {
    const pid = this.#child?.pid;
    if (!this.#running || pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch { /* already gone */ }
  }

  async #terminate(): Promise<void> {
    if (!this.#running) return;
    if (this.#paused) this.#signal("SIGCONT");
    this.#signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 3000)));
    const outcome = await Promise.race([this.#exited, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.#signal("SIGKILL");
      await this.#exited;
    }
  }

  #removeDir(): void {
    if (this.#removed) return;
    this.#removed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stops the server (SIGTERM, then SIGKILL after 3 s) and removes its temp dir. Idempotent. */
  async stop(): Promise<void> {
    await this.#terminate();
    this.#removeDir();
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Starts a throwaway `redis-server` (see {@linkcode RedisServerOptions}) and
 * resolves once it accepts connections.
 *
 * @throws {Error} when redis-server is missing or cannot start.
 */
export function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  return new RedisServer(options).start();
}

/** What {@linkcode redisForSuite} gives a `describe` block. */
export interface SuiteRedis {
  /** The server (started in the suite's `before`). */
  readonly server: RedisServer;
  /** Closed in reverse order in the suite's `after`, before the server stops. */
  readonly opened: { close(): Promise<void> }[];
}

/**
 * Inside a `describe`: a redis-server started before its tests and
 * stopped after them, once what was pushed to `opened` is closed.
 */
export function redisForSuite(
  hooks: { before(fn: () => Promise<void>): void; after(fn: () => Promise<void>): void },
  options: RedisServerOptions = {},
): SuiteRedis {
  let server: RedisServer | undefined;
  const opened: { close(): Promise<void> }[] = [];
  hooks.before(async () => {
    server = await startRedisServer(options);
  });
  hooks.after(async () => {
    for (const c of opened.reverse()) await c.close();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    opened,
  };
}
