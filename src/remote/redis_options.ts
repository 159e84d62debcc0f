/**
 * `RedisBackend` options: defaults, `redis://` URL parsing and validation,
 * resolved once at construction so a bad option fails where it is written.
 *
 * @module
 */
import { type Duration, parseDuration } from "../time.ts";
import { InvalidOptionError } from "../errors.ts";
import { type Logger, resolveLogger } from "../logger.ts";
import type { Connect, TlsOptions } from "../transport.ts";

/** Options for `RedisBackend`. */
export interface RedisBackendOptions {
  /** `redis://user:pass@host:6379/0`, `rediss://…` (TLS), `redis+unix:///path?db=0` or `unix:///path`. Explicit options override its parts. */
  url?: string;
  /** Server host. Default `"localhost"`. */
  host?: string;
  /** Server port. Default `6379`. */
  port?: number;
  /** A unix socket path instead of host and port. */
  path?: string;
  /** Database number (`SELECT`). Default `0`. */
  db?: number;
  /** ACL user name (with `password`). Default: the `default` user. */
  username?: string;
  /** Password (`AUTH`). Default: none. */
  password?: string;
  /** Prepended to every key; `clear()` deletes only keys under it. Default `"ac:"`. */
  prefix?: string;
  /** Bound on connecting (TCP + TLS + handshake). Default `"5s"`. */
  connectTimeout?: Duration;
  /** Bound on every reply; past it the connection is dropped and remade. Default `"5s"`. */
  socketTimeout?: Duration;
  /** TLS: `true`, or `{ servername, ca }` for a private CA. Default: off (on for `rediss://`). */
  tls?: boolean | TlsOptions;
  /** `CLIENT SETNAME`. Default `"async-cache"`. */
  clientName?: string;
  /** The byte-stream adapter; default: the running runtime's (Deno, Bun or Node sockets). Tests inject a fake. */
  transport?: Connect;
  /** Where connection problems and corrupt entries are reported. Default `console`. */
  logger?: Logger;
}

/** Options after defaults, URL and validation. */
export interface ResolvedRedisOptions {
  host: string;
  port: number;
  path: string | undefined;
  db: number;
  username: string | undefined;
  password: string | undefined;
  prefix: string;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  tls: boolean | TlsOptions | undefined;
  clientName: string;
  transport: Connect | undefined;
  logger: Logger;
}

const WHAT = "RedisBackend";

function fromUrl(url: string): Partial<RedisBackendOptions> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidOptionError(WHAT, "url", "a redis://, rediss:// or unix:// URL", url);
  }
  const out: Partial<RedisBackendOptions> = {};
  const dbParam = u.searchParams.get("db");
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  switch (u.protocol) {
    case "redis:":
    case "rediss:": {
      if (u.hostname) out.host = u.hostname.replace(/^\[(.*)\]$/, "$1");
      if (u.port) out.port = Number(u.port);
      const db = u.pathname.replace(/^\//, "");
      if (db !== "") out.db = parseDb(db, url);
      if (u.protocol === "rediss:") out.tls = true;
      break;
    }
    case "redis+unix:":
    case "unix:":
      out.path = decodeURIComponent(u.pathname);
      if (!out.path) throw new InvalidOptionError(WHAT, "url", "a unix:// URL with a path", url);
      break;
    default:
      throw new InvalidOptionError(WHAT, "url", "a redis://, rediss:// or unix:// URL", url);
  }
  if (dbParam !== null) out.db = parseDb(dbParam, url);
  return out;
}

function parseDb(text: string, url: string): number {
  if (!/^\d+$/.test(text)) {
    throw new InvalidOptionError(WHAT, "url", "a database number after /", url);
  }
  return Number(text);
}

/** Applies defaults, the URL and validation. @throws {InvalidOptionError} */
export function resolveRedisOptions(options: RedisBackendOptions = {}): ResolvedRedisOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(WHAT, "options", "an object", options);
  }
  if (options.url !== undefined && typeof options.url !== "string") {
    throw new InvalidOptionError(WHAT, "url", "a string", options.url);
  }
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as RedisBackendOptions;
  const o: RedisBackendOptions = { ...(options.url ? fromUrl(options.url) : {}), ...defined };

  const host = o.host ?? "localhost";
  if (typeof host !== "string" || host === "") {
    throw new InvalidOptionError(WHAT, "host", "a non-empty string", host);
  }
  const port = o.port ?? 6379;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidOptionError(WHAT, "port", "1-65535", port);
  }
  if (o.path !== undefined && (typeof o.path !== "string" || o.path === "")) {
    throw new InvalidOptionError(WHAT, "path", "a non-empty string", o.path);
  }
  const db = o.db ?? 0;
  if (!Number.isInteger(db) || db < 0) {
    throw new InvalidOptionError(WHAT, "db", "an integer >= 0", db);
  }
  for (const name of ["username", "password", "clientName"] as const) {
    const v = o[name];
    if (v !== undefined && typeof v !== "string") {
      throw new InvalidOptionError(WHAT, name, "a string", name === "password" ? "(hidden)" : v);
    }
  }
  if (o.username !== undefined && o.password === undefined) {
    throw new InvalidOptionError(WHAT, "password", "given with username", undefined);
  }
  if (o.clientName !== undefined && /\s/.test(o.clientName)) {
    throw new InvalidOptionError(WHAT, "clientName", "a name without spaces", o.clientName);
  }
  const prefix = o.prefix ?? "ac:";
  if (typeof prefix !== "string") throw new InvalidOptionError(WHAT, "prefix", "a string", prefix);
  const tls = o.tls;
  if (tls !== undefined && typeof tls !== "boolean" && (tls === null || typeof tls !== "object")) {
    throw new InvalidOptionError(WHAT, "tls", "a boolean or { servername, ca }", tls);
  }
  if (o.transport !== undefined && typeof o.transport !== "function") {
    throw new InvalidOptionError(WHAT, "transport", "a Connect function", o.transport);
  }
  const logger = resolveLogger(WHAT, o.logger);
  return {
    host,
    port,
    path: o.path,
    db,
    username: o.username,
    password: o.password,
    prefix,
    connectTimeoutMs: parseDuration(o.connectTimeout ?? "5s", WHAT, "connectTimeout"),
    socketTimeoutMs: parseDuration(o.socketTimeout ?? "5s", WHAT, "socketTimeout"),
    tls,
    clientName: o.clientName ?? "async-cache",
    transport: o.transport,
    logger,
  };
}
