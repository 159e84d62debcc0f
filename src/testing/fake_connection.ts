/**
 * One connection to the fake Redis ({@linkcode FakeConnection}) and the
 * command types its server answers with ({@linkcode FakeCommand},
 * {@linkcode FakeReply}, {@linkcode CommandHandler}, {@linkcode NO_REPLY}).
 *
 * @module
 */
import { type Reply, RespParser } from "../resp/parser.ts";
import type { ConnectOptions, Transport, TransportHandlers } from "../transport.ts";
import type { FakeRedis } from "./fake_redis.ts";
import { dec, resp, type RespBytes, toBytes } from "./resp_wire.ts";

/**
 * Return this from an `onCommand` handler to never answer the command. Later
 * commands are still answered, so a test that skips one answer must send the
 * replies itself (`conn.send`) to keep them in order, or answer nothing at all
 * (`onCommand(() => NO_REPLY)`) to play a stalled server.
 *
 * @example A server that stops answering: the client times out
 * ```ts
 * import { RedisBackend, RedisTimeoutError } from "@async-cache/cache";
 * import { FakeRedis, NO_REPLY } from "@async-cache/cache/testing";
 * import { assertRejects } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * const redis = new RedisBackend({ transport: fake.connect, socketTimeout: "50ms" });
 * fake.onCommand((args) => (args[0] === "GET" ? NO_REPLY : undefined));
 * await assertRejects(() => redis.client.command(["GET", "k"]), RedisTimeoutError);
 * await redis.close();
 * await fake.close();
 * ```
 */
export const NO_REPLY: unique symbol = Symbol("NO_REPLY");

/**
 * A command the client sent, as the fake sees it.
 *
 * @example Waiting for a command
 * ```ts
 * import { RedisClient } from "@async-cache/cache";
 * import { FakeRedis } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * const client = new RedisClient({ connect: fake.connect });
 * const seen = fake.waitFor("SET");
 * await client.command(["SET", "k", "v"]);
 * const command = await seen;
 * assertEquals([command.name, command.args], ["SET", ["SET", "k", "v"]]);
 * await client.close();
 * await fake.close();
 * ```
 */
export interface FakeCommand {
  /** The command name, upper-cased (`"GET"`). */
  readonly name: string;
  /** All the arguments (name first), decoded as UTF-8. */
  readonly args: string[];
  /** All the arguments (name first), as sent: binary safe. */
  readonly raw: Uint8Array[];
  /** The connection it came on. */
  readonly conn: FakeConnection;
}

/**
 * What a handler answers: bytes or RESP text to send, {@linkcode NO_REPLY} to
 * stay silent, or `undefined` to let the default responder answer. May be a
 * promise (a delayed answer); answers still go out in command order.
 *
 * @example A delayed answer
 * ```ts
 * import { RedisClient } from "@async-cache/cache";
 * import { FakeRedis, type FakeReply } from "@async-cache/cache/testing";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * fake.onCommand(async (): Promise<FakeReply> => {
 *   await new Promise((r) => setTimeout(r, 20));
 *   return undefined; // then the default responder answers
 * });
 * const client = new RedisClient({ connect: fake.connect });
 * const started = Date.now();
 * assertEquals(await client.command(["PING"]), "PONG");
 * assert(Date.now() - started >= 15);
 * await client.close();
 * await fake.close();
 * ```
 */
export type FakeReply = RespBytes | typeof NO_REPLY | undefined;

/**
 * Decides the answer to one command; see {@linkcode FakeReply}.
 *
 * @example An error reply for one key
 * ```ts
 * import { RedisClient, RedisReplyError } from "@async-cache/cache";
 * import { type CommandHandler, FakeRedis, resp } from "@async-cache/cache/testing";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const oom: CommandHandler = (args) =>
 *   args[0] === "SET" && args[1] === "big" ? resp.error("OOM command not allowed") : undefined;
 * const fake = new FakeRedis();
 * const stop = fake.onCommand(oom);
 * const client = new RedisClient({ connect: fake.connect });
 * await assertRejects(() => client.command(["SET", "big", "x"]), RedisReplyError, "OOM");
 * assertEquals(await client.command(["SET", "small", "x"]), "OK");
 * stop();
 * await client.close();
 * await fake.close();
 * ```
 */
export type CommandHandler = (
  args: string[],
  command: FakeCommand,
) => FakeReply | Promise<FakeReply>;

/** What a connection asks of its server; kept off FakeRedis's public API. */
export interface ServerSide {
  released(): void;
  received(command: FakeCommand): void;
  answer(command: FakeCommand): Promise<FakeReply>;
}

/** Each server's side, for its connections (kept off FakeRedis's public API). */
export const serverSides: WeakMap<FakeRedis, ServerSide> = new WeakMap();

/**
 * One accepted connection: the server's side of it (`fake.current`,
 * `fake.connections`). Drive it by hand: `send` any bytes, `reset` or `end` it.
 *
 * @example A reset while a command waits
 * ```ts
 * import { RedisClient } from "@async-cache/cache";
 * import { FakeRedis, NO_REPLY } from "@async-cache/cache/testing";
 * import { assertRejects } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * const quiet = { warn() {}, error() {}, debug() {} };
 * const client = new RedisClient({ connect: fake.connect, logger: quiet });
 * await client.command(["PING"]);
 * const stop = fake.onCommand(() => NO_REPLY);
 * const pending = client.command(["GET", "k"]);
 * await fake.waitFor("GET");
 * fake.current!.reset(); // ECONNRESET: the command in flight fails
 * await assertRejects(() => pending);
 * stop();
 * await client.close();
 * await fake.close();
 * ```
 */
export class FakeConnection {
  /** The options the client connected with. */
  readonly options: ConnectOptions;
  /** Every `write` the client made, with the commands it completed. */
  readonly writes: { bytes: Uint8Array; commands: string[][] }[] = [];
  /** Every command received on this connection, decoded. */
  readonly commands: string[][] = [];
  /** The protocol negotiated by HELLO (2 until then). */
  protocol: 2 | 3 = 2;
  /** Whether AUTH (or HELLO AUTH) succeeded, or no password is required. */
  authenticated: boolean;
  /** The database selected. */
  db = 0;
  /** The name from CLIENT SETNAME / HELLO SETNAME. */
  name: string | undefined;
  /** True once closed by either side. */
  closed = false;
  /** True if the client closed it (gracefully, or with `destroy()`). */
  closedByClient = false;
  /** True if the client destroyed it (as after a reply timeout or a protocol error). */
  destroyedByClient = false;
  /** The connection's id (1, 2, ...). */
  readonly id: number;
  /** `CLIENT TRACKING ON` (RESP3): the keys it read get `invalidate` pushes when changed. */
  tracking = false;
  /** `NOLOOP`: no pushes for this connection's own writes. */
  noloop = false;
  /** Keys this connection read while tracking (forgotten once invalidated, as in Redis). */
  readonly tracked: Set<string> = new Set();

  readonly #server: FakeRedis;
  readonly #side: ServerSide;
  readonly #handlers: TransportHandlers;
  readonly #parser: RespParser;
  #chain: Promise<void> = Promise.resolve();
  #received: string[][] = [];
  #receivedRaw: Uint8Array[][] = [];

  /**
   * Accepts a connection; created by {@linkcode FakeRedis.connect}, not by tests.
   *
   * @param server The fake server.
   * @param id The connection number.
   * @param options What the client connected with.
   * @param handlers The client's callbacks.
   */
  constructor(server: FakeRedis, id: number, options: ConnectOptions, handlers: TransportHandlers) {
    this.#server = server;
    this.#side = serverSides.get(server)!;
    this.id = id;
    this.options = options;
    this.#handlers = handlers;
    this.authenticated = server.password === undefined;
    this.#parser = new RespParser((reply) => this.#onCommandReply(reply));
  }

  /** The transport handed to the client. */
  readonly transport: Transport = {
    write: (bytes: Uint8Array): void => {
      if (this.closed) return;
      const copy = bytes.slice();
      this.#received = [];
      this.#receivedRaw = [];
      try {
        this.#parser.feed(copy);
      } catch (error) {
        this.writes.push({ bytes: copy, commands: [] });
        this.reset(error as Error);
        return;
      }
      const commands = this.#received;
      const raws = this.#receivedRaw;
      this.writes.push({ bytes: copy, commands });
      for (let i = 0; i < commands.length; i++) this.#dispatch(commands[i], raws[i]);
    },
    close: (): Promise<void> => {
      if (!this.closed) {
        this.closed = true;
        this.closedByClient = true;
        this.#side.released();
        queueMicrotask(() => this.#handlers.onClose());
      }
      return Promise.resolve();
    },
    destroy: (): void => {
      if (this.closed) return;
      this.destroyedByClient = true;
      void this.transport.close();
    },
  };

  #onCommandReply(reply: Reply): void {
    const raw = Array.isArray(reply) ? reply.filter((x) => x instanceof Uint8Array) : [];
    const args = raw.map((b) => dec.decode(b));
    this.#received.push(args);
    this.#receivedRaw.push(raw);
    this.commands.push(args);
  }

  #dispatch(args: string[], raw: Uint8Array[]): void {
    const command: FakeCommand = { name: (args[0] ?? "").toUpperCase(), args, raw, conn: this };
    this.#side.received(command);
    this.#chain = this.#chain.then(async () => {
      let answer: FakeReply;
      try {
        answer = await this.#side.answer(command);
      } catch (error) {
        answer = resp.error(`ERR fake handler threw: ${(error as Error)?.message}`);
      }
      if (answer === NO_REPLY || answer === undefined || this.closed) return;
      this.send(answer, { split: this.#server.splitReplies });
      if (command.name === "QUIT") this.end();
    }).catch((error) => {
      // Never let the reply chain break (or leak an unhandled rejection).
      console.error("FakeRedis: delivering a reply failed", error);
    });
  }

  /**
   * Sends bytes to the client now (synchronously), optionally split.
   *
   * @param data RESP bytes or text (it need not be valid: garbage is fine).
   * @param options `split`: a chunk size, or the offsets to cut at.
   */
  send(data: RespBytes, options: { split?: number | readonly number[] } = {}): void {
    if (this.closed) return;
    const bytes = toBytes(data);
    const cuts: number[] = [];
    const split = options.split;
    if (typeof split === "number" && split > 0) {
      for (let at = split; at < bytes.length; at += split) cuts.push(at);
    } else if (Array.isArray(split)) {
      cuts.push(...split.filter((at) => at > 0 && at < bytes.length).sort((a, b) => a - b));
    }
    let from = 0;
    for (const at of [...cuts, bytes.length]) {
      if (this.closed) return;
      if (at > from) this.#handlers.onData(bytes.slice(from, at));
      from = at;
    }
  }

  /** Drops the connection from the server's side, as a reset: `onClose(error)`. */
  reset(error: Error = new Error("ECONNRESET: connection reset by peer")): void {
    if (this.closed) return;
    this.closed = true;
    this.#side.released();
    this.#handlers.onClose(error);
  }

  /** Closes the connection cleanly from the server's side: `onClose()`. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.#side.released();
    this.#handlers.onClose();
  }
}
