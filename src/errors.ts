/**
 * The named errors callers can catch. Each sets `name`, and `cause` where one
 * exists, so `err.name === "RedisTimeoutError"` works across realms and bundles.
 *
 * @module
 */

/**
 * A constructor or method received an option it cannot use. The message
 * names the option and the value received.
 *
 * @example Catching a bad option
 * ```ts
 * import { AsyncCache, InvalidOptionError } from "@async-cache/cache";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => new AsyncCache({ maxsize: -1 }), InvalidOptionError);
 * ```
 */
export class InvalidOptionError extends TypeError {
  /** The name of the offending option, e.g. `"maxsize"`. */
  readonly option: string;
  /**
   * Builds the message from its parts.
   *
   * @param what What was being created or called, e.g. `"AsyncCache"`.
   * @param option The offending option.
   * @param expected What would have been accepted.
   * @param received The value actually passed.
   */
  constructor(what: string, option: string, expected: string, received: unknown) {
    const shown = SECRET_OPTION.test(option) ? typeOnly(received) : received;
    super(
      `Cannot create ${what}: ${option} must be ${expected}: received ${describe(shown, false)}`,
    );
    this.name = "InvalidOptionError";
    this.option = option;
  }
}

/**
 * A value cannot be stored in a shared tier (a function, a symbol, a class
 * instance): thrown at `set` time instead of corrupting the entry.
 *
 * @example
 * ```ts
 * import { encodeValue, SerializationError } from "@async-cache/cache";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => encodeValue(() => 1), SerializationError);
 * ```
 */
export class SerializationError extends TypeError {
  /**
   * Creates the error.
   *
   * @param message What could not be encoded or decoded, and where.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SerializationError";
  }
}

/**
 * A cache key that cannot name one entry unambiguously: a string that is not
 * well-formed UTF-16 (it holds a lone surrogate, which UTF-8 and therefore
 * Redis would turn into U+FFFD, so `"a\uD800"` and `"a\uFFFD"` would share an
 * entry). Thrown (or rejected) by the call that received the key.
 *
 * @example
 * ```ts
 * import { AsyncCache, InvalidKeyError } from "@async-cache/cache";
 * import { assertRejects } from "@std/assert";
 *
 * const cache = new AsyncCache();
 * await assertRejects(() => cache.set("user:\uD800", 1), InvalidKeyError);
 * await cache.close();
 * ```
 */
export class InvalidKeyError extends TypeError {
  /**
   * Creates the error.
   *
   * @param message Why the key is refused (the key itself is shown escaped).
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidKeyError";
  }
}

/**
 * The cache was used after `close()`.
 *
 * @example
 * ```ts
 * import { AsyncCache, CacheClosedError } from "@async-cache/cache";
 * import { assertRejects } from "@std/assert";
 *
 * const cache = new AsyncCache();
 * await cache.close();
 * await assertRejects(() => cache.set("k", 1), CacheClosedError);
 * ```
 */
export class CacheClosedError extends Error {
  /** Creates the error. */
  constructor() {
    super("AsyncCache is closed: create a new one, or stop using it after close()");
    this.name = "CacheClosedError";
  }
}

/**
 * A save could not be completed (the previous snapshot is intact), or
 * `saveToBackup()` was called on a cache with no `backup`.
 *
 * @example
 * ```ts
 * import { AsyncCache, BackupError } from "@async-cache/cache";
 * import { assertRejects } from "@std/assert";
 *
 * const cache = new AsyncCache();
 * await assertRejects(() => cache.saveToBackup(), BackupError);
 * ```
 */
export class BackupError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed, and where.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackupError";
  }
}

/**
 * A loader ran past the cache's `hardTimeout`: every caller waiting for that
 * load (and holding no graced value) gets this error, and the loader's
 * `signal` is aborted with it. Nothing is cached.
 *
 * @example
 * ```ts
 * import { AsyncCache, LoaderTimeoutError } from "@async-cache/cache";
 * import { assertRejects } from "@std/assert";
 *
 * const cache = new AsyncCache<string>({ hardTimeout: 10 });
 * const never = ({ signal }: { signal: AbortSignal }) =>
 *   new Promise<string>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
 * await assertRejects(() => cache.get("slow", { loader: never }), LoaderTimeoutError);
 * await cache.close();
 * ```
 */
export class LoaderTimeoutError extends Error {
  /** The key whose loader timed out. */
  readonly key: string;
  /** The timeout that passed, in ms. */
  readonly timeoutMs: number;
  /**
   * Creates the error.
   *
   * @param key The key being loaded.
   * @param timeoutMs The hard timeout, in ms.
   */
  constructor(key: string, timeoutMs: number) {
    super(
      `Loader of key ${JSON.stringify(key)} did not settle within ${timeoutMs} ms (hardTimeout)`,
    );
    this.name = "LoaderTimeoutError";
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A `"session"` or `"user"` scoped tool (or invalidation) ran where the
 * context does not give that id: outside `withAgentContext`, or in one
 * without it. Never silently a global entry.
 *
 * @example
 * ```ts
 * import { AgentCache, AgentContextError } from "@async-cache/cache/agent";
 * import { assertRejects } from "@std/assert";
 *
 * const history = AgentCache({ resource: "history", scope: "session", ttl: "5m" })(
 *   async function getHistory() { return ["hi"]; },
 * );
 * await assertRejects(() => history(), AgentContextError);
 * ```
 */
export class AgentContextError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was missing, and for which tool.
   */
  constructor(message: string) {
    super(message);
    this.name = "AgentContextError";
  }
}

/**
 * The base class of every error from the Redis client.
 *
 * @example
 * ```ts
 * import { RedisError, RedisTimeoutError } from "@async-cache/cache";
 * import { assert } from "@std/assert";
 *
 * assert(new RedisTimeoutError("GET timed out") instanceof RedisError);
 * ```
 */
export class RedisError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisError";
  }
}

/**
 * The server sent bytes that are not valid RESP, or that exceed the parser's
 * limits. The connection is closed; only the commands in flight fail.
 *
 * @example
 * ```ts
 * import { RedisProtocolError } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new RedisProtocolError("bad type byte").name, "RedisProtocolError");
 * ```
 */
export class RedisProtocolError extends RedisError {
  /**
   * Creates the error.
   *
   * @param message What was wrong with the bytes.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisProtocolError";
  }
}

/**
 * A reply did not arrive within `socketTimeout`, or a connection was not made
 * within `connectTimeout`.
 *
 * @example
 * ```ts
 * import { RedisTimeoutError } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new RedisTimeoutError("GET timed out").name, "RedisTimeoutError");
 * ```
 */
export class RedisTimeoutError extends RedisError {
  /**
   * Creates the error.
   *
   * @param message What timed out, and after how long.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisTimeoutError";
  }
}

/**
 * The server refused the credentials (`WRONGPASS`, `NOAUTH`, `NOPERM` on AUTH/HELLO).
 *
 * @example
 * ```ts
 * import { RedisAuthError } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new RedisAuthError("WRONGPASS").name, "RedisAuthError");
 * ```
 */
export class RedisAuthError extends RedisError {
  /**
   * Creates the error.
   *
   * @param message The server's refusal.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisAuthError";
  }
}

/**
 * No connection: the socket could not be opened, was closed, or the client is
 * waiting to reconnect (commands fail fast rather than queue without bound).
 *
 * @example
 * ```ts
 * import { RedisConnectionError } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new RedisConnectionError("closed").name, "RedisConnectionError");
 * ```
 */
export class RedisConnectionError extends RedisError {
  /**
   * Creates the error.
   *
   * @param message Why there is no connection.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisConnectionError";
  }
}

/**
 * The server answered a command with an error reply (`-ERR ...`, `-WRONGTYPE ...`).
 * The connection stays usable.
 *
 * @example
 * ```ts
 * import { RedisReplyError } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const err = new RedisReplyError("ERR unknown command");
 * assertEquals(err.code, "ERR");
 * ```
 */
export class RedisReplyError extends RedisError {
  /** The first word of the server's message, e.g. `"ERR"`, `"WRONGTYPE"`, `"NOAUTH"`. */
  readonly code: string;
  /**
   * Creates the error.
   *
   * @param message The server's error text.
   */
  constructor(message: string) {
    super(message);
    this.name = "RedisReplyError";
    const space = message.indexOf(" ");
    this.code = space === -1 ? message : message.slice(0, space);
  }
}

/**
 * Redis Cluster could not serve a command: no node answered the topology
 * query, no primary serves the key's slot, or the command was redirected
 * (`MOVED`/`ASK`) more times than allowed. Like a connection error, it counts
 * as an outage for the circuit breaker (a reply error does not).
 *
 * @example
 * ```ts
 * import { RedisClusterError, RedisError } from "@async-cache/cache";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const err = new RedisClusterError("too many redirects");
 * assert(err instanceof RedisError);
 * assertEquals(err.name, "RedisClusterError");
 * ```
 */
export class RedisClusterError extends RedisError {
  /**
   * Creates the error.
   *
   * @param message What failed, and where.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisClusterError";
  }
}

/** Option names whose values are never quoted in a message. */
const SECRET_OPTION = /pass|secret|token|credential/i;

/** A value to be described by its type only (see {@linkcode typeOnly}). */
class TypeOnly {
  constructor(readonly value: unknown) {}
}

/**
 * Marks a value to be described by its type only ("a string") in an error message: for values
 * that may be secrets (a password, an unknown option that may be a misspelt one).
 *
 * @param value The value.
 * @returns A marker that {@linkcode describe} renders as the value's type.
 */
export function typeOnly(value: unknown): unknown {
  return value instanceof TypeOnly ? value : new TypeOnly(value);
}

/**
 * Renders a received value for an error message, briefly and safely: a string is quoted with
 * the password of anything URL-like in it masked. With `contents` false (option errors), an
 * object is described by its type and (a plain object) its keys, never its contents, which
 * may hold credentials; otherwise (a bad key) by up to 60 characters of its JSON, redacted too.
 */
export function describe(value: unknown, contents = true): string {
  if (value instanceof TypeOnly) return typeName(value.value);
  if (typeof value === "string") return JSON.stringify(redactSecrets(value));
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (value === null) return "null";
  if (typeof value === "object" && contents) {
    try {
      const json = redactSecrets(JSON.stringify(value));
      return json.length > 60 ? `${json.slice(0, 57)}...` : json;
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  if (typeof value === "object") {
    if (Array.isArray(value)) return `an array of length ${value.length}`;
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const keys = Object.keys(value).map((k) => k.length > 40 ? k.slice(0, 37) + "..." : k);
      if (keys.length === 0) return "an empty object";
      return `an object with keys ${keys.slice(0, 8).join(", ")}${keys.length > 8 ? ", ..." : ""}`;
    }
    return typeName(value);
  }
  return String(value);
}

/** "a string", "a number", "a URL", "an object"... */
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  let name: string = typeof value;
  if (name === "object") {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
    name = typeof ctor === "string" && ctor !== "" && ctor !== "Object" ? ctor : "object";
    if (Array.isArray(value)) name = "array";
  }
  // "an object", "an Error", but "a URL" (an acronym is read letter by letter).
  return `${/^[aeiou]/i.test(name) && !/^[A-Z]{2}/.test(name) ? "an" : "a"} ${name}`;
}

/**
 * `text` with the password of every URL in it masked: `redis://user:pw@host` becomes
 * `redis://user:***@host` (everything between `scheme://` and the last `@` but the user name,
 * so an unencoded `@`, `/` or `#` in the password does not leave part of it behind).
 *
 * @param text Any text.
 * @returns The text, redacted.
 */
export function redactSecrets(text: string): string {
  const scheme = text.indexOf("://");
  if (scheme === -1) return text;
  const from = scheme + 3;
  const at = text.lastIndexOf("@");
  if (at < from) return text;
  const userinfo = text.slice(from, at);
  const colon = userinfo.indexOf(":");
  return text.slice(0, from) + (colon === -1 ? "***" : userinfo.slice(0, colon + 1) + "***") +
    text.slice(at);
}
