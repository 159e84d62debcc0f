/**
 * The Redis connection: one transport, pipelining, timeouts, reconnect.
 *
 * Hot path design: `command()` only queues the arguments and a promise; the
 * first command of a tick schedules one microtask that encodes every queued
 * command into one buffer ({@linkcode encodeCommands}) and makes one
 * `transport.write`. Replies are matched first-in first-out against an array
 * with a moving head index (no `shift`). Reply timeouts use one timer for the
 * oldest command in flight, not one per command: when it fires it either
 * declares the connection dead or re-arms for the new oldest command. Nothing
 * is queued while disconnected: commands fail fast, except while a connection
 * attempt is in progress, which is itself bounded by `connectTimeoutMs`.
 *
 * @module
 */

import {
  InvalidOptionError,
  RedisAuthError,
  RedisConnectionError,
  RedisError,
  RedisProtocolError,
  RedisReplyError,
  RedisTimeoutError,
} from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type Backoff, backoff as defaultBackoff } from "./backoff.ts";
import { type Command, encodeCommands } from "./encoder.ts";
import { CommandObservers, type ServerAddress, settleObserved } from "./_observer.ts";
import { checkClientOptions, type RedisClientOptions } from "./client_options.ts";

export type { RedisClientOptions } from "./client_options.ts";

let observersOf: (client: RedisClient, replace?: CommandObservers) => CommandObservers;

/**
 * The command observers of `client` (internal, for instrumentation); with
 * `replace`, the client uses those from now on (a cluster shares its own).
 */
export function commandObservers(
  client: RedisClient,
  replace?: CommandObservers,
): CommandObservers {
  return observersOf(client, replace);
}
import { type ParserLimits, PushReply, type Reply, RespParser } from "./parser.ts";
import type { Connect, ConnectOptions, Transport } from "../transport.ts";
import {
  handshake,
  type HandshakeSettings,
  type HandshakeWarnings,
  scrubSecret,
} from "./_handshake.ts";
import { dedicatedCommand } from "./_shared_connection.ts";
import { type ClientStatus, RedisClientEvent } from "./client_event.ts";

export { type ClientStatus, RedisClientEvent } from "./client_event.ts";

/** A command waiting for its reply. */
interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  /** Handshake commands get error replies as values instead of rejections. */
  raw: boolean;
  /** When the reply is overdue (performance.now() time), set when written. */
  deadline: number;
  /** The caller's promise: marked handled just before it is rejected (see `failCommand`). */
  promise: Promise<Reply> | undefined;
}

/** One connection attempt and, if it succeeds, the connection. */
interface Conn {
  transport: Transport | undefined;
  parser: RespParser;
  /** Settles when the transport is open (or failed, or closed because it was stale). */
  opened: Promise<unknown>;
}

const noop = (): void => {};
const MAX_TIMER = 2 ** 31 - 1;
function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Rejects a command. Its promise is marked handled first, so a caller that
 * stopped listening does not get an unhandled rejection (the caller's own
 * `await` still sees it). Done here rather than with a `.catch` per command,
 * which would cost a promise and a microtask on every successful reply.
 */
function failCommand(entry: Pending, error: Error): void {
  entry.promise?.catch(noop);
  entry.reject(error);
}

function rejected(error: Error): Promise<never> {
  const p = Promise.reject(error);
  p.catch(noop);
  return p;
}

function closeQuietly(transport: Transport): Promise<void> {
  try {
    return transport.close().then(noop, noop);
  } catch {
    return Promise.resolve();
  }
}

/** Drops a transport at once (a transport written before `destroy` existed is closed instead). */
function destroyQuietly(transport: Transport): void {
  try {
    if (typeof transport.destroy === "function") transport.destroy();
    else void closeQuietly(transport);
  } catch { /* already gone */ }
}

/**
 * One Redis connection with pipelining and automatic reconnection.
 *
 * - Commands issued in the same tick go out in one write; replies are matched
 *   in order. An error reply rejects that command with {@linkcode RedisReplyError}.
 * - The first command connects (lazily); `connect()` does so explicitly.
 *   On connect: `HELLO 3` (with `AUTH` and `SETNAME` folded in), falling back
 *   to RESP2, `AUTH` and `CLIENT SETNAME` when the server does not speak RESP3;
 *   then `SELECT` when `db` is not 0. A permission error (`NOPERM`) is never
 *   taken for refused credentials: on a command it fails that command only.
 * - A reply later than `socketTimeoutMs` kills the connection (its transport
 *   is destroyed, not drained): every command in flight rejects with
 *   {@linkcode RedisTimeoutError}, then the client reconnects with backoff. While disconnected, commands fail fast with
 *   {@linkcode RedisConnectionError} ({@linkcode RedisAuthError} if the
 *   credentials were refused).
 * - Events (`connect`, `ready`, `reconnecting`, `error`, `close`) are
 *   {@linkcode RedisClientEvent}s.
 *
 * @example Against a fake server
 * ```ts
 * import { RedisClient } from "./client.ts";
 * import { FakeRedis } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * const client = new RedisClient({ connect: fake.connect });
 * assertEquals(await client.command(["SET", "k", "v"]), "OK");
 * assertEquals(await client.command(["GET", "k"]), new TextEncoder().encode("v"));
 * await client.close();
 * ```
 */
export class RedisClient extends EventTarget {
  readonly #connect: Connect;
  readonly #connectOptions: ConnectOptions;
  readonly #where: string;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #db: number;
  readonly #clientName: string | undefined;
  readonly #connectTimeoutMs: number;
  readonly #socketTimeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #limits: ParserLimits | undefined;
  readonly #backoff: Backoff;
  readonly #wantProtocol: 2 | 3;
  readonly #onPush: ((push: PushReply) => void) | undefined;
  readonly #trackingArgs: readonly string[] | undefined;
  #tracking = false;

  #status: ClientStatus = "idle";
  #protocol: 2 | 3 | undefined;
  #conn: Conn | undefined;
  /** Commands not yet written: this tick's, or those waiting for a connection in progress. */
  #pendingArgs: Command[] = [];
  #pending: Pending[] = [];
  #flushScheduled = false;
  /** Written commands awaiting replies, oldest at `#head`. */
  #inflight: (Pending | undefined)[] = [];
  #head = 0;
  /** Consecutive failed attempts since the last ready connection. */
  #attempt = 0;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #replyTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the last attempt failed: what fail-fast commands are told. */
  #lastError: Error | undefined;
  /** Kinds of failure already logged in the current outage. */
  #logged = new Set<string>();
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #closing: Promise<void> | undefined;
  /** Handshake warnings (RESP2 only, refused tracking or SETNAME) said once, across reconnects. */
  readonly #warned: HandshakeWarnings = { tracking: false, setname: false };
  readonly #server: ServerAddress;
  /** Instrumentation of the commands (see `commandObservers`); a cluster shares its own. */
  #observers: CommandObservers = new CommandObservers();

  static {
    observersOf = (client, replace) => {
      if (replace !== undefined) client.#observers = replace;
      return client.#observers;
    };
  }

  /**
   * Creates a client; it connects on the first command or on `connect()`.
   *
   * @param options Where to connect and how.
   * @throws {InvalidOptionError} If an option is out of range.
   */
  constructor(options: RedisClientOptions) {
    super();
    const o = options ?? ({} as RedisClientOptions);
    const { port, db, connectTimeoutMs, socketTimeoutMs } = checkClientOptions(o);
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#socketTimeoutMs = socketTimeoutMs;

    this.#connect = o.connect;
    const host = o.host ?? "127.0.0.1";
    this.#connectOptions = {
      host,
      port,
      timeoutMs: this.#connectTimeoutMs,
      ...(o.path !== undefined ? { path: o.path } : {}),
      ...(o.tls !== undefined ? { tls: o.tls } : {}),
    };
    this.#where = o.path ?? `${host}:${port}`;
    this.#server = o.path !== undefined
      ? { address: o.path, port: undefined }
      : { address: host, port };
    this.#username = o.username;
    this.#password = o.password;
    this.#db = db;
    this.#clientName = o.clientName ?? undefined;
    this.#logger = o.logger;
    this.#limits = o.parserLimits;
    this.#backoff = o.backoff ?? defaultBackoff;
    this.#wantProtocol = o.protocol ?? 3;
    this.#onPush = o.onPush;
    this.#trackingArgs = o.tracking;
  }

  /** Whether the current connection has `CLIENT TRACKING` on (false while not ready). */
  get tracking(): boolean {
    return this.#tracking && this.#status === "ready";
  }

  /** Where the client is in its lifecycle. */
  get status(): ClientStatus {
    return this.#status;
  }

  /** The protocol of the current (or last) connection: 3 after a successful `HELLO 3`. */
  get protocol(): 2 | 3 | undefined {
    return this.#protocol;
  }

  /** Commands written and awaiting a reply. */
  get inflight(): number {
    return this.#inflight.length - this.#head;
  }

  /**
   * Connects now instead of on the first command. Resolves when the
   * connection is ready; rejects if this attempt fails (the client keeps
   * retrying in the background until `close()`).
   *
   * @returns When ready.
   * @throws {RedisConnectionError | RedisTimeoutError | RedisAuthError} If the attempt fails.
   */
  connect(): Promise<void> {
    if (this.#status === "ready") return Promise.resolve();
    if (this.#status === "closed") {
      return rejected(new RedisConnectionError("RedisClient is closed"));
    }
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    p.catch(noop);
    if (this.#status === "idle") this.#startConnect();
    return p;
  }

  /**
   * Sends a command.
   *
   * @param args The command and its arguments, e.g. `["SET", key, bytes, "PX", 60000]`.
   * @returns The reply (see {@linkcode Reply}): bulk strings are `Uint8Array`s.
   * @throws {RedisReplyError} If the server answers with an error.
   * @throws {RedisTimeoutError} If the reply (or the connection) does not come in time.
   * @throws {RedisConnectionError} If there is no connection, or it is lost before the reply.
   * @throws {RedisAuthError} If the server refused the credentials.
   * @throws {RedisProtocolError} If the server sent malformed bytes while the command was in flight.
   * @throws {TypeError} If an argument cannot be encoded.
   * @throws {InvalidOptionError} For `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`,
   * their `UNSUBSCRIBE`s and `MONITOR`: they turn the connection into a stream
   * of messages that answer no command, which a shared, pipelined connection
   * cannot carry (use a dedicated client for them).
   */
  command(args: Command): Promise<Reply> {
    const dedicated = Array.isArray(args)
      ? dedicatedCommand(args, this.#protocol ?? this.#wantProtocol)
      : undefined;
    if (dedicated !== undefined) {
      return rejected(
        new InvalidOptionError(
          "RedisClient.command",
          "args",
          "a command answered by one reply in order (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, " +
            "their UNSUBSCRIBEs and MONITOR need a dedicated connection; CLIENT REPLY, RESET " +
            "and HELLO would change the shared connection under every other caller)",
          dedicated,
        ),
      );
    }
    const status = this.#status;
    if (status === "reconnecting") return rejected(this.#downError());
    if (status === "closed") return rejected(new RedisConnectionError("RedisClient is closed"));
    let resolve!: (reply: Reply) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Reply>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const observers = this.#observers;
    if (observers.list.length !== 0) {
      // Observed commands hear of their reply as it is parsed (no extra promise per command).
      const done = observers.start(args, this.#server);
      if (done !== undefined) {
        const res = resolve, rej = reject;
        resolve = (reply) => {
          settleObserved(done, undefined);
          res(reply);
        };
        reject = (error) => {
          settleObserved(done, error);
          rej(error);
        };
      }
    }
    this.#pendingArgs.push(args);
    this.#pending.push({ resolve, reject, raw: false, deadline: 0, promise });
    if (status === "ready") {
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(this.#flush);
      }
    } else if (status === "idle") {
      this.#startConnect();
    }
    return promise;
  }

  /**
   * Closes the connection and stops reconnecting. Commands in flight or
   * waiting reject with {@linkcode RedisConnectionError}. Idempotent.
   *
   * @returns When the transport is closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#status = "closed";
    this.#clearTimers();
    const conn = this.#conn;
    this.#conn = undefined;
    const error = new RedisConnectionError("RedisClient closed");
    this.#rejectAll(error, error);
    this.#settleWaiters(error);
    this.dispatchEvent(new RedisClientEvent("close"));
    this.#closing = this.#closeConn(conn);
    return this.#closing;
  }

  async #closeConn(conn: Conn | undefined): Promise<void> {
    if (!conn) return;
    // A transport drains its queued writes before closing; a server that stopped
    // reading (paused) would make that wait forever, so past the bound the
    // transport is destroyed. While the attempt is still opening, wait (bounded)
    // so that a transport that opens late is dropped before close() resolves.
    const bound = Math.min(this.#connectTimeoutMs, this.#socketTimeoutMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = await Promise.race([
      (conn.transport ? closeQuietly(conn.transport) : conn.opened).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), bound);
        unref(timer);
      }),
    ]);
    clearTimeout(timer);
    if (!finished && conn.transport) destroyQuietly(conn.transport);
  }

  // ---------------------------------------------------------------- writing

  /** Writes this tick's commands in one buffer. A bound field: queued as a microtask. */
  #flush = (): void => {
    this.#flushScheduled = false;
    const conn = this.#conn;
    if (this.#status !== "ready" || conn === undefined || this.#pending.length === 0) return;
    let argsList = this.#pendingArgs;
    let batch = this.#pending;
    this.#pendingArgs = [];
    this.#pending = [];
    let bytes: Uint8Array;
    try {
      bytes = encodeCommands(argsList);
    } catch {
      // Some command has an argument that cannot be encoded: reject it alone.
      const goodArgs: Command[] = [];
      const good: Pending[] = [];
      for (let i = 0; i < batch.length; i++) {
        try {
          encodeCommands([argsList[i]]);
          goodArgs.push(argsList[i]);
          good.push(batch[i]);
        } catch (error) {
          failCommand(batch[i], error as Error);
        }
      }
      if (good.length === 0) return;
      argsList = goodArgs;
      batch = good;
      bytes = encodeCommands(argsList);
    }
    this.#write(conn, bytes, batch);
  };

  #write(conn: Conn, bytes: Uint8Array, batch: Pending[]): void {
    const deadline = performance.now() + this.#socketTimeoutMs;
    for (let i = 0; i < batch.length; i++) {
      batch[i].deadline = deadline;
      this.#inflight.push(batch[i]);
    }
    this.#armReplyTimer();
    try {
      conn.transport!.write(bytes);
    } catch (error) {
      this.#fail(
        conn,
        new RedisConnectionError(`Redis write to ${this.#where} failed`, { cause: error }),
      );
    }
  }

  /** Sends handshake commands in one write; error replies resolve as values. */
  #internal(conn: Conn, commands: Command[]): Promise<Reply>[] {
    const batch: Pending[] = [];
    const promises = commands.map((_) =>
      new Promise<Reply>((resolve, reject) =>
        batch.push({ resolve, reject, raw: true, deadline: 0, promise: undefined })
      )
    );
    this.#write(conn, encodeCommands(commands), batch);
    return promises;
  }

  // ---------------------------------------------------------------- reading

  #onData(conn: Conn, bytes: Uint8Array): void {
    if (conn !== this.#conn) return;
    try {
      conn.parser.feed(bytes);
    } catch (error) {
      this.#fail(
        conn,
        error instanceof RedisProtocolError
          ? error
          : new RedisProtocolError("RESP protocol error", { cause: error }),
      );
    }
  }

  #onReply(reply: Reply): void {
    if (reply instanceof PushReply) {
      try {
        this.#onPush?.(reply);
      } catch (error) {
        this.#logger?.warn("Redis push handler threw", error);
      }
      return;
    }
    const head = this.#head;
    const entry = this.#inflight[head];
    if (entry === undefined) {
      throw new RedisProtocolError(
        "RESP protocol error: a reply arrived with no command in flight",
      );
    }
    this.#inflight[head] = undefined;
    this.#head = head + 1;
    if (this.#head === this.#inflight.length) {
      this.#inflight = [];
      this.#head = 0;
      if (this.#replyTimer !== undefined) {
        clearTimeout(this.#replyTimer);
        this.#replyTimer = undefined;
      }
    } else if (this.#head > 1024 && this.#head * 2 > this.#inflight.length) {
      this.#inflight = this.#inflight.slice(this.#head);
      this.#head = 0;
    }
    if (reply instanceof RedisReplyError && !entry.raw) failCommand(entry, reply);
    else entry.resolve(reply);
  }

  #onClose(conn: Conn, error: Error | undefined): void {
    if (conn !== this.#conn) return;
    const message = error
      ? `Redis connection to ${this.#where} lost: ${error.message}`
      : `Redis connection to ${this.#where} closed by the server`;
    this.#fail(conn, new RedisConnectionError(message, error ? { cause: error } : undefined));
  }

  // ---------------------------------------------------------------- timers

  #armReplyTimer(): void {
    if (this.#replyTimer !== undefined || !Number.isFinite(this.#socketTimeoutMs)) return;
    const oldest = this.#inflight[this.#head];
    if (oldest === undefined) return;
    const delay = Math.min(MAX_TIMER, Math.max(1, Math.ceil(oldest.deadline - performance.now())));
    this.#replyTimer = setTimeout(this.#onReplyTimer, delay);
    unref(this.#replyTimer);
  }

  #onReplyTimer = (): void => {
    this.#replyTimer = undefined;
    const oldest = this.#inflight[this.#head];
    const conn = this.#conn;
    if (oldest === undefined || conn === undefined) return;
    if (oldest.deadline <= performance.now()) {
      this.#fail(
        conn,
        new RedisTimeoutError(
          `Redis reply from ${this.#where} timed out after ${this.#socketTimeoutMs} ms (socketTimeoutMs)`,
        ),
      );
    } else {
      this.#armReplyTimer();
    }
  };

  #clearTimers(): void {
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#replyTimer);
    clearTimeout(this.#reconnectTimer);
    this.#connectTimer = this.#replyTimer = this.#reconnectTimer = undefined;
  }

  // ---------------------------------------------------------------- lifecycle

  #startConnect(): void {
    this.#status = "connecting";
    const conn: Conn = {
      transport: undefined,
      parser: new RespParser((reply) => this.#onReply(reply), this.#limits),
      opened: Promise.resolve(),
    };
    this.#conn = conn;
    this.#connectTimer = setTimeout(() => {
      this.#fail(
        conn,
        new RedisTimeoutError(
          `Redis connection to ${this.#where} not ready within ${this.#connectTimeoutMs} ms (connectTimeoutMs)`,
        ),
      );
    }, this.#connectTimeoutMs);
    unref(this.#connectTimer);

    let opening: Promise<Transport>;
    try {
      opening = this.#connect(this.#connectOptions, {
        onData: (bytes) => this.#onData(conn, bytes),
        onClose: (error) => this.#onClose(conn, error),
      });
    } catch (error) {
      opening = Promise.reject(error);
    }
    conn.opened = opening.then(
      (transport) => {
        if (this.#conn !== conn) return destroyQuietly(transport);
        conn.transport = transport;
        this.dispatchEvent(new RedisClientEvent("connect"));
        return this.#handshake(conn).then(
          () => this.#ready(conn),
          (error) => this.#fail(conn, asError(error)),
        );
      },
      (error) => {
        this.#fail(
          conn,
          error instanceof RedisError ? error : new RedisConnectionError(
            `Cannot connect to Redis at ${this.#where}: ${asError(error).message}`,
            { cause: error },
          ),
        );
      },
    );
  }

  async #handshake(conn: Conn): Promise<void> {
    const settings: HandshakeSettings = {
      password: this.#password,
      username: this.#username,
      clientName: this.#clientName,
      db: this.#db,
      protocol: this.#wantProtocol,
      trackingArgs: this.#trackingArgs,
      where: this.#where,
      logger: this.#logger,
    };
    const { protocol, tracking } = await handshake(
      (commands) => this.#internal(conn, commands),
      settings,
      this.#warned,
    );
    this.#protocol = protocol;
    this.#tracking = tracking;
  }

  /** `text` with every occurrence of the password masked. */
  #scrub(text: string): string {
    return scrubSecret(text, this.#password);
  }

  #ready(conn: Conn): void {
    if (conn !== this.#conn || this.#status !== "connecting") return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#status = "ready";
    this.#attempt = 0;
    this.#lastError = undefined;
    if (this.#logged.size > 0) {
      this.#logged.clear();
      this.#logger?.warn(`Redis connection to ${this.#where} restored`);
    }
    this.#flush();
    this.#settleWaiters(undefined);
    this.dispatchEvent(new RedisClientEvent("ready"));
  }

  /**
   * The connection (or attempt) `conn` is dead: reject what it carried, close
   * it, report once per outage, and schedule a reconnect. Stale calls are no-ops.
   */
  #fail(conn: Conn, error: Error): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    const wasReady = this.#status === "ready";
    this.#clearTimers();
    // Destroyed, not drained: after a timeout or a protocol error the peer is
    // not trusted to read what is queued, and waiting on it would keep the
    // socket (and the process) alive.
    if (conn.transport) destroyQuietly(conn.transport);
    // Commands in flight get the cause itself; commands not yet written were
    // waiting for this connection: they get the cause when it never became
    // ready, and a connection error when it was lost under them.
    const waitingError = wasReady
      ? new RedisConnectionError(`Redis connection to ${this.#where} lost`, { cause: error })
      : error;
    this.#rejectAll(error, waitingError);
    this.#lastError = error;
    this.#settleWaiters(error);
    this.#report(error, wasReady);
    this.dispatchEvent(new RedisClientEvent("error", { error }));
    if (this.#status === "closed") return;
    const attempt = this.#attempt++;
    const delayMs = this.#backoff(attempt);
    this.#status = "reconnecting";
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#status === "reconnecting") this.#startConnect();
    }, Math.min(MAX_TIMER, Math.max(0, delayMs)));
    unref(this.#reconnectTimer);
    this.dispatchEvent(new RedisClientEvent("reconnecting", { error, delayMs, attempt }));
  }

  /** Logs each kind of failure once per outage; repeats go to `debug`. */
  #report(error: Error, wasReady: boolean): void {
    const logger = this.#logger;
    if (!logger) return;
    if (this.#logged.has(error.name)) {
      logger.debug?.(`Redis reconnect attempt ${this.#attempt + 1} failed: ${error.message}`);
      return;
    }
    this.#logged.add(error.name);
    if (error instanceof RedisAuthError) {
      logger.error(`${error.message}; retrying with backoff`);
    } else {
      logger.warn(
        `${wasReady ? "" : "Cannot connect: "}${error.message}; reconnecting with backoff`,
      );
    }
  }

  #rejectAll(inflightError: Error, waitingError: Error): void {
    const inflight = this.#inflight;
    const head = this.#head;
    const pending = this.#pending;
    this.#inflight = [];
    this.#head = 0;
    this.#pending = [];
    this.#pendingArgs = [];
    for (let i = head; i < inflight.length; i++) failCommand(inflight[i]!, inflightError);
    for (let i = 0; i < pending.length; i++) failCommand(pending[i], waitingError);
  }

  #settleWaiters(error: Error | undefined): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const w of waiters) error ? w.reject(error) : w.resolve();
  }

  /** The error a command gets while the client waits to reconnect. */
  #downError(): Error {
    const last = this.#lastError;
    if (last instanceof RedisAuthError) return new RedisAuthError(last.message, { cause: last });
    return new RedisConnectionError(
      `Not connected to Redis at ${this.#where} (reconnecting${
        last ? ` after: ${last.message}` : ""
      })`,
      { cause: last },
    );
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
