/**
 * `RedisBackend` options: defaults, `redis://` URL parsing and validation,
 * resolved once at construction so a bad option fails where it is written.
 *
 * @module
 */
import { type Duration, parseDuration } from "../time.ts";
import { InvalidOptionError } from "../errors.ts";
import { checkLogger, type Logger } from "../logger.ts";
import type { Connect, TlsOptions } from "../transport.ts";
import { type ParserLimits, RespParser } from "../resp/parser.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";
import { addressPolicy, type NatMap } from "../resp/announced.ts";
import type { NodeAddress } from "../resp/cluster/topology.ts";

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
  /**
   * Prepended to every key; `clear()` deletes only keys under it. Must be `""`
   * or end with a separator (not a letter or digit, e.g. `":"`): `clear()`
   * deletes every key that starts with the prefix, so `"svc"` would also clear
   * `"svc2:*"`. Default `"ac:"`.
   */
  prefix?: string;
  /** Bound on connecting (TCP + TLS + handshake). Default `"5s"`. */
  connectTimeout?: Duration;
  /** Bound on every reply; past it the connection is dropped and remade. Default `"5s"`. */
  socketTimeout?: Duration;
  /** TLS: `true`, or `{ servername, ca }` for a private CA. Default: off (on for `rediss://`). */
  tls?: boolean | TlsOptions;
  /**
   * The connection name (no spaces), sent in `HELLO 3 ... SETNAME` (RESP2:
   * `CLIENT SETNAME`, where a `NOPERM` is logged once and ignored). `null`
   * sends none. Default `"async-cache"`.
   */
  clientName?: string | null;
  /**
   * Bounds on what a reply may make the client allocate (`maxBulkLength`,
   * `maxAggregateLength`, `maxDepth`, `maxLineLength`); a reply past one
   * closes the connection with a `RedisProtocolError`. Default: 512 MiB,
   * 1,000,000, 64 and 64 KiB.
   */
  parserLimits?: ParserLimits;
  /**
   * The largest entry this backend decodes, in bytes: a longer one is a
   * logged miss (`SerializationError`), refused before decoding. Decoding is
   * bounded in any case (about 32 heap bytes per entry byte). Default: no
   * cap (`parserLimits.maxBulkLength` bounds what is read).
   */
  maxEntryBytes?: number;
  /**
   * Server-assisted invalidation (RESP3 `CLIENT TRACKING ON NOLOOP`): when
   * any client changes a key this process holds in L1, the copy is dropped
   * before its next read. Needs RESP3 and `+client|tracking` in an ACL;
   * without either, L1 copies live until their TTL (logged once).
   * Default `true`.
   */
  tracking?: boolean;
  /**
   * While tracking is on, a `PING` this often proves the connection alive
   * (a half-open socket then times out and its L1 copies are dropped).
   * Default `"1s"`.
   */
  healthCheckInterval?: Duration;
  /** The byte-stream adapter; default: the running runtime's (Deno, Bun or Node sockets). Tests inject a fake. */
  transport?: Connect;
  /** Where connection problems and corrupt entries are reported. Default: the logger of the caches it serves (`console` before any). */
  logger?: Logger;
  /**
   * Redis Cluster: seed nodes (one reachable node is enough to discover the
   * rest) and the redirects one command may follow (default 5). Credentials,
   * TLS and timeouts apply to every node. Not with `host`, `port`, `path`,
   * `db` or `sentinels`.
   */
  cluster?: { nodes: readonly { host: string; port: number }[]; maxRedirects?: number };
  /**
   * Redis Sentinel: the sentinels to ask for the primary of `name`. Not with
   * `host`, `port`, `path` or `cluster`.
   */
  sentinels?: readonly { host: string; port: number }[];
  /** With `sentinels`: the monitored set's name (`sentinel monitor <name> ...`). */
  name?: string;
  /** With `sentinels`: the sentinels' own password, if they require one. */
  sentinelPassword?: string;
  /** With `sentinels` and `sentinelPassword`: the sentinels' ACL user. */
  sentinelUsername?: string;
  /**
   * With `cluster` or `sentinels`: maps the addresses the nodes or sentinels announce
   * (`"host:port"` keys, or a function) to reachable ones, for NAT or port mapping.
   */
  natMap?: NatMap;
  /**
   * With `cluster` or `sentinels`: whether an announced address (after `natMap`) may be
   * connected to. The credentials go to every node connected to, so this keeps them inside
   * your network when a node or sentinel announces an address it should not. Default: all.
   */
  allowNode?: (address: NodeAddress) => boolean;
}

/** A node address, validated. */
export interface NodeAddressOption {
  host: string;
  port: number;
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
  clientName: string | null;
  parserLimits: ParserLimits | undefined;
  maxEntryBytes: number | undefined;
  transport: Connect | undefined;
  logger: Logger | undefined;
  tracking: boolean;
  healthCheckIntervalMs: number;
  cluster: { nodes: NodeAddressOption[]; maxRedirects: number | undefined } | undefined;
  natMap: NatMap | undefined;
  allowNode: ((address: NodeAddressOption) => boolean) | undefined;
  sentinel:
    | {
      sentinels: NodeAddressOption[];
      name: string;
      sentinelPassword: string | undefined;
      sentinelUsername: string | undefined;
    }
    | undefined;
}

const WHAT = "RedisBackend";

const OPTION_NAMES = optionNames<RedisBackendOptions>({
  url: true,
  host: true,
  port: true,
  path: true,
  db: true,
  username: true,
  password: true,
  prefix: true,
  connectTimeout: true,
  socketTimeout: true,
  tls: true,
  clientName: true,
  parserLimits: true,
  maxEntryBytes: true,
  tracking: true,
  healthCheckInterval: true,
  transport: true,
  logger: true,
  cluster: true,
  sentinels: true,
  name: true,
  sentinelPassword: true,
  sentinelUsername: true,
  natMap: true,
  allowNode: true,
});
const CLUSTER_NAMES = optionNames<NonNullable<RedisBackendOptions["cluster"]>>({
  nodes: true,
  maxRedirects: true,
});
const NODE_NAMES = optionNames<NodeAddressOption>({ host: true, port: true });
const TLS_NAMES = optionNames<TlsOptions>({ servername: true, ca: true });
const LIMIT_NAMES = optionNames<ParserLimits>({
  maxBulkLength: true,
  maxAggregateLength: true,
  maxDepth: true,
  maxLineLength: true,
});

/**
 * The URL with its password replaced by `***`, for error messages. Everything
 * between the scheme and the last `@` after the user name is hidden, so a
 * password with unencoded `@`, `/` or `:` in it does not leak either.
 */
export function redactUrl(url: string): string {
  const scheme = url.indexOf("://");
  const from = scheme === -1 ? url.indexOf(":") + 1 : scheme + 3;
  const at = url.lastIndexOf("@");
  if (from <= 0 || at < from) return url;
  const userinfo = url.slice(from, at);
  const colon = userinfo.indexOf(":");
  return url.slice(0, from) + (colon === -1 ? "***" : userinfo.slice(0, colon + 1) + "***") +
    url.slice(at);
}

function badUrl(expected: string, url: string): InvalidOptionError {
  return new InvalidOptionError(WHAT, "url", expected, redactUrl(url));
}

function decode(part: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badUrl("a URL with valid percent-encoding (%XX, UTF-8)", url);
  }
}

function fromUrl(url: string): Partial<RedisBackendOptions> {
  // `redis://user:a#b@host`: the URL parser ends the authority at the first `/`, `?` or `#`,
  // so an unencoded one in the password makes part of the password the host (and the rest a
  // path or fragment). Redis URLs carry no `@` after their authority: one there is such a case.
  const scheme = /^rediss?:\/\//i.exec(url);
  if (scheme !== null) {
    const rest = url.slice(scheme[0].length);
    const end = rest.search(/[/?#]/);
    if (end !== -1 && rest.indexOf("@", end) !== -1) {
      throw badUrl(
        "a URL whose user name and password percent-encode /, ? and # (%2F, %3F, %23; " +
          "encodeURIComponent does it)",
        url,
      );
    }
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl("a redis://, rediss:// or unix:// URL", url);
  }
  const out: Partial<RedisBackendOptions> = {};
  let dbParam: string | null;
  try {
    dbParam = u.searchParams.get("db");
  } catch {
    throw badUrl("a URL with valid percent-encoding (%XX, UTF-8)", url);
  }
  if (u.username) out.username = decode(u.username, url);
  if (u.password) out.password = decode(u.password, url);
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
      out.path = decode(u.pathname, url);
      if (!out.path) throw badUrl("a unix:// URL with a path", url);
      break;
    default:
      throw badUrl("a redis://, rediss:// or unix:// URL", url);
  }
  if (dbParam !== null) out.db = parseDb(dbParam, url);
  return out;
}

function parseDb(text: string, url: string): number {
  if (!/^\d+$/.test(text)) {
    throw badUrl("a database number after /", url);
  }
  return Number(text);
}

/** Applies defaults, the URL and validation. @throws {InvalidOptionError} */
export function resolveRedisOptions(options: RedisBackendOptions = {}): ResolvedRedisOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(WHAT, "options", "an object", options);
  }
  checkOptionNames(WHAT, options, OPTION_NAMES);
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
    if (v !== undefined && typeof v !== "string" && !(name === "clientName" && v === null)) {
      throw new InvalidOptionError(WHAT, name, "a string", name === "password" ? "(hidden)" : v);
    }
  }
  if (o.username !== undefined && o.password === undefined) {
    throw new InvalidOptionError(WHAT, "password", "given with username", undefined);
  }
  if (typeof o.clientName === "string" && (o.clientName === "" || /\s/.test(o.clientName))) {
    throw new InvalidOptionError(
      WHAT,
      "clientName",
      "a non-empty name without spaces, or null for none",
      o.clientName,
    );
  }
  const prefix = o.prefix ?? "ac:";
  if (typeof prefix !== "string") throw new InvalidOptionError(WHAT, "prefix", "a string", prefix);
  if (/[\p{L}\p{N}]$/u.test(prefix)) {
    throw new InvalidOptionError(
      WHAT,
      "prefix",
      'empty or ending with a separator such as ":" (clear() deletes every key that starts ' +
        'with the prefix, so "svc" would also clear "svc2:*")',
      prefix,
    );
  }
  const parserLimits = checkParserLimits(o.parserLimits);
  const maxEntryBytes = o.maxEntryBytes;
  if (
    maxEntryBytes !== undefined &&
    !(typeof maxEntryBytes === "number" && Number.isInteger(maxEntryBytes) && maxEntryBytes > 0)
  ) {
    throw new InvalidOptionError(WHAT, "maxEntryBytes", "a positive integer", maxEntryBytes);
  }
  const tls = o.tls;
  if (tls !== undefined && typeof tls !== "boolean" && (tls === null || typeof tls !== "object")) {
    throw new InvalidOptionError(WHAT, "tls", "a boolean or { servername, ca }", tls);
  }
  if (typeof tls === "object") checkOptionNames(WHAT, tls, TLS_NAMES, "tls.");
  if (o.transport !== undefined && typeof o.transport !== "function") {
    throw new InvalidOptionError(WHAT, "transport", "a Connect function", o.transport);
  }
  const logger = checkLogger(WHAT, o.logger);
  const tracking = o.tracking ?? true;
  if (typeof tracking !== "boolean") {
    throw new InvalidOptionError(WHAT, "tracking", "a boolean", tracking);
  }
  const { cluster, sentinel } = checkTopology(o, defined, db);
  for (const name of ["natMap", "allowNode"] as const) {
    if (o[name] !== undefined && !cluster && !sentinel) {
      throw new InvalidOptionError(WHAT, name, "given with cluster or sentinels", "(set)");
    }
  }
  addressPolicy(WHAT, o);
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
    clientName: o.clientName === undefined ? "async-cache" : o.clientName,
    parserLimits,
    maxEntryBytes,
    transport: o.transport,
    logger,
    tracking,
    healthCheckIntervalMs: parseDuration(
      o.healthCheckInterval ?? "1s",
      WHAT,
      "healthCheckInterval",
    ),
    cluster,
    sentinel,
    natMap: o.natMap,
    allowNode: o.allowNode,
  };
}

function checkNodes(option: string, nodes: unknown): NodeAddressOption[] {
  const expected = "a non-empty array of { host, port } (host a non-empty string, port 1-65535)";
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new InvalidOptionError(WHAT, option, expected, nodes);
  }
  return nodes.map((n, i) => {
    if (n !== null && typeof n === "object") {
      checkOptionNames(WHAT, n, NODE_NAMES, `${option}[${i}].`);
    }
    const { host, port } = (n ?? {}) as Partial<NodeAddressOption>;
    if (
      typeof host !== "string" || host === "" || !Number.isInteger(port) || port! < 1 ||
      port! > 65535
    ) {
      throw new InvalidOptionError(WHAT, option, expected, n);
    }
    return { host, port: port! };
  });
}

/** `cluster` or `sentinels` (+ `name`), and the single-node options they exclude. */
function checkTopology(
  o: RedisBackendOptions,
  explicit: RedisBackendOptions,
  db: number,
): Pick<ResolvedRedisOptions, "cluster" | "sentinel"> {
  const hasSentinels = o.sentinels !== undefined;
  for (const name of ["name", "sentinelPassword", "sentinelUsername"] as const) {
    const v = o[name];
    if (v === undefined) continue;
    if (!hasSentinels) throw new InvalidOptionError(WHAT, name, "given with sentinels", "(set)");
    if (typeof v !== "string" || (name !== "sentinelPassword" && v === "")) {
      throw new InvalidOptionError(
        WHAT,
        name,
        "a non-empty string",
        name === "sentinelPassword" ? "(hidden)" : v,
      );
    }
  }
  if (o.cluster === undefined && !hasSentinels) return { cluster: undefined, sentinel: undefined };
  const mode = o.cluster !== undefined ? "cluster" : "sentinels";
  if (o.cluster !== undefined && hasSentinels) {
    throw new InvalidOptionError(WHAT, "sentinels", "not given with cluster (pick one)", "(set)");
  }
  for (const name of ["host", "port", "path"] as const) {
    if (explicit[name] !== undefined) {
      throw new InvalidOptionError(
        WHAT,
        name,
        `not given with ${mode} (the nodes are discovered)`,
        explicit[name],
      );
    }
  }
  if (o.path !== undefined) {
    throw new InvalidOptionError(WHAT, "url", `a redis:// URL with ${mode}`, "a unix socket URL");
  }
  if (o.cluster !== undefined) {
    const c = o.cluster as { nodes?: unknown; maxRedirects?: unknown };
    if (c === null || typeof c !== "object") {
      throw new InvalidOptionError(WHAT, "cluster", "{ nodes: [{ host, port }, ...] }", c);
    }
    checkOptionNames(WHAT, c, CLUSTER_NAMES, "cluster.");
    if (db !== 0) {
      throw new InvalidOptionError(WHAT, "db", "0 with cluster (a cluster has one database)", db);
    }
    const max = c.maxRedirects;
    if (max !== undefined && (!Number.isInteger(max) || (max as number) < 0)) {
      throw new InvalidOptionError(WHAT, "cluster.maxRedirects", "an integer >= 0", max);
    }
    return {
      cluster: {
        nodes: checkNodes("cluster.nodes", c.nodes),
        maxRedirects: max as number | undefined,
      },
      sentinel: undefined,
    };
  }
  if (o.name === undefined) {
    throw new InvalidOptionError(
      WHAT,
      "name",
      "the monitored set's name with sentinels",
      undefined,
    );
  }
  if (o.sentinelUsername !== undefined && o.sentinelPassword === undefined) {
    throw new InvalidOptionError(
      WHAT,
      "sentinelPassword",
      "given with sentinelUsername",
      undefined,
    );
  }
  return {
    cluster: undefined,
    sentinel: {
      sentinels: checkNodes("sentinels", o.sentinels),
      name: o.name,
      sentinelPassword: o.sentinelPassword,
      sentinelUsername: o.sentinelUsername,
    },
  };
}

function checkParserLimits(limits: unknown): ParserLimits | undefined {
  if (limits === undefined) return undefined;
  const expected =
    "an object of positive integer limits (maxBulkLength, maxAggregateLength, maxDepth, maxLineLength)";
  if (limits === null || typeof limits !== "object" || Array.isArray(limits)) {
    throw new InvalidOptionError(WHAT, "parserLimits", expected, limits);
  }
  checkOptionNames(WHAT, limits, LIMIT_NAMES, "parserLimits.");
  const copy = { ...limits } as ParserLimits;
  try {
    new RespParser(() => {}, copy);
  } catch {
    throw new InvalidOptionError(WHAT, "parserLimits", expected, limits);
  }
  return copy;
}
