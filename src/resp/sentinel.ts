/**
 * Redis Sentinel: finds the current primary of a monitored set and follows
 * its failovers, as a {@linkcode Connect} for {@linkcode RedisClient}.
 *
 * Every connection attempt of the client (the first, and each reconnect)
 * asks the sentinels, in turn, `SENTINEL GET-MASTER-ADDR-BY-NAME name`,
 * checks with `ROLE` that the address really is a primary (a sentinel may
 * not have noticed a failover yet), and only then connects: so the client
 * never writes to a replica. A dedicated connection to one sentinel is
 * subscribed to `+switch-master`: when the sentinels announce a new primary,
 * the client's connection is dropped at once and the client reconnects there
 * (its first retry comes after `backoff(0)`, 25 ms by default) instead of
 * waiting for the old primary to be demoted or time out.
 *
 * @module
 */
import { InvalidOptionError, RedisConnectionError, RedisReplyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type {
  Connect,
  ConnectOptions,
  TlsOptions,
  Transport,
  TransportHandlers,
} from "../transport.ts";
import { type Backoff, backoff as defaultBackoff } from "./backoff.ts";
import { RedisClient } from "./client.ts";
import { encodeCommands } from "./encoder.ts";
import { type ParserLimits, type Reply, replyToString, RespParser } from "./parser.ts";
import type { NodeAddress } from "./cluster/topology.ts";
import { type AddressPolicy, addressPolicy, type NatMap } from "./announced.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";

/** Options of {@linkcode SentinelConnector}. */
export interface SentinelOptions {
  /** The sentinels to ask, in order (one reachable sentinel is enough). */
  sentinels: readonly NodeAddress[];
  /** The monitored set's name (`sentinel monitor <name> ...`). */
  name: string;
  /** Opens byte streams (a runtime transport, or a fake in tests). */
  connect: Connect;
  /** The sentinels' password (`requirepass` of the sentinels), if any. */
  sentinelPassword?: string;
  /** The sentinels' ACL user (with `sentinelPassword`). */
  sentinelUsername?: string;
  /** The primary's credentials, for the `ROLE` check (as for the client). */
  username?: string;
  /** The primary's password, for the `ROLE` check. */
  password?: string;
  /** TLS for the sentinels and the primary alike. */
  tls?: boolean | TlsOptions;
  /** Bound on each sentinel query and `ROLE` check (connect included), in ms. Default 5000. */
  timeoutMs?: number;
  /** Delay before re-subscribing after attempt `n` failed. Default 25 ms doubling to 2 s. */
  backoff?: Backoff;
  /** Where sentinel problems and failovers are reported. */
  logger?: Logger;
  /** Parser limits for sentinel replies. */
  parserLimits?: ParserLimits;
  /** Maps the primary addresses the sentinels announce to reachable ones (NAT, port mapping). */
  natMap?: NatMap;
  /**
   * Whether an announced primary (after `natMap`) may be connected to (and so receive the
   * primary's credentials). Default: all.
   */
  allowNode?: (address: NodeAddress) => boolean;
}

const SENTINEL_OPTION_NAMES = optionNames<SentinelOptions>({
  sentinels: true,
  name: true,
  connect: true,
  sentinelPassword: true,
  sentinelUsername: true,
  username: true,
  password: true,
  tls: true,
  timeoutMs: true,
  backoff: true,
  logger: true,
  parserLimits: true,
  natMap: true,
  allowNode: true,
});

const noop = (): void => {};
/** How long one connection attempt waits for a failover in progress to complete. */
const FAILOVER_WAIT_MS = 1000;
const POLL_MS = 100;
/**
 * The least time between two `+switch-master` announcements acted upon: a failover takes
 * seconds, and a sentinel flooding announcements must not make the client reconnect in a
 * loop. One inside the window is checked (by asking the sentinels) when the window ends.
 */
const SWITCH_MIN_INTERVAL_MS = 1000;
const MAX_TIMER = 2 ** 31 - 1;
const nodeKey = (a: NodeAddress): string => `${a.host}:${a.port}`;

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/** Sentinels answered, but with a node that is not (or no longer) a master. */
class FailoverInProgress extends RedisConnectionError {}

/** A connection handed to the client, which the connector can drop on a failover. */
interface Live {
  address: NodeAddress;
  kill(reason: Error): void;
}

/**
 * Finds the primary through Sentinel and follows failovers. Give its
 * {@linkcode SentinelConnector.connect} to a {@linkcode RedisClient} (whose
 * `host` and `port` it then ignores); close the connector with the client.
 *
 * @example Against fake sentinels and a fake primary
 * ```ts
 * import { RedisClient } from "@async-cache/cache";
 * import { SentinelConnector } from "./sentinel.ts";
 * import { FakeRedis, resp } from "@async-cache/cache/testing";
 * import type { Connect } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const sentinel = new FakeRedis();
 * sentinel.onCommand((args) =>
 *   args[0] === "SENTINEL" ? resp.array([resp.bulk("127.0.0.1"), resp.bulk("6380")]) : undefined
 * );
 * const primary = new FakeRedis();
 * primary.onCommand((args) => args[0] === "ROLE" ? resp.array([resp.bulk("master"), resp.int(0), resp.array([])]) : undefined);
 * const connect: Connect = (o, h) => (o.port === 26379 ? sentinel : primary).connect(o, h);
 * const connector = new SentinelConnector({
 *   sentinels: [{ host: "127.0.0.1", port: 26379 }],
 *   name: "mymaster",
 *   connect,
 * });
 * const client = new RedisClient({ connect: connector.connect });
 * assertEquals(await client.command(["SET", "k", "v"]), "OK");
 * assertEquals(primary.getString("k"), "v");
 * assertEquals(connector.primary, { host: "127.0.0.1", port: 6380 });
 * await client.close();
 * await connector.close();
 * await sentinel.close();
 * await primary.close();
 * ```
 */
export class SentinelConnector {
  readonly #sentinels: NodeAddress[];
  readonly #name: string;
  readonly #base: Connect;
  readonly #o: SentinelOptions;
  readonly #timeoutMs: number;
  readonly #backoff: Backoff;
  readonly #logger: Logger | undefined;
  #live: Live | undefined;
  #primary: NodeAddress | undefined;
  #closed = false;
  #subscriber: Transport | undefined;
  #subscribing = false;
  #subAttempt = 0;
  #subTimer: ReturnType<typeof setTimeout> | undefined;
  /** Which sentinel the subscriber uses next. */
  #subIndex = 0;
  /** Connection attempts waiting for a failover to complete. */
  #wakers = new Set<() => void>();
  readonly #policy: AddressPolicy;
  /** When a `+switch-master` last dropped the connection (performance.now()). */
  #lastSwitch = -Infinity;
  #switchTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates the connector; nothing is opened until the client connects.
   *
   * @param options The sentinels, the set's name, and how to reach them.
   * @throws {InvalidOptionError} If an option is missing or out of range.
   */
  constructor(options: SentinelOptions) {
    const o = options ?? ({} as SentinelOptions);
    if (typeof o === "object") checkOptionNames("SentinelConnector", o, SENTINEL_OPTION_NAMES);
    if (!Array.isArray(o.sentinels) || o.sentinels.length === 0) {
      throw new InvalidOptionError(
        "SentinelConnector",
        "sentinels",
        "a non-empty array of { host, port }",
        o.sentinels,
      );
    }
    if (typeof o.name !== "string" || o.name === "") {
      throw new InvalidOptionError("SentinelConnector", "name", "a non-empty string", o.name);
    }
    if (typeof o.connect !== "function") {
      throw new InvalidOptionError("SentinelConnector", "connect", "a Connect function", o.connect);
    }
    this.#sentinels = o.sentinels.map((s) => ({ host: s.host, port: s.port }));
    this.#name = o.name;
    this.#base = o.connect;
    this.#o = o;
    this.#timeoutMs = o.timeoutMs ?? 5000;
    this.#backoff = o.backoff ?? defaultBackoff;
    this.#logger = o.logger;
    this.#policy = addressPolicy("SentinelConnector", o);
  }

  /** The primary last connected to (or announced by `+switch-master`). */
  get primary(): NodeAddress | undefined {
    return this.#primary ? { ...this.#primary } : undefined;
  }

  /**
   * The {@linkcode Connect} to give the client: resolves the primary through
   * the sentinels, checks its `ROLE`, then opens the stream to it.
   *
   * @param options The client's options (`host`/`port` ignored; TLS and timeout kept).
   * @param handlers The client's handlers.
   * @returns The transport to the current primary.
   * @throws {RedisConnectionError} If no sentinel knows a primary that says it is one.
   */
  readonly connect: Connect = async (options, handlers) => {
    if (this.#closed) throw new RedisConnectionError("SentinelConnector is closed");
    this.#subscribe();
    // During a failover the sentinels may still name the demoted primary: poll
    // them briefly (woken by +switch-master) rather than fail and wait out a backoff.
    const deadline = performance.now() + Math.min(FAILOVER_WAIT_MS, options.timeoutMs / 2);
    let address: NodeAddress;
    for (;;) {
      try {
        address = await this.#resolve();
        break;
      } catch (error) {
        const left = deadline - performance.now();
        if (!(error instanceof FailoverInProgress) || this.#closed || left <= 0) throw error;
        await this.#switchOrTimeout(Math.min(POLL_MS, left));
      }
    }
    if (this.#closed) throw new RedisConnectionError("SentinelConnector is closed");
    return this.#open(address, options, handlers);
  };

  /** Resolves on the next `+switch-master` for this set, or after `ms`. */
  #switchOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      unref(timer);
      this.#wakers.add(done);
    });
  }

  /**
   * Stops following failovers (closes the sentinel subscription). Close the
   * client too. Idempotent.
   *
   * @returns When the subscription is closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#subTimer);
    clearTimeout(this.#switchTimer);
    for (const wake of [...this.#wakers]) wake();
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    if (sub) destroyQuietly(sub);
  }

  // ---------------------------------------------------------------- resolving

  /** Asks each sentinel in turn; the first address that answers `ROLE` as a master wins. */
  async #resolve(): Promise<NodeAddress> {
    const failures: string[] = [];
    let sawReplica = false;
    for (let i = 0; i < this.#sentinels.length; i++) {
      const sentinel = this.#sentinels[i];
      let address: NodeAddress;
      try {
        address = await this.#ask(sentinel);
      } catch (error) {
        failures.push(`sentinel ${nodeKey(sentinel)}: ${(error as Error).message}`);
        continue;
      }
      // The sentinel that answered goes first next time (the Sentinel clients guideline).
      if (i > 0) this.#sentinels.unshift(...this.#sentinels.splice(i, 1));
      try {
        const role = await this.#role(address);
        if (role === "master") return address;
        sawReplica = true;
        failures.push(`${nodeKey(address)} (from sentinel ${nodeKey(sentinel)}) is a ${role}`);
      } catch (error) {
        failures.push(`${nodeKey(address)}: ${(error as Error).message}`);
      }
    }
    const message = `No primary for "${this.#name}" from Sentinel (${failures.join("; ")})`;
    throw sawReplica ? new FailoverInProgress(message) : new RedisConnectionError(message);
  }

  /** A short-lived client: one query, then closed. */
  async #query(
    address: NodeAddress,
    command: string[],
    auth: { username?: string; password?: string },
  ): Promise<Reply> {
    const client = new RedisClient({
      connect: this.#base,
      host: address.host,
      port: address.port,
      tls: this.#o.tls,
      username: auth.password !== undefined ? auth.username : undefined,
      password: auth.password,
      protocol: 2,
      clientName: null,
      connectTimeoutMs: this.#timeoutMs,
      socketTimeoutMs: this.#timeoutMs,
      parserLimits: this.#o.parserLimits,
      // One attempt only: this client is closed right after.
      backoff: () => MAX_TIMER,
    });
    try {
      return await client.command(command);
    } finally {
      void client.close();
    }
  }

  async #ask(sentinel: NodeAddress): Promise<NodeAddress> {
    const reply = await this.#query(
      sentinel,
      ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.#name],
      { username: this.#o.sentinelUsername, password: this.#o.sentinelPassword },
    );
    if (!Array.isArray(reply) || reply.length < 2) throw new Error(`does not know "${this.#name}"`);
    const host = replyToString(reply[0]);
    const port = Number(replyToString(reply[1]));
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`answered an invalid address`);
    }
    const address = this.#policy({ host, port });
    if (address === undefined) throw new Error(`named ${host}:${port}, which allowNode refuses`);
    return address;
  }

  async #role(address: NodeAddress): Promise<string> {
    const reply = await this.#query(address, ["ROLE"], {
      username: this.#o.username,
      password: this.#o.password,
    });
    const role = Array.isArray(reply) ? replyToString(reply[0]) : undefined;
    if (!role) throw new Error("ROLE answered an unexpected reply");
    return role;
  }

  async #open(
    address: NodeAddress,
    options: ConnectOptions,
    handlers: TransportHandlers,
  ): Promise<Transport> {
    let dead = false;
    const live: Live = {
      address,
      kill: (reason) => {
        if (dead) return;
        dead = true;
        handlers.onClose(reason);
        destroyQuietly(transport);
      },
    };
    // `live` is published (and `kill` reachable) only once `transport` is set.
    const transport: Transport = await this.#base({
      ...options,
      host: address.host,
      port: address.port,
    }, {
      onData: (bytes) => {
        if (!dead) handlers.onData(bytes);
      },
      onClose: (error) => {
        if (dead) return;
        dead = true;
        if (this.#live === live) this.#live = undefined;
        handlers.onClose(error);
      },
    });
    if (this.#closed) {
      destroyQuietly(transport);
      throw new RedisConnectionError("SentinelConnector is closed");
    }
    const previous = this.#primary;
    this.#primary = address;
    this.#live = live;
    if (previous !== undefined && nodeKey(previous) !== nodeKey(address)) {
      this.#logger?.warn(
        `Redis Sentinel: primary of "${this.#name}" is now ${nodeKey(address)} (was ${
          nodeKey(previous)
        })`,
      );
    }
    return transport;
  }

  // ---------------------------------------------------------------- +switch-master

  /** Keeps one subscription to `+switch-master` open on some sentinel. */
  #subscribe(): void {
    if (this.#closed || this.#subscribing || this.#subTimer !== undefined) return;
    this.#subscribing = true;
    const sentinel = this.#sentinels[this.#subIndex++ % this.#sentinels.length];
    const o = this.#o;
    const commands: string[][] = [];
    if (o.sentinelPassword !== undefined) {
      commands.push(
        o.sentinelUsername !== undefined
          ? ["AUTH", o.sentinelUsername, o.sentinelPassword]
          : ["AUTH", o.sentinelPassword],
      );
    }
    commands.push(["SUBSCRIBE", "+switch-master"]);
    let failed = false;
    let transport: Transport | undefined;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      if (transport) destroyQuietly(transport);
      if (this.#subscriber === transport) this.#subscriber = undefined;
      this.#subscribing = false;
      if (this.#closed) return;
      this.#logger?.debug?.(
        `Redis Sentinel subscription to ${nodeKey(sentinel)} failed: ${error.message}`,
      );
      const delay = Math.min(MAX_TIMER, Math.max(0, this.#backoff(this.#subAttempt++)));
      this.#subTimer = setTimeout(() => {
        this.#subTimer = undefined;
        this.#subscribe();
      }, delay);
      unref(this.#subTimer);
    };
    const timer = setTimeout(
      () => fail(new Error(`not subscribed within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    unref(timer);
    const parser = new RespParser((reply) => {
      if (!Array.isArray(reply)) {
        // Only the code: the text of a refused AUTH may echo the sentinel password.
        if (reply instanceof RedisReplyError) {
          fail(
            new Error(
              `the sentinel answered ${/^[A-Z]{1,32}$/.test(reply.code) ? reply.code : "an error"}`,
            ),
          );
        } else if (reply instanceof Error) fail(reply);
        return;
      }
      const kind = replyToString(reply[0] as Reply);
      if (kind === "subscribe") {
        clearTimeout(timer);
        this.#subAttempt = 0;
        // A switch may have happened while no subscription was open.
        this.#verify();
      } else if (kind === "message" && reply.length >= 3) {
        this.#onSwitch(replyToString(reply[2] as Reply) ?? "");
      }
    }, o.parserLimits);
    let opening: Promise<Transport>;
    try {
      opening = this.#base({
        host: sentinel.host,
        port: sentinel.port,
        timeoutMs: this.#timeoutMs,
        ...(o.tls !== undefined ? { tls: o.tls } : {}),
      }, {
        onData: (bytes) => {
          try {
            parser.feed(bytes);
          } catch (error) {
            fail(error as Error);
          }
        },
        onClose: (error) => fail(error ?? new Error("closed by the sentinel")),
      });
    } catch (error) {
      opening = Promise.reject(error);
    }
    opening.then((t) => {
      transport = t;
      if (failed || this.#closed) {
        destroyQuietly(t);
        return;
      }
      this.#subscriber = t;
      t.write(encodeCommands(commands));
    }, (error) => fail(error instanceof Error ? error : new Error(String(error))));
  }

  /** `<name> <old-ip> <old-port> <new-ip> <new-port>`: drop the connection if it is not to the new primary. */
  #onSwitch(payload: string): void {
    const parts = payload.split(" ");
    if (parts[0] !== this.#name || parts.length < 5) return;
    const address = this.#policy({ host: parts[3], port: Number(parts[4]) });
    if (address === undefined) return; // invalid, or refused by allowNode
    for (const wake of [...this.#wakers]) wake();
    this.#follow(address);
  }

  #follow(address: NodeAddress): void {
    const live = this.#live;
    if (live === undefined || nodeKey(live.address) === nodeKey(address)) return;
    const wait = this.#lastSwitch + SWITCH_MIN_INTERVAL_MS - performance.now();
    if (wait > 0) {
      // Too soon after the last switch: look again (ask the sentinels) when the window ends.
      if (this.#switchTimer === undefined) {
        this.#switchTimer = setTimeout(() => {
          this.#switchTimer = undefined;
          if (!this.#closed) this.#verify();
        }, wait);
        unref(this.#switchTimer);
      }
      return;
    }
    this.#lastSwitch = performance.now();
    this.#logger?.warn(
      `Redis Sentinel: "${this.#name}" failed over to ${nodeKey(address)}; reconnecting`,
    );
    this.#live = undefined;
    live.kill(
      new RedisConnectionError(
        `Redis Sentinel switched "${this.#name}" from ${nodeKey(live.address)} to ${
          nodeKey(address)
        }`,
      ),
    );
  }

  /** After (re)subscribing: ask once, and follow if the primary moved meanwhile. */
  #verify(): void {
    if (this.#live === undefined) return;
    this.#ask(this.#sentinels[0]).then((address) => this.#follow(address), noop);
  }
}

function destroyQuietly(transport: Transport): void {
  try {
    if (typeof transport.destroy === "function") transport.destroy();
    else void transport.close().catch(noop);
  } catch { /* already gone */ }
}
