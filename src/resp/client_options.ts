/**
 * The options of a `RedisClient`: their type, their names (an unknown one is
 * an error) and the checks the constructor makes before anything connects.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Backoff } from "./backoff.ts";
import { type ParserLimits, type PushReply, RespParser } from "./parser.ts";
import type { Connect, TlsOptions } from "../transport.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";

/** Options of {@linkcode RedisClient}. */
export interface RedisClientOptions {
  /** Opens the byte stream (a runtime transport, or a fake in tests). */
  connect: Connect;
  /** Host name or IP address. Default `"127.0.0.1"`. */
  host?: string;
  /** TCP port, 1-65535. Default 6379. */
  port?: number;
  /** A unix socket path, used instead of host and port. */
  path?: string;
  /** TLS: `true`, or options for a custom CA / server name. */
  tls?: boolean | TlsOptions;
  /** ACL user name (Redis 6+); needs `password`. */
  username?: string;
  /** Password (`requirepass`, or the ACL user's). */
  password?: string;
  /** Database index selected on connect. Default 0. */
  db?: number;
  /**
   * Connection name (no spaces), sent in `HELLO 3 ... SETNAME` (with RESP2:
   * `CLIENT SETNAME`, where a refusal such as `NOPERM` is logged once and
   * ignored). `undefined` or `null` (default): no name.
   */
  clientName?: string | null;
  /** Bound on opening a connection, handshake included, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Bound on every reply, in ms (`Infinity` disables it). Default 5000. */
  socketTimeoutMs?: number;
  /** Where connection problems are reported (once per outage). Default: silent. */
  logger?: Logger;
  /** Parser limits (max bulk length, aggregate length, depth, line length). */
  parserLimits?: ParserLimits;
  /** Delay before reconnect attempt `n`. Default {@linkcode defaultBackoff}: 25 ms doubling, capped at 2 s. */
  backoff?: Backoff;
  /** `3` (default) tries `HELLO 3` and falls back to RESP2; `2` skips HELLO. */
  protocol?: 2 | 3;
  /** Receives RESP3 push messages (they answer no command). */
  onPush?: (push: PushReply) => void;
  /**
   * RESP3 server-assisted invalidation: after `HELLO 3`, each connection
   * sends `CLIENT TRACKING ON` with these arguments (e.g. `["NOLOOP"]`), so
   * `invalidate` pushes reach `onPush`. A refusal (RESP2, `NOPERM`) is
   * logged once and the connection is used without it; see
   * {@linkcode RedisClient.tracking}. Default: off.
   */
  tracking?: readonly string[];
}

const CLIENT_OPTION_NAMES = optionNames<RedisClientOptions>({
  connect: true,
  host: true,
  port: true,
  path: true,
  tls: true,
  username: true,
  password: true,
  db: true,
  clientName: true,
  connectTimeoutMs: true,
  socketTimeoutMs: true,
  logger: true,
  parserLimits: true,
  backoff: true,
  protocol: true,
  onPush: true,
  tracking: true,
});

/** What the constructor keeps of the checked options. */
export interface CheckedClientOptions {
  port: number;
  db: number;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
}

/**
 * Checks `o` as the `RedisClient` constructor needs it.
 *
 * @throws {InvalidOptionError} For an unknown option or one out of range.
 */
export function checkClientOptions(o: RedisClientOptions): CheckedClientOptions {
  if (typeof o === "object") checkOptionNames("RedisClient", o, CLIENT_OPTION_NAMES);
  if (typeof o.connect !== "function") {
    throw new InvalidOptionError("RedisClient", "connect", "a Connect function", o.connect);
  }
  const port = o.port ?? 6379;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidOptionError("RedisClient", "port", "an integer 1-65535", port);
  }
  const db = o.db ?? 0;
  if (!Number.isInteger(db) || db < 0) {
    throw new InvalidOptionError("RedisClient", "db", "a non-negative integer", db);
  }
  if (o.username !== undefined && o.password === undefined) {
    throw new InvalidOptionError(
      "RedisClient",
      "password",
      "set when username is set",
      undefined,
    );
  }
  if (
    o.clientName !== undefined && o.clientName !== null &&
    (typeof o.clientName !== "string" || o.clientName === "" || /\s/.test(o.clientName))
  ) {
    throw new InvalidOptionError(
      "RedisClient",
      "clientName",
      "a non-empty name without spaces",
      o.clientName,
    );
  }
  if (o.protocol !== undefined && o.protocol !== 2 && o.protocol !== 3) {
    throw new InvalidOptionError("RedisClient", "protocol", "2 or 3", o.protocol);
  }
  const connectTimeoutMs = duration("connectTimeoutMs", o.connectTimeoutMs, 5000);
  const socketTimeoutMs = duration("socketTimeoutMs", o.socketTimeoutMs, 5000);
  if (!Number.isFinite(connectTimeoutMs)) {
    throw new InvalidOptionError("RedisClient", "connectTimeoutMs", "a finite number", Infinity);
  }
  // Validate the limits now rather than on the first connection.
  new RespParser(() => {}, o.parserLimits);
  return { port, db, connectTimeoutMs, socketTimeoutMs };
}

function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new InvalidOptionError("RedisClient", name, "a positive number of milliseconds", value);
  }
  return value;
}
