/**
 * `RedisBackend`: the built-in shared tier, over this project's RESP client.
 *
 * Values are stored as the envelope of `src/codec/` (identical bytes from
 * every runtime). Reads fetch the value and its remaining TTL in one round
 * trip (`GET`/`MGET` pipelined with `PTTL`), so the cache can keep its L1
 * copy from outliving the L2 entry.
 *
 * @module
 */
import { InvalidOptionError, RedisProtocolError, RedisReplyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { RedisClient } from "../resp/client.ts";
import { RedisClusterClient } from "../resp/cluster/cluster_client.ts";
import type { SentinelConnector } from "../resp/sentinel.ts";
import { scaledClient } from "./_scaled_client.ts";
import type { Command } from "../resp/encoder.ts";
import { type PushReply, type Reply, replyToString } from "../resp/parser.ts";
import { defaultConnect } from "../../runtimes/mod.ts";
import { type RedisBackendOptions, resolveRedisOptions } from "./redis_options.ts";
import {
  type CoherenceMode,
  type InvalidationListener,
  RemoteCacheBackend,
  type RemoteEntry,
  type RemoteSetOptions,
} from "./remote_backend.ts";
import { Invalidations } from "./_invalidations.ts";
import { leaseKey, OLDER_FORMAT } from "./_generations.ts";
import { type DecodeOptions, decodeVersion } from "../codec/decode.ts";
import { encodeValue } from "../codec/encode.ts";
import { FORMAT_VERSION, MAGIC0, MAGIC1 } from "../codec/format.ts";

const SCAN_COUNT = "1000";
/** Deletes KEYS[1] if it still holds ARGV[1]; returns how many it deleted. */
const DELETE_IF_UNCHANGED =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('UNLINK', KEYS[1]) end return 0";
/** The one member of a generation counter (a sorted set, so that a bump is `ZADD GT`). */
const COUNTER_MEMBER = "g";
/** The largest `PX` sent: 2^53 - 1 ms, an exact integer Redis accepts (its limit is 2^63 - 1 minus now). */
const MAX_PX = Number.MAX_SAFE_INTEGER;

let setFormat: (backend: RedisBackend, version: number) => void;

/**
 * Test hook (internal, not exported from `mod.ts`): makes `backend` read and
 * write envelopes of format `version` instead of {@linkcode FORMAT_VERSION},
 * as a process of another release would (same body, another version byte).
 */
export function forceFormatVersion(backend: RedisBackend, version: number): void {
  setFormat(backend, version);
}

/**
 * A shared cache tier in Redis (or any RESP server: Valkey, KeyDB, Dragonfly).
 *
 * @example
 * ```ts ignore
 * import { AsyncCache, RedisBackend } from "@async-cache/cache";
 *
 * const redis = new RedisBackend({ url: "redis://localhost:6379/0", prefix: "myapp:" });
 * const cache = new AsyncCache({ maxsize: 1000, defaultTtl: "300s", remoteCache: redis });
 * const user = await cache.get("user:1", { loader: () => ({ name: "Ada" }) });
 * await cache.close(); // flushes pending writes; the cache never closes the backend
 * await redis.close();  // its creator does
 * ```
 *
 * @example Validation happens at construction
 * ```ts
 * import { InvalidOptionError, RedisBackend } from "@async-cache/cache";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => new RedisBackend({ port: 70000 }), InvalidOptionError);
 * ```
 */
export class RedisBackend extends RemoteCacheBackend {
  /** The RESP connection (for commands this class does not wrap): a cluster client with `cluster`. */
  readonly client: RedisClient | RedisClusterClient;
  /** With `sentinels`: follows the primary (closed with the client). */
  readonly #sentinel: SentinelConnector | undefined;
  /** The key prefix. */
  readonly prefix: string;
  /** The logger given in the options. */
  readonly #logger: Logger | undefined;
  readonly #decodeOptions: DecodeOptions;
  /** The first cache's logger (see `adoptLogger`). */
  #adopted: Logger | undefined;
  /** Set once Redis refused `EVAL` (the clear sweep then deletes with `UNLINK`). */
  #scriptsRefused = false;
  readonly #invalidations: Invalidations;
  /** Whether tracking was asked for (it may still be refused by the server). */
  readonly #tracking: boolean;
  /** The envelope version read and written: {@linkcode FORMAT_VERSION} (a test hook may force another). */
  #format: number = FORMAT_VERSION;
  #formatMisses = 0;
  /** Versions already noted at debug level (one line each). */
  #versionsNoted: Set<number> | undefined;

  static {
    setFormat = (backend, version) => {
      backend.#format = version;
    };
  }

  /**
   * Connects lazily, on the first command.
   *
   * @param options See {@linkcode RedisBackendOptions}.
   * @throws {InvalidOptionError} When an option is invalid.
   */
  constructor(options: RedisBackendOptions = {}) {
    super();
    const o = resolveRedisOptions(options);
    this.prefix = o.prefix;
    this.#logger = o.logger;
    this.#decodeOptions = { maxEntryBytes: o.maxEntryBytes };
    // The client reports through whatever logger this backend has when it speaks.
    const log = (): Logger => this.#logger ?? this.#adopted ?? console;
    const clientLogger: Logger = {
      warn: (message, ...details) => log().warn(message, ...details),
      error: (message, ...details) => log().error(message, ...details),
      debug: (message, ...details) => log().debug?.(message, ...details),
    };
    const invalidations = new Invalidations(o.prefix, o.healthCheckIntervalMs);
    this.#invalidations = invalidations;
    this.#tracking = o.tracking;
    const tracking = o.tracking ? ["NOLOOP"] : undefined;
    const onPush = (push: PushReply) => invalidations.onPush(push);
    const scaled = o.cluster || o.sentinel
      ? scaledClient(o, o.transport ?? defaultConnect, clientLogger, { tracking, onPush })
      : undefined;
    this.#sentinel = scaled?.sentinel;
    this.client = scaled?.client ?? new RedisClient({
      tracking,
      onPush,
      connect: o.transport ?? defaultConnect,
      host: o.host,
      port: o.port,
      path: o.path,
      tls: o.tls,
      username: o.username,
      password: o.password,
      db: o.db,
      clientName: o.clientName,
      parserLimits: o.parserLimits,
      connectTimeoutMs: o.connectTimeoutMs,
      socketTimeoutMs: o.socketTimeoutMs,
      logger: clientLogger,
    });
    invalidations.attach(this.client);
  }

  /**
   * Invalidations of this backend's keys: pushed by Redis (RESP3 tracking:
   * anyone's write, delete, expiry, eviction, flush), announced at once for
   * writes through this backend, and `null` when a lost connection may have
   * hidden some.
   */
  override onInvalidate(listener: InvalidationListener): () => void {
    return this.#invalidations.listen(listener);
  }

  /** Called each time the connection becomes ready (after a reconnect too). */
  override onReady(listener: () => void): () => void {
    return this.#invalidations.listenReady(listener);
  }

  /** `"tracking"` while Redis pushes invalidations on the current connection, else `"ttl"`. */
  override get coherence(): CoherenceMode {
    return this.#invalidations.active ? "tracking" : "ttl";
  }

  /** Invalidations received from Redis so far. */
  get invalidationsReceived(): number {
    return this.#invalidations.received;
  }

  /**
   * Entries read as misses so far because another release wrote them in another format
   * version (see the README, "Rolling a fleet across a format change"). Not errors: nothing
   * is logged above debug level.
   */
  get formatMisses(): number {
    return this.#formatMisses;
  }

  /** Generation counters (`MGET`; a missing counter is 0). */
  /**
   * Reads generation counters (sorted sets of one member, its score the
   * stamp: see the cache's consistency rules), one `ZSCORE` each in one
   * pipeline. A missing counter, or a key that holds something else, is
   * `undefined` (unknown: the cache fails closed).
   */
  override getGenerations(keys: readonly string[]): Promise<(number | undefined)[]> {
    return Promise.all(
      keys.map((k) =>
        this.client.command(["ZSCORE", this.prefix + k, COUNTER_MEMBER]).then(
          (reply) => {
            const n = typeof reply === "number" ? reply : Number(replyToString(reply) ?? NaN);
            return Number.isSafeInteger(n) ? n : undefined;
          },
          (error) => {
            if (error instanceof RedisReplyError) return undefined; // WRONGTYPE: not a counter
            throw error;
          },
        )
      ),
    );
  }

  /** Raises counters to at least `stamp` (`ZADD GT`: never lowers one). */
  override async bumpGenerations(keys: readonly string[], stamp: number): Promise<void> {
    this.#invalidations.emit(keys);
    await Promise.all(keys.map((k) => this.#zadd(k, "GT", stamp)));
  }

  /** Creates missing counters at `stamp` (`ZADD NX`). */
  override async initGenerations(keys: readonly string[], stamp: number): Promise<void> {
    await Promise.all(keys.map((k) => this.#zadd(k, "NX", stamp)));
  }

  #zadd(key: string, mode: "GT" | "NX", stamp: number): Promise<unknown> {
    return this.client.command(["ZADD", this.prefix + key, mode, String(stamp), COUNTER_MEMBER]);
  }

  /** Removes an unusable entry without announcing it to this process's caches. */
  override async repair(key: string): Promise<void> {
    await this.client.command(["UNLINK", this.prefix + key]);
  }

  /** The value under `key`, or `undefined` (a corrupt entry is logged and read as a miss). */
  async get(key: string): Promise<unknown> {
    return (await this.getMany([key]))[0];
  }

  /**
   * Stores `value` (`SET key value PX ttl`). The value is encoded before this
   * returns, so an unencodable one throws here, synchronously.
   *
   * @throws {SerializationError} For a value the envelope cannot hold.
   */
  set(key: string, value: unknown, ttlMs?: number, options?: RemoteSetOptions): Promise<void> {
    const set = this.#setCommand(key, value, ttlMs);
    const command: Command = options?.ifAbsent ? [...set, "NX"] : set;
    this.#invalidations.emit([key]);
    const done = this.client.command(command).then(ignore);
    // Tracking follows reads, and a write ends it (for every client, even
    // with NOLOOP): a read of the key right after the write, in the same
    // pipeline, makes Redis tell this connection when anyone changes it next.
    if (this.#tracking && (this.client.status !== "ready" || this.client.tracking)) {
      this.client.command(["PTTL", this.prefix + key]).catch(ignore);
    }
    return done;
  }

  /** Reports through `logger` when no `logger` option was given (the first cache's wins). */
  override adoptLogger(logger: Logger): void {
    this.#adopted ??= logger;
  }

  /**
   * Throws what `set` would throw for `value` (it encodes it), storing nothing.
   *
   * @throws {SerializationError} For a value the envelope cannot hold.
   */
  override checkValue(value: unknown): void {
    encodeValue(value);
  }

  /** Removes `key` (`UNLINK`). */
  async delete(key: string): Promise<void> {
    this.#invalidations.emit([key]);
    await this.client.command(["UNLINK", this.prefix + key]);
  }

  /**
   * Deletes every key under the prefix (`SCAN MATCH prefix* COUNT 1000` +
   * `UNLINK` per batch), never `FLUSHDB`. Keys of other prefixes are untouched.
   *
   * @throws {InvalidOptionError} When the prefix is empty (it would delete the whole database).
   */
  async clear(): Promise<void> {
    await this.deleteByPrefix("");
  }

  /**
   * Deletes every key under `prefix + subPrefix` (SCAN + UNLINK in batches).
   *
   * @param subPrefix Appended to the backend's prefix; glob characters are matched literally.
   * @returns How many keys were deleted.
   */
  override async deleteByPrefix(
    subPrefix: string,
    doomed?: (value: unknown) => boolean,
  ): Promise<number> {
    const full = this.prefix + subPrefix;
    if (full === "") {
      throw new InvalidOptionError(
        "RedisBackend.clear",
        "prefix",
        "non-empty (clearing with no prefix would delete the whole database)",
        "",
      );
    }
    const match = escapeGlob(full) + "*";
    let deleted = 0;
    // SCAN walks one node's keys: in a cluster, every primary's.
    const nodes = this.client instanceof RedisClusterClient
      ? await this.client.primaries()
      : [this.client];
    for (const node of nodes) deleted += await this.#deleteMatching(node, match, doomed);
    return deleted;
  }

  async #deleteMatching(
    node: RedisClient,
    match: string,
    doomed: ((value: unknown) => boolean) | undefined,
  ): Promise<number> {
    let cursor = "0";
    let deleted = 0;
    do {
      const reply = await node.command([
        "SCAN",
        cursor,
        "MATCH",
        match,
        "COUNT",
        SCAN_COUNT,
      ]);
      if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
        throw new RedisProtocolError("SCAN returned an unexpected reply");
      }
      cursor = replyToString(reply[0]) ?? "0";
      const keys = reply[1] as Reply[];
      if (doomed !== undefined) {
        if (keys.length > 0) {
          deleted += await this.#deleteIfUnchanged(await this.#doomedOf(keys, doomed));
        }
        continue;
      }
      if (keys.length > 0) {
        const prefixLength = this.prefix.length;
        // A sweep of old generations is no news: they were misses already.
        if (doomed === undefined) {
          this.#invalidations.emit(
            keys.map((k) => (replyToString(k) ?? "").slice(prefixLength)),
          );
        }
        const n = await this.client.command(["UNLINK", ...(keys as Uint8Array[])]);
        deleted += typeof n === "number" ? n : 0;
      }
    } while (cursor !== "0");
    return deleted;
  }

  /** The keys among `keys` whose value `doomed` accepts (undecodable ones too), with the bytes read. */
  async #doomedOf(
    keys: Reply[],
    doomed: (value: unknown) => boolean,
  ): Promise<[Uint8Array, Uint8Array][]> {
    const values = await this.client.command(["MGET", ...(keys as Uint8Array[])]);
    if (!Array.isArray(values) || values.length !== keys.length) {
      throw new RedisProtocolError("MGET returned an unexpected reply");
    }
    const out: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < keys.length; i++) {
      const raw = values[i];
      if (!(raw instanceof Uint8Array)) continue; // gone, or not an entry (a counter)
      let drop: boolean;
      try {
        drop = doomed(decodeVersion(raw, this.#format, this.#decodeOptions));
      } catch {
        drop = true;
      }
      if (drop) out.push([keys[i] as Uint8Array, raw]);
    }
    return out;
  }

  /**
   * Deletes each entry only if it still holds the bytes read (a script:
   * `GET`, compare, `UNLINK`), so a write that landed since is kept. Where
   * scripts are refused (an ACL without `+eval`), a plain `UNLINK`, logged
   * once: such a racing write is then lost (a miss, never a stale value).
   */
  async #deleteIfUnchanged(doomed: [Uint8Array, Uint8Array][]): Promise<number> {
    if (doomed.length === 0) return 0;
    if (!this.#scriptsRefused) {
      const replies = await Promise.all(
        doomed.map(([key, bytes]) =>
          this.client.command(["EVAL", DELETE_IF_UNCHANGED, "1", key, bytes]).catch((e) => e)
        ),
      );
      const refused = replies.find((r) => r instanceof RedisReplyError);
      if (refused === undefined) {
        const failed = replies.find((r) => r instanceof Error);
        if (failed !== undefined) throw failed;
        return replies.reduce((n: number, r) => n + (typeof r === "number" ? r : 0), 0);
      }
      this.#scriptsRefused = true;
      (this.#logger ?? this.#adopted ?? console).warn(
        `async-cache: Redis refused EVAL (${refused.message}); the clear() sweep deletes old ` +
          "entries with UNLINK, so a write racing it can be lost (grant +eval to avoid it)",
      );
    }
    const n = await this.client.command(["UNLINK", ...doomed.map(([key]) => key)]);
    return typeof n === "number" ? n : 0;
  }

  /**
   * Takes the lease of `key`: `SET <prefix>__ac:lease:<key> 1 NX PX ttlMs`, so it
   * expires by itself if the holder dies.
   */
  override async acquireLease(key: string, ttlMs: number): Promise<boolean> {
    const px = Math.max(1, Math.ceil(Math.min(ttlMs, MAX_PX)));
    const reply = await this.client.command([
      "SET",
      this.prefix + leaseKey(key),
      "1",
      "NX",
      "PX",
      px,
    ]);
    return reply !== null;
  }

  /**
   * Gives the lease of `key` up (`UNLINK`). Sent after the holder's `SET` of
   * the value on the same connection, so a waiter never sees the lease gone
   * before the value is there.
   */
  override async releaseLease(key: string): Promise<void> {
    await this.client.command(["UNLINK", this.prefix + leaseKey(key)]);
  }

  /** Closes the connection (every node's, and the sentinel subscription). */
  close(): Promise<void> {
    this.#invalidations.close();
    if (this.#sentinel) {
      return Promise.all([this.client.close(), this.#sentinel.close()]).then(ignore);
    }
    return this.client.close();
  }

  /** One `MGET`. */
  override async getMany(keys: readonly string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    const replies = await this.#mget(keys.map((k) => this.prefix + k));
    return replies.map((r, i) => {
      const value = this.#decode(keys[i], r);
      return value === OLDER_FORMAT ? undefined : value;
    });
  }

  /** Pipelined `SET`s: one write, one round trip. */
  override async setMany(entries: readonly (readonly [string, unknown, number?])[]): Promise<void> {
    const commands = entries.map(([key, value, ttlMs]) => this.#setCommand(key, value, ttlMs));
    this.#invalidations.emit(entries.map(([key]) => key));
    const done = Promise.all(commands.map((c) => this.client.command(c)));
    if (this.#tracking && (this.client.status !== "ready" || this.client.tracking)) {
      for (const [key] of entries) this.client.command(["PTTL", this.prefix + key]).catch(ignore);
    }
    await done;
  }

  /**
   * Values and remaining TTLs in one round trip: `MGET` pipelined with one
   * `PTTL` per key (all written in one tick, so one write on the socket).
   * While tracking is on, only the `MGET`: an expiry in Redis then arrives
   * as an invalidation, so the remaining TTL is not needed.
   */
  override async getManyWithTtl(
    keys: readonly string[],
    logger?: Logger,
  ): Promise<(RemoteEntry | undefined)[]> {
    const n = keys.length;
    if (n === 0) return [];
    const full = keys.map((k) => this.prefix + k);
    const values = this.#mget(full);
    if (this.#invalidations.active) {
      const replies = await values;
      const out: (RemoteEntry | undefined)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const value = this.#decode(keys[i], replies[i], logger);
        out[i] = value === undefined ? undefined : { value };
      }
      return out;
    }
    const ttls = full.map((k) => this.client.command(["PTTL", k]));
    const [replies, ...pttls] = await Promise.all([values, ...ttls]);
    const out: (RemoteEntry | undefined)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const value = this.#decode(keys[i], replies[i], logger);
      const pttl = pttls[i];
      // -2: the key expired between GET and PTTL; -1: no expiry.
      if (value === undefined || pttl === -2) out[i] = undefined;
      else out[i] = { value, ttlMs: typeof pttl === "number" && pttl > 0 ? pttl : undefined };
    }
    return out;
  }

  /**
   * `SET key value [PX ms]`. PX is always a positive integer Redis accepts: a
   * TTL past `MAX_PX` (285,000 years) is clamped to it, where `PX 1e+21`
   * would be refused; a fraction of a millisecond rounds up.
   */
  #setCommand(key: string, value: unknown, ttlMs: number | undefined): Command {
    const bytes = encodeValue(value);
    if (this.#format !== FORMAT_VERSION) bytes[2] = this.#format;
    if (ttlMs === undefined || ttlMs === Infinity) return ["SET", this.prefix + key, bytes];
    const px = ttlMs >= MAX_PX ? MAX_PX : Math.max(1, Math.ceil(ttlMs));
    return ["SET", this.prefix + key, bytes, "PX", px];
  }

  /** One `MGET` of full keys (even for one key: it reads a key of another type as nil, where GET errors). */
  async #mget(fullKeys: readonly string[]): Promise<Reply[]> {
    const reply = await this.client.command(["MGET", ...fullKeys]);
    if (!Array.isArray(reply) || reply.length !== fullKeys.length) {
      throw new RedisProtocolError("MGET returned an unexpected reply");
    }
    return reply;
  }

  /**
   * A reply as a value: `undefined` for a miss, {@linkcode OLDER_FORMAT} for an
   * entry of an older format version. Hot path: one byte compared before decoding.
   */
  #decode(key: string, reply: Reply, logger?: Logger): unknown {
    if (reply === null) return undefined;
    if (
      reply instanceof Uint8Array && reply[2] !== this.#format && reply.length > 3 &&
      reply[0] === MAGIC0 && reply[1] === MAGIC1
    ) {
      return this.#otherFormat(reply[2], logger);
    }
    if (!(reply instanceof Uint8Array)) {
      (this.#logger ?? logger ?? this.#adopted ?? console).warn(
        `async-cache: Redis key ${JSON.stringify(key)} holds a non-string value; read as a miss`,
      );
      return undefined;
    }
    try {
      return decodeVersion(reply, this.#format, this.#decodeOptions);
    } catch (error) {
      // Read repair: removed, so a loader's write-back (SET NX) can replace it.
      this.client.command(["UNLINK", this.prefix + key]).catch(ignore);
      (this.#logger ?? logger ?? this.#adopted ?? console).warn(
        `async-cache: Redis entry ${
          JSON.stringify(this.prefix + key)
        } is not a valid async-cache entry (${(error as Error).message}); read as a miss`,
      );
      return undefined;
    }
  }

  /**
   * An entry another release wrote (another format version): a miss, counted, and noted once
   * per version at debug level, never a warning (a rolling deploy meets many), never deleted
   * (its own readers still use it).
   */
  #otherFormat(version: number, logger: Logger | undefined): unknown {
    this.#formatMisses++;
    const noted = this.#versionsNoted ??= new Set();
    if (!noted.has(version)) {
      noted.add(version);
      (this.#logger ?? logger ?? this.#adopted ?? console).debug?.(
        `async-cache: Redis under ${
          JSON.stringify(this.prefix)
        } holds entries of format version ${version} (this build reads ${this.#format}); they read as misses`,
      );
    }
    return version < this.#format ? OLDER_FORMAT : undefined;
  }
}

/** Escapes Redis glob characters (`* ? [ ] \`) so a prefix matches literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

function ignore(): void {}
