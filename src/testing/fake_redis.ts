/**
 * A scripted, in-memory Redis server for tests: {@linkcode FakeRedis.connect}
 * is a `Connect` function to inject wherever a transport is accepted
 * (`new RedisBackend({ transport: fake.connect })`,
 * `new RedisClient({ connect: fake.connect })`), so code that uses the cache
 * is tested without a server.
 *
 * By default it answers like a small Redis (HELLO, AUTH, PING, SELECT, CLIENT,
 * GET/SET/MGET/MSET/DEL/UNLINK/EXISTS/EXPIRE/PEXPIRE/TTL/PTTL/SCAN/KEYS/DBSIZE/
 * FLUSHDB/...) from an in-memory, binary-safe store. Tests take over with
 * `onCommand` (answer, delay, or never answer a command), drive a connection by
 * hand (`send` bytes split anywhere, garbage included, `reset`, `end`), refuse
 * or hang new connections, and inspect what the client wrote (`writes`,
 * `commands`).
 *
 * Every open connection holds a timer-free keep-alive so Node's test runner
 * does not exit while a client waits on an (unref'd) timeout; `close()`
 * releases everything, and is the teardown to call.
 *
 * @example A cache over the fake Redis
 * ```ts
 * import { AsyncCache, RedisBackend } from "@async-cache/cache";
 * import { FakeRedis } from "@async-cache/cache/testing";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * const redis = new RedisBackend({ transport: fake.connect });
 * const cache = new AsyncCache<string>({ remoteCache: redis });
 * assertEquals(await cache.get("user:1", { loader: () => "Ada" }), "Ada");
 * await cache.flush(); // the L2 write is in the background
 * assert(fake.commands.some(([name]) => name === "SET"));
 * await cache.close();
 * await redis.close();
 * await fake.close();
 * ```
 *
 * @module
 */

import type { Connect, Transport } from "../transport.ts";
import {
  type CommandHandler,
  type FakeCommand,
  FakeConnection,
  type FakeReply,
  serverSides,
} from "./fake_connection.ts";
import { globToRegExp } from "./_glob.ts";
import { dec, enc, fromLatin1, latin1, resp, toBytes } from "./resp_wire.ts";

export { resp, type RespBytes } from "./resp_wire.ts";
export {
  type CommandHandler,
  type FakeCommand,
  FakeConnection,
  type FakeReply,
  NO_REPLY,
} from "./fake_connection.ts";

const WRONGTYPE = resp.error("WRONGTYPE Operation against a key holding the wrong kind of value");

/**
 * Options of {@linkcode FakeRedis}.
 *
 * @example A password, and expiry on a fake clock
 * ```ts
 * import { FakeClock, FakeRedis, type FakeRedisOptions } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const clock = new FakeClock();
 * const options: FakeRedisOptions = { password: "s3cret", now: () => clock.now() };
 * const fake = new FakeRedis(options);
 * fake.set("k", "v", 1_000);
 * clock.advance(1_000);
 * assertEquals(fake.get("k"), undefined);
 * await fake.close();
 * ```
 */
export interface FakeRedisOptions {
  /** Require this password (`requirepass`, or the ACL user's). */
  password?: string;
  /** The ACL user that `password` belongs to. Default `"default"`. */
  username?: string;
  /** Answer `HELLO` (Redis 6+). `false` plays Redis 5: `ERR unknown command 'HELLO'`. Default true. */
  hello?: boolean;
  /** Clock for key expiry, in ms. Default `Date.now`. */
  now?: () => number;
  /** Deliver every automatic reply in chunks of this many bytes (1 = byte by byte). */
  splitReplies?: number;
}

/**
 * A stored value in the fake's keyspace.
 *
 * @example Reading the keyspace directly
 * ```ts
 * import { FakeRedis, type FakeEntry } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * fake.set("k", "v");
 * const entry: FakeEntry | undefined = fake.database(0).get("k");
 * assertEquals(entry?.value, new TextEncoder().encode("v"));
 * assertEquals(entry?.expiresAt, undefined);
 * await fake.close();
 * ```
 */
export interface FakeEntry {
  /** The value's bytes. */
  value: Uint8Array;
  /** When it expires (in the fake's clock), or undefined. */
  expiresAt: number | undefined;
  /** Creation order: SCAN cursors are sequence numbers, stable under deletion. */
  seq: number;
  /** For a sorted set (`ZADD`): its members' scores; `value` is then empty. */
  zset?: Map<string, number>;
}

/**
 * A fake Redis server reached through {@linkcode FakeRedis.connect}.
 *
 * @example Scripted failures: an error reply, garbage, a refused connection
 * ```ts
 * import { RedisBackend, RedisProtocolError, RedisReplyError } from "@async-cache/cache";
 * import { FakeRedis, resp } from "@async-cache/cache/testing";
 * import { assertRejects } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * const quiet = { warn() {}, error() {}, debug() {} };
 * const redis = new RedisBackend({ transport: fake.connect, logger: quiet });
 * const stop = fake.onCommand((args) => (args[0] === "GET" ? resp.error("ERR nope") : undefined));
 * await assertRejects(() => redis.client.command(["GET", "k"]), RedisReplyError);
 * stop();
 * fake.onCommand(() => "?not RESP\r\n"); // garbage: the client drops the connection
 * fake.refuse(); // and cannot reconnect
 * await assertRejects(() => redis.client.command(["PING"]), RedisProtocolError);
 * await redis.close();
 * await fake.close();
 * ```
 */
export class FakeRedis {
  /** Every connection accepted, in order. */
  readonly connections: FakeConnection[] = [];
  /** The password required, if any. */
  readonly password: string | undefined;
  /** The ACL user of `password`. */
  readonly username: string;
  /** Whether HELLO is understood (Redis 6+). */
  hello: boolean;
  /** Chunk size for automatic replies (undefined: whole). */
  splitReplies: number | undefined;
  /** How many times `connect` was called (refused and hung attempts included). */
  connectAttempts = 0;

  readonly #now: () => number;
  readonly #dbs = new Map<number, Map<string, FakeEntry>>();
  #seq = 0;
  #handlers: CommandHandler[] = [];
  #refusal: Error | undefined;
  #hanging = false;
  #hung: { reject: (e: Error) => void }[] = [];
  #waiters: { match: (c: FakeCommand) => boolean; resolve: (c: FakeCommand) => void }[] = [];
  #open = 0;
  #closed = false;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates a fake server with an empty keyspace.
   *
   * @param options Password, HELLO support, clock, reply splitting.
   */
  constructor(options: FakeRedisOptions = {}) {
    this.password = options.password;
    this.username = options.username ?? "default";
    this.hello = options.hello ?? true;
    this.#now = options.now ?? Date.now;
    this.splitReplies = options.splitReplies;
    serverSides.set(this, {
      released: () => this.#unhold(),
      received: (command) => this.#received(command),
      answer: (command) => this.#answer(command),
    });
  }

  /** The {@linkcode Connect} function to inject. */
  readonly connect: Connect = (options, handlers) => {
    this.connectAttempts++;
    if (this.#closed) return Promise.reject(new Error("ECONNREFUSED: the fake server is closed"));
    if (this.#refusal) {
      return Promise.reject(this.#refusal);
    }
    if (this.#hanging) {
      this.#hold();
      return new Promise<Transport>((_, reject) => {
        this.#hung.push({
          reject: (e) => {
            this.#unhold();
            reject(e);
          },
        });
      });
    }
    const conn = new FakeConnection(this, this.connections.length + 1, options, handlers);
    this.connections.push(conn);
    this.#hold();
    return Promise.resolve(conn.transport);
  };

  /** The most recent connection that is still open. */
  get current(): FakeConnection | undefined {
    for (let i = this.connections.length - 1; i >= 0; i--) {
      if (!this.connections[i].closed) return this.connections[i];
    }
    return undefined;
  }

  /** Every command received on every connection, decoded, in order. */
  get commands(): string[][] {
    return this.connections.flatMap((c) => c.commands);
  }

  /**
   * Adds a handler consulted before the default responder (the latest added
   * first). Return `undefined` to pass the command on.
   *
   * @param handler Decides the answer.
   * @returns A function that removes the handler.
   */
  onCommand(handler: CommandHandler): () => void {
    this.#handlers.unshift(handler);
    return () => {
      this.#handlers = this.#handlers.filter((h) => h !== handler);
    };
  }

  /**
   * Refuses new connections (`connect` rejects with `error`), or accepts them
   * again with `refuse(false)`.
   *
   * @param error The rejection; default an `ECONNREFUSED` error.
   */
  refuse(error: Error | false = new Error("ECONNREFUSED: connection refused")): void {
    this.#refusal = error === false ? undefined : error;
  }

  /**
   * Makes new connections hang: `connect` never settles until `hang(false)` or
   * `close()` (which reject those attempts).
   *
   * @param on Whether to hang.
   */
  hang(on = true): void {
    this.#hanging = on;
    if (!on) this.#releaseHung();
  }

  /**
   * Resolves with the next command matching `match` (a name such as `"GET"`,
   * or a predicate), received from now on.
   *
   * @param match The command name or a predicate.
   * @returns The command.
   */
  waitFor(match: string | ((command: FakeCommand) => boolean)): Promise<FakeCommand> {
    const test = typeof match === "string"
      ? (c: FakeCommand) => c.name === match.toUpperCase()
      : match;
    return new Promise((resolve) => this.#waiters.push({ match: test, resolve }));
  }

  /**
   * Shuts the fake down for good: resets every open connection, rejects hung
   * attempts and refuses new ones, releases the keep-alive. Close clients first.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#hanging = false;
    this.#releaseHung();
    for (const conn of this.connections) conn.reset(new Error("fake server closed"));
    this.#open = 0;
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
    return Promise.resolve();
  }

  // ---------------------------------------------------------- store helpers

  /** The entries of database `db`, keyed by the key's bytes as a latin1 string. */
  database(db = 0): Map<string, FakeEntry> {
    let map = this.#dbs.get(db);
    if (!map) this.#dbs.set(db, map = new Map());
    return map;
  }

  /**
   * Stores a value directly (no command).
   *
   * @param key The key (UTF-8) or its bytes.
   * @param value The value (UTF-8) or its bytes.
   * @param ttlMs Time to live, in ms.
   * @param db The database.
   */
  set(key: string | Uint8Array, value: string | Uint8Array, ttlMs?: number, db = 0): void {
    const k = latin1(toBytes(key));
    this.database(db).set(k, {
      value: toBytes(value).slice(),
      expiresAt: ttlMs === undefined ? undefined : this.#now() + ttlMs,
      seq: ++this.#seq,
    });
  }

  /**
   * Reads a value directly.
   *
   * @param key The key (UTF-8) or its bytes.
   * @param db The database.
   * @returns The bytes, or undefined if absent or expired.
   */
  get(key: string | Uint8Array, db = 0): Uint8Array | undefined {
    return this.#lookup(this.database(db), latin1(toBytes(key)))?.value;
  }

  /**
   * Reads a value directly, as UTF-8 text.
   *
   * @param key The key.
   * @param db The database.
   * @returns The text, or undefined if absent or expired.
   */
  getString(key: string | Uint8Array, db = 0): string | undefined {
    const v = this.get(key, db);
    return v === undefined ? undefined : dec.decode(v);
  }

  /**
   * Remaining time to live of a key, in ms.
   *
   * @param key The key.
   * @param db The database.
   * @returns ms left, `-1` without expiry, `-2` when absent.
   */
  ttl(key: string | Uint8Array, db = 0): number {
    const e = this.#lookup(this.database(db), latin1(toBytes(key)));
    if (!e) return -2;
    return e.expiresAt === undefined ? -1 : e.expiresAt - this.#now();
  }

  // ---------------------------------------------------------- internals

  #hold(): void {
    this.#open++;
    // An interval is a handle Node counts as alive, like the socket a real
    // transport would hold; it never fires in practice.
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
  }

  #unhold(): void {
    if (this.#open > 0) this.#open--;
    if (this.#open === 0 && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  #releaseHung(): void {
    const hung = this.#hung;
    this.#hung = [];
    for (const h of hung) h.reject(new Error("connect abandoned by the fake server"));
  }

  /** A command arrived: wake whoever waits for it. */
  #received(command: FakeCommand): void {
    const waiters = this.#waiters;
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i].match(command)) {
        waiters[i].resolve(command);
        waiters.splice(i--, 1);
      }
    }
  }

  /** Decides the answer: handlers first, then the default responder. */
  async #answer(command: FakeCommand): Promise<FakeReply> {
    for (const handler of this.#handlers) {
      const answer = await handler(command.args, command);
      if (answer !== undefined) return answer;
    }
    return this.#respond(command);
  }

  #lookup(db: Map<string, FakeEntry>, key: string): FakeEntry | undefined {
    const e = db.get(key);
    if (e && e.expiresAt !== undefined && e.expiresAt <= this.#now()) {
      db.delete(key);
      this.#invalidate([key], undefined);
      return undefined;
    }
    return e;
  }

  /**
   * RESP3 tracking: tells every tracking connection that read one of `keys`
   * (`null`: a flush, everything) that it changed; the writer itself only
   * with tracking but no `NOLOOP`. As in Redis, a key is forgotten once told.
   */
  #invalidate(keys: readonly string[] | null, writer: FakeConnection | undefined): void {
    for (const conn of this.connections) {
      if (!conn.tracking || conn.closed) continue;
      if (keys === null) {
        conn.tracked.clear();
        conn.send(resp.push([resp.bulk("invalidate"), resp.nil(3)]));
        continue;
      }
      const told: Uint8Array[] = [];
      for (const key of keys) {
        if (!conn.tracked.delete(key)) continue;
        if (conn !== writer || !conn.noloop) told.push(resp.bulk(fromLatin1(key)));
      }
      if (told.length > 0) conn.send(resp.push([resp.bulk("invalidate"), resp.array(told)]));
    }
  }

  /** Remembers the keys a tracking connection read. */
  #track(conn: FakeConnection, name: string, raw: Uint8Array[]): void {
    if (!conn.tracking) return;
    if (
      name === "GET" || name === "MGET" || name === "PTTL" || name === "TTL" ||
      name === "EXISTS" || name === "ZSCORE"
    ) {
      for (let i = 1; i < raw.length; i++) conn.tracked.add(latin1(raw[i]));
    }
  }

  /** The keys a write command changes (`null`: all of them), or `undefined` for none. */
  static #written(name: string, raw: Uint8Array[]): string[] | null | undefined {
    switch (name) {
      case "SET":
      case "INCR":
      case "INCRBY":
      case "ZADD":
      case "EXPIRE":
      case "PEXPIRE":
      case "PERSIST":
        return raw.length > 1 ? [latin1(raw[1])] : undefined;
      case "DEL":
      case "UNLINK":
        return raw.slice(1).map(latin1);
      case "MSET":
        return raw.slice(1).filter((_, i) => i % 2 === 0).map(latin1);
      case "FLUSHDB":
      case "FLUSHALL":
        return null;
      default:
        return undefined;
    }
  }

  /** The default responder: a small, binary-safe Redis. */
  #respond(command: FakeCommand): Uint8Array {
    const reply = this.#reply(command);
    if (reply[0] !== 0x2d /* "-" */) {
      const { conn, raw, name } = command;
      const written = FakeRedis.#written(name, raw);
      if (written !== undefined) this.#invalidate(written, conn);
      this.#track(conn, name, raw);
    }
    return reply;
  }

  #reply(command: FakeCommand): Uint8Array {
    const { conn, raw, args } = command;
    const name = command.name;
    const p = conn.protocol;
    const nil = resp.nil(p);
    const wrongArgs = resp.error(
      `ERR wrong number of arguments for '${name.toLowerCase()}' command`,
    );

    if (name === "HELLO") {
      if (!this.hello) {
        return resp.error(
          `ERR unknown command 'HELLO', with args beginning with: ${
            args.slice(1, 2).map((a) => `'${a}'`).join(" ")
          }`,
        );
      }
      const version = args[1] ?? "2";
      if (version !== "2" && version !== "3") {
        return resp.error("NOPROTO sorry, this protocol version is not supported.");
      }
      for (let i = 2; i < args.length; i++) {
        const opt = args[i].toUpperCase();
        if (opt === "AUTH") {
          if (!this.#checkAuth(args[i + 1], args[i + 2])) {
            return resp.error("WRONGPASS invalid username-password pair or user is disabled.");
          }
          conn.authenticated = true;
          i += 2;
        } else if (opt === "SETNAME") {
          conn.name = args[++i];
        }
      }
      if (!conn.authenticated) {
        return resp.error(
          "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
      }
      conn.protocol = version === "3" ? 3 : 2;
      const fields: [Uint8Array, Uint8Array][] = [
        [resp.bulk("server"), resp.bulk("redis")],
        [resp.bulk("version"), resp.bulk("7.2.0")],
        [resp.bulk("proto"), resp.int(conn.protocol)],
        [resp.bulk("id"), resp.int(conn.id)],
        [resp.bulk("mode"), resp.bulk("standalone")],
        [resp.bulk("role"), resp.bulk("master")],
        [resp.bulk("modules"), resp.array([])],
      ];
      return conn.protocol === 3 ? resp.map(fields) : resp.array(fields.flat());
    }
    if (name === "AUTH") {
      if (args.length < 2 || args.length > 3) return wrongArgs;
      if (this.password === undefined) {
        return resp.error(
          "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
      }
      const [user, pass] = args.length === 3 ? [args[1], args[2]] : ["default", args[1]];
      if (!this.#checkAuth(user, pass)) {
        return resp.error("WRONGPASS invalid username-password pair or user is disabled.");
      }
      conn.authenticated = true;
      return resp.ok;
    }
    if (name === "QUIT") return resp.ok;
    if (!conn.authenticated) return resp.error("NOAUTH Authentication required.");

    const db = this.database(conn.db);
    const key = (i: number): string => latin1(raw[i]);
    switch (name) {
      case "PING":
        return args.length > 1 ? resp.bulk(raw[1]) : resp.simple("PONG");
      case "ECHO":
        return args.length === 2 ? resp.bulk(raw[1]) : wrongArgs;
      case "SELECT": {
        const n = Number(args[1]);
        if (!Number.isInteger(n) || n < 0 || n > 15) {
          return resp.error("ERR DB index is out of range");
        }
        conn.db = n;
        return resp.ok;
      }
      case "CLIENT": {
        const sub = (args[1] ?? "").toUpperCase();
        if (sub === "SETNAME" && args.length === 3) {
          if (/\s/.test(args[2])) {
            return resp.error(
              "ERR Client names cannot contain spaces, newlines or special characters.",
            );
          }
          conn.name = args[2];
          return resp.ok;
        }
        if (sub === "GETNAME") return conn.name === undefined ? nil : resp.bulk(conn.name);
        if (sub === "TRACKING") {
          const on = (args[2] ?? "").toUpperCase();
          if (on === "OFF") {
            conn.tracking = false;
            conn.tracked.clear();
            return resp.ok;
          }
          if (on !== "ON") return resp.error("ERR syntax error");
          if (conn.protocol !== 3) {
            return resp.error(
              "ERR Keys tracking in RESP2 needs a REDIRECT client: this fake supports RESP3 tracking only",
            );
          }
          conn.tracking = true;
          conn.noloop = args.slice(3).some((a) => a.toUpperCase() === "NOLOOP");
          return resp.ok;
        }
        if (sub === "ID") return resp.int(conn.id);
        return resp.error(`ERR unknown subcommand '${args[1]}'.`);
      }
      case "GET": {
        if (args.length !== 2) return wrongArgs;
        const e = this.#lookup(db, key(1));
        if (e?.zset) return WRONGTYPE;
        return e ? resp.bulk(e.value) : nil;
      }
      case "MGET": {
        if (args.length < 2) return wrongArgs;
        const items: Uint8Array[] = [];
        for (let i = 1; i < raw.length; i++) {
          const e = this.#lookup(db, key(i));
          items.push(e && !e.zset ? resp.bulk(e.value) : nil);
        }
        return resp.array(items);
      }
      case "SET":
        return this.#set(db, raw, args, nil);
      case "MSET": {
        if (args.length < 3 || args.length % 2 === 0) return wrongArgs;
        for (let i = 1; i < raw.length; i += 2) {
          db.set(key(i), { value: raw[i + 1].slice(), expiresAt: undefined, seq: ++this.#seq });
        }
        return resp.ok;
      }
      case "DEL":
      case "UNLINK": {
        if (args.length < 2) return wrongArgs;
        let n = 0;
        for (let i = 1; i < raw.length; i++) {
          if (this.#lookup(db, key(i))) n++;
          db.delete(key(i));
        }
        return resp.int(n);
      }
      case "EXISTS": {
        let n = 0;
        for (let i = 1; i < raw.length; i++) if (this.#lookup(db, key(i))) n++;
        return resp.int(n);
      }
      case "EXPIRE":
      case "PEXPIRE": {
        if (args.length !== 3) return wrongArgs;
        const e = this.#lookup(db, key(1));
        const amount = Number(args[2]);
        if (!Number.isInteger(amount)) {
          return resp.error("ERR value is not an integer or out of range");
        }
        if (!e) return resp.int(0);
        e.expiresAt = this.#now() + (name === "EXPIRE" ? amount * 1000 : amount);
        return resp.int(1);
      }
      case "PERSIST": {
        const e = this.#lookup(db, key(1));
        if (!e || e.expiresAt === undefined) return resp.int(0);
        e.expiresAt = undefined;
        return resp.int(1);
      }
      case "TTL":
      case "PTTL": {
        if (args.length !== 2) return wrongArgs;
        const e = this.#lookup(db, key(1));
        if (!e) return resp.int(-2);
        if (e.expiresAt === undefined) return resp.int(-1);
        const ms = e.expiresAt - this.#now();
        return resp.int(name === "TTL" ? Math.round(ms / 1000) : ms);
      }
      case "ZADD":
        return this.#zadd(db, key(1), args);
      case "ZSCORE": {
        if (args.length !== 3) return wrongArgs;
        const e = this.#lookup(db, key(1));
        if (e && !e.zset) return WRONGTYPE;
        const score = e?.zset?.get(args[2]);
        return score === undefined ? nil : resp.bulk(enc.encode(String(score)));
      }
      case "INCR":
      case "INCRBY": {
        const e = this.#lookup(db, key(1));
        if (e?.zset) return WRONGTYPE;
        const by = name === "INCR" ? 1 : Number(args[2]);
        const current = e ? Number(dec.decode(e.value)) : 0;
        if (!Number.isInteger(current) || !Number.isInteger(by)) {
          return resp.error("ERR value is not an integer or out of range");
        }
        const next = current + by;
        db.set(key(1), {
          value: enc.encode(String(next)),
          expiresAt: e?.expiresAt,
          seq: e?.seq ?? ++this.#seq,
        });
        return resp.int(next);
      }
      case "SCAN":
        return this.#scan(db, args);
      case "KEYS": {
        const re = globToRegExp(args[1] ?? "*");
        const out: Uint8Array[] = [];
        for (const k of [...db.keys()]) {
          if (this.#lookup(db, k) && re.test(k)) out.push(resp.bulk(fromLatin1(k)));
        }
        return resp.array(out);
      }
      case "DBSIZE": {
        let n = 0;
        for (const k of [...db.keys()]) if (this.#lookup(db, k)) n++;
        return resp.int(n);
      }
      case "FLUSHDB":
        db.clear();
        return resp.ok;
      case "FLUSHALL":
        this.#dbs.clear();
        return resp.ok;
      default:
        return resp.error(`ERR unknown command '${args[0]}', with args beginning with: `);
    }
  }

  #checkAuth(user: string | undefined, pass: string | undefined): boolean {
    if (this.password === undefined) return true; // nopass default user accepts anything
    return user === this.username && pass === this.password;
  }

  /** `ZADD key [NX|XX] [GT|LT] score member [score member ...]`: the options counters use. */
  #zadd(db: Map<string, FakeEntry>, k: string, args: string[]): Uint8Array {
    let i = 2;
    const flags = new Set<string>();
    while (i < args.length && ["NX", "XX", "GT", "LT", "CH"].includes(args[i].toUpperCase())) {
      flags.add(args[i++].toUpperCase());
    }
    const pairs = args.slice(i);
    if (pairs.length === 0 || pairs.length % 2 !== 0) return resp.error("ERR syntax error");
    const e = this.#lookup(db, k);
    if (e && !e.zset) return WRONGTYPE;
    const zset = e?.zset ?? new Map<string, number>();
    let added = 0;
    for (let j = 0; j < pairs.length; j += 2) {
      const score = Number(pairs[j]);
      if (Number.isNaN(score)) return resp.error("ERR value is not a valid float");
      const old = zset.get(pairs[j + 1]);
      if (old === undefined ? flags.has("XX") : flags.has("NX")) continue;
      if (old !== undefined && flags.has("GT") && !(score > old)) continue;
      if (old !== undefined && flags.has("LT") && !(score < old)) continue;
      if (old === undefined) added++;
      zset.set(pairs[j + 1], score);
    }
    if (zset.size > 0 && e === undefined) {
      db.set(k, { value: new Uint8Array(0), expiresAt: undefined, seq: ++this.#seq, zset });
    }
    return resp.int(added);
  }

  #set(db: Map<string, FakeEntry>, raw: Uint8Array[], args: string[], nil: Uint8Array): Uint8Array {
    if (args.length < 3) return resp.error("ERR wrong number of arguments for 'set' command");
    const k = latin1(raw[1]);
    let expiresAt: number | undefined;
    let nx = false, xx = false, get = false, keepTtl = false;
    for (let i = 3; i < args.length; i++) {
      const opt = args[i].toUpperCase();
      if (opt === "NX") nx = true;
      else if (opt === "XX") xx = true;
      else if (opt === "GET") get = true;
      else if (opt === "KEEPTTL") keepTtl = true;
      else if (opt === "EX" || opt === "PX" || opt === "EXAT" || opt === "PXAT") {
        const n = Number(args[++i]);
        if (!Number.isInteger(n) || n <= 0) {
          return resp.error("ERR invalid expire time in 'set' command");
        }
        expiresAt = opt === "EX"
          ? this.#now() + n * 1000
          : opt === "PX"
          ? this.#now() + n
          : opt === "EXAT"
          ? n * 1000
          : n;
      } else {
        return resp.error("ERR syntax error");
      }
    }
    const old = this.#lookup(db, k);
    const previous = get ? (old ? resp.bulk(old.value) : nil) : undefined;
    if ((nx && old) || (xx && !old)) return previous ?? nil;
    db.set(k, {
      value: raw[2].slice(),
      expiresAt: keepTtl ? old?.expiresAt : expiresAt,
      seq: old?.seq ?? ++this.#seq,
    });
    return previous ?? resp.ok;
  }

  #scan(db: Map<string, FakeEntry>, args: string[]): Uint8Array {
    const cursor = Number(args[1]);
    if (!Number.isInteger(cursor) || cursor < 0) return resp.error("ERR invalid cursor");
    let count = 10;
    let re: RegExp | undefined;
    for (let i = 2; i < args.length; i += 2) {
      const opt = args[i].toUpperCase();
      if (opt === "COUNT") count = Math.max(1, Number(args[i + 1]) || 10);
      else if (opt === "MATCH") re = globToRegExp(args[i + 1] ?? "*");
      else if (opt !== "TYPE") return resp.error("ERR syntax error");
    }
    // Keys in creation order after the cursor: entries present throughout a
    // scan are returned exactly once, even if others are deleted meanwhile.
    const live: [string, FakeEntry][] = [];
    for (const k of [...db.keys()]) {
      const e = this.#lookup(db, k);
      if (e && e.seq > cursor) live.push([k, e]);
    }
    live.sort((a, b) => a[1].seq - b[1].seq);
    const page = live.slice(0, count);
    const next = page.length < live.length ? page[page.length - 1][1].seq : 0;
    const keys = page.filter(([k]) => !re || re.test(k)).map(([k]) => resp.bulk(fromLatin1(k)));
    return resp.array([resp.bulk(String(next)), resp.array(keys)]);
  }
}
