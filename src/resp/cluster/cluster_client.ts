/**
 * The Redis Cluster client: one {@linkcode RedisClient} (one pipelined
 * connection) per primary, commands routed by key slot.
 *
 * Hot path design: `command()` computes the slot of the first key
 * (`keySlot`, no allocation for ASCII keys), looks the primary's client up in
 * a 16384-entry array and hands the command to it, so commands issued in one
 * tick still leave in one write per node. Redirects are the slow path, seen
 * only as error replies: `MOVED` points the slot at the named node, schedules
 * a topology refresh and retries there; `ASK` sends `ASKING` and the command
 * back to back on the importing node (one write); `TRYAGAIN` retries after a
 * short pause. Each command follows at most `maxRedirects` of them, then
 * fails with {@linkcode RedisClusterError}. Multi-key `MGET`, `DEL`, `UNLINK`,
 * `EXISTS` and `TOUCH` are split by slot (all parts issued in the same tick:
 * one round trip per node, in parallel) and their replies reassembled.
 *
 * @module
 */
import {
  InvalidOptionError,
  RedisClusterError,
  RedisConnectionError,
  RedisError,
  RedisReplyError,
} from "../../errors.ts";
import {
  type ClientStatus,
  commandObservers,
  RedisClient,
  RedisClientEvent,
  type RedisClientOptions,
} from "../client.ts";
import type { Command, CommandArg } from "../encoder.ts";
import { CommandObservers } from "../_observer.ts";
import type { Reply } from "../parser.ts";
import { keySlot, SLOT_COUNT } from "./crc16.ts";
import { Route, routeOf } from "./_commands.ts";
import {
  type ClusterShard,
  type ClusterTopology,
  fetchTopology,
  type NodeAddress,
} from "./topology.ts";
import { type AddressPolicy, addressPolicy, type NatMap } from "../announced.ts";
import { checkOptionNames, optionNames } from "../../_option_names.ts";

/** Options of {@linkcode RedisClusterClient}. */
export interface RedisClusterClientOptions
  extends Omit<RedisClientOptions, "host" | "port" | "path" | "db"> {
  /** Seed nodes: one reachable node is enough to discover the rest. */
  nodes: readonly NodeAddress[];
  /** Redirects (`MOVED`, `ASK`, `TRYAGAIN`) one command may follow. Default 5. */
  maxRedirects?: number;
  /** Least time between two topology refreshes, in ms. Default 100. */
  refreshIntervalMs?: number;
  /**
   * Maps the addresses nodes announce (topology, `MOVED`, `ASK`) to reachable ones, for NAT or
   * port mapping: `{ "10.0.0.5:6379": { host: "203.0.113.5", port: 16379 } }`, or a function.
   * Default: announced addresses are used as they are.
   */
  natMap?: NatMap;
  /**
   * Whether an announced address (after `natMap`) may be connected to: the credentials go to
   * every node the client connects to, so this is where to keep them inside your network.
   * A refused node is never dialled; its slots fail with `RedisClusterError`. Default: all.
   */
  allowNode?: (address: NodeAddress) => boolean;
}

const CLUSTER_OPTION_NAMES = optionNames<RedisClusterClientOptions>({
  connect: true,
  tls: true,
  username: true,
  password: true,
  clientName: true,
  connectTimeoutMs: true,
  socketTimeoutMs: true,
  logger: true,
  parserLimits: true,
  backoff: true,
  protocol: true,
  onPush: true,
  tracking: true,
  nodes: true,
  maxRedirects: true,
  refreshIntervalMs: true,
  natMap: true,
  allowNode: true,
});

const noop = (): void => {};
const TRYAGAIN_MS = 25;
/** A retired primary's connection is closed this long after it leaves the topology (commands in flight finish). */
const RETIRE_MS = 1000;

function rejected(error: Error): Promise<never> {
  const p = Promise.reject(error);
  p.catch(noop);
  return p;
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

const nodeKey = (a: NodeAddress): string => `${a.host}:${a.port}`;

/** The slot of a key argument (a number or bigint is sent as its decimal text). */
function slotOf(arg: CommandArg): number {
  return typeof arg === "string" || arg instanceof Uint8Array ? keySlot(arg) : keySlot(String(arg));
}

/** `MOVED 3999 127.0.0.1:6381` → slot and address (an empty host means the node that answered). */
function parseRedirect(
  message: string,
  from: NodeAddress | undefined,
): { slot: number; address: NodeAddress } | undefined {
  const parts = message.split(" ");
  const slot = Number(parts[1]);
  const target = parts[2] ?? "";
  const colon = target.lastIndexOf(":");
  const port = Number(target.slice(colon + 1));
  if (!Number.isInteger(slot) || colon === -1 || !Number.isInteger(port)) return undefined;
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, "$1") || from?.host;
  return host ? { slot, address: { host, port } } : undefined;
}

let clusterObserversOf: (client: RedisClusterClient) => CommandObservers;

/** The command observers of a cluster client and all its nodes (internal, for instrumentation). */
export function clusterCommandObservers(client: RedisClusterClient): CommandObservers {
  return clusterObserversOf(client);
}

/**
 * A Redis Cluster client with the `command()` surface of {@linkcode RedisClient}.
 *
 * - Discovers the shards from any seed node (`CLUSTER SHARDS`, falling back
 *   to `CLUSTER SLOTS`) on the first command, and again after a `MOVED` or a
 *   lost node (at most once per `refreshIntervalMs`).
 * - Sends only to primaries. Keyless commands (`PING`, `INFO`, `SCAN`...) go
 *   to one primary; iterate {@linkcode RedisClusterClient.primaries} to reach
 *   all of them (e.g. `SCAN` per primary).
 * - `MULTI`/`EXEC`/`WATCH` are refused ({@linkcode InvalidOptionError}), as
 *   are the subscribe family and `MONITOR` (as on `RedisClient`).
 * - Errors are those of `RedisClient`, plus {@linkcode RedisClusterError} when
 *   the topology cannot be read, no primary serves a slot, or a command
 *   exceeds `maxRedirects`.
 *
 * @example Routing over two fake nodes
 * ```ts
 * import { RedisClusterClient } from "./cluster_client.ts";
 * import { FakeRedis, resp } from "@async-cache/cache/testing";
 * import type { Connect } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * const a = new FakeRedis();
 * const b = new FakeRedis();
 * const node = (port: number) => resp.array([resp.bulk("127.0.0.1"), resp.int(port)]);
 * const slots = resp.array([
 *   resp.array([resp.int(0), resp.int(8191), node(7000)]),
 *   resp.array([resp.int(8192), resp.int(16383), node(7001)]),
 * ]);
 * for (const fake of [a, b]) {
 *   fake.onCommand((args) =>
 *     args[1] === "SHARDS" ? resp.error("ERR unknown subcommand") : args[1] === "SLOTS" ? slots : undefined
 *   );
 * }
 * const connect: Connect = (o, h) => (o.port === 7000 ? a : b).connect(o, h);
 * const cluster = new RedisClusterClient({ connect, nodes: [{ host: "127.0.0.1", port: 7000 }] });
 * await cluster.command(["SET", "foo", "1"]); // slot 12182: the second node
 * assertEquals(b.getString("foo"), "1");
 * assertEquals(await cluster.command(["MGET", "foo", "bar"]), [new TextEncoder().encode("1"), null]);
 * await cluster.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class RedisClusterClient extends EventTarget {
  readonly #seeds: NodeAddress[];
  readonly #nodeOptions: Omit<RedisClientOptions, "host" | "port">;
  readonly #tls: boolean;
  readonly #maxRedirects: number;
  readonly #refreshIntervalMs: number;
  readonly #logger: RedisClientOptions["logger"];
  readonly #policy: AddressPolicy;
  /** Announced addresses refused by `allowNode`, each logged once. */
  readonly #refused = new Set<string>();

  /** Connections by `host:port`: the primaries, and seeds while discovering. */
  readonly #nodes = new Map<string, RedisClient>();
  /** Instrumentation of the commands (internal), shared with every node's client. */
  readonly #observers: CommandObservers = new CommandObservers();

  static {
    clusterObserversOf = (client) => client.#observers;
  }
  readonly #addresses = new Map<RedisClient, NodeAddress>();
  /** The client serving each slot (undefined: uncovered or not yet known). */
  #slots: (RedisClient | undefined)[] = new Array(SLOT_COUNT).fill(undefined);
  #primaries: RedisClient[] = [];
  #next = 0;
  #status: ClientStatus = "idle";
  #refreshing: Promise<void> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #lastRefresh = -Infinity;
  /** Former primaries, closed when their timer fires (or on `close()`). */
  #retired = new Map<RedisClient, ReturnType<typeof setTimeout>>();
  #closing: Promise<void> | undefined;
  /** The last discovery failure was logged (once per outage). */
  #warned = false;
  #redirects = { moved: 0, ask: 0, tryAgain: 0 };
  /** Why the last discovery failed, while no topology is known. */
  #failure: RedisClusterError | undefined;

  /**
   * Creates a client; it discovers the cluster on the first command or on `connect()`.
   *
   * @param options Seed nodes, plus the `RedisClient` options every node connection uses.
   * @throws {InvalidOptionError} If an option is out of range.
   */
  constructor(options: RedisClusterClientOptions) {
    super();
    const o = options ?? ({} as RedisClusterClientOptions);
    if (typeof o === "object") checkOptionNames("RedisClusterClient", o, CLUSTER_OPTION_NAMES);
    if (!Array.isArray(o.nodes) || o.nodes.length === 0) {
      throw new InvalidOptionError(
        "RedisClusterClient",
        "nodes",
        "a non-empty array of { host, port }",
        o.nodes,
      );
    }
    const { nodes, maxRedirects, refreshIntervalMs, natMap, allowNode, ...nodeOptions } = o;
    this.#policy = addressPolicy("RedisClusterClient", { natMap, allowNode });
    this.#maxRedirects = maxRedirects ?? 5;
    if (!Number.isInteger(this.#maxRedirects) || this.#maxRedirects < 0) {
      throw new InvalidOptionError(
        "RedisClusterClient",
        "maxRedirects",
        "an integer >= 0",
        maxRedirects,
      );
    }
    this.#refreshIntervalMs = refreshIntervalMs ?? 100;
    if (typeof this.#refreshIntervalMs !== "number" || !(this.#refreshIntervalMs >= 0)) {
      throw new InvalidOptionError(
        "RedisClusterClient",
        "refreshIntervalMs",
        "a number of milliseconds >= 0",
        refreshIntervalMs,
      );
    }
    this.#seeds = nodes.map((n) => ({ host: n.host, port: n.port }));
    this.#nodeOptions = nodeOptions;
    this.#tls = o.tls !== undefined && o.tls !== false;
    this.#logger = o.logger;
    // Validate the shared options (and every seed's port) now, not on first use.
    for (const seed of this.#seeds) new RedisClient({ ...nodeOptions, ...seed });
  }

  /** `ready` once a topology is known, until `close()`. */
  get status(): ClientStatus {
    return this.#status;
  }

  /** The protocol of the first primary's connection (3 after a successful `HELLO 3`). */
  get protocol(): 2 | 3 | undefined {
    return this.#primaries[0]?.protocol;
  }

  /** Redirects followed so far (`MOVED`, `ASK`, `TRYAGAIN`): a rising count means resharding or failover. */
  get redirects(): { moved: number; ask: number; tryAgain: number } {
    return { ...this.#redirects };
  }

  /**
   * Whether every primary's connection has `CLIENT TRACKING` on (with the
   * `tracking` option: each node pushes the invalidations of its own keys).
   */
  get tracking(): boolean {
    const primaries = this.#primaries;
    return primaries.length > 0 && primaries.every((c) => c.tracking);
  }

  /** Commands written and awaiting a reply, on every node. */
  get inflight(): number {
    let n = 0;
    for (const client of this.#nodes.values()) n += client.inflight;
    return n;
  }

  /**
   * Discovers the cluster now instead of on the first command.
   *
   * @returns When a topology is known.
   * @throws {RedisClusterError} If no seed or known node answers.
   */
  connect(): Promise<void> {
    if (this.#status === "closed") {
      return rejected(new RedisConnectionError("RedisClusterClient is closed"));
    }
    if (this.#status === "ready") return Promise.resolve();
    // Right after a failed discovery, fail fast rather than dial every seed per command.
    const failed = this.#failure;
    if (
      failed !== undefined && !this.#refreshing &&
      performance.now() - this.#lastRefresh < Math.max(this.#refreshIntervalMs, 100)
    ) {
      return rejected(new RedisClusterError(failed.message, { cause: failed.cause }));
    }
    return this.refresh();
  }

  /**
   * The connection of every primary (after discovering the cluster): for
   * commands every node must run, such as `SCAN`.
   *
   * @returns One client per primary.
   * @throws {RedisClusterError} If the cluster cannot be discovered.
   */
  async primaries(): Promise<RedisClient[]> {
    if (this.#status !== "ready") await this.connect();
    return [...this.#primaries];
  }

  /**
   * Sends a command to the primary serving its key's slot.
   *
   * @param args The command and its arguments.
   * @returns The reply (for a split `MGET`, the values in key order; for a
   *   split `DEL`/`UNLINK`/`EXISTS`/`TOUCH`, the sum).
   * @throws {RedisClusterError} See the class.
   * @throws {InvalidOptionError} For `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`.
   * @throws {RedisError} Anything `RedisClient.command` throws.
   */
  command(args: Command): Promise<Reply> {
    if (this.#status === "closed") {
      return rejected(new RedisConnectionError("RedisClusterClient is closed"));
    }
    if (this.#status !== "ready") {
      // Refused at once, whether or not the cluster is reachable.
      if (routeOf(args[0]) === Route.Refused) return this.#dispatch(args);
      const p = this.connect().then(() => this.#dispatch(args));
      p.catch(noop);
      return p;
    }
    return this.#dispatch(args);
  }

  /**
   * Reads the topology again now (coalesced with a refresh in progress).
   *
   * @returns When the new topology is in use.
   * @throws {RedisClusterError} If no known node answers.
   */
  refresh(): Promise<void> {
    if (this.#status === "closed") {
      return rejected(new RedisConnectionError("RedisClusterClient is closed"));
    }
    if (this.#refreshing) return this.#refreshing;
    if (this.#status === "idle") this.#status = "connecting";
    const p = this.#discover().finally(() => {
      this.#refreshing = undefined;
      this.#lastRefresh = performance.now();
    });
    p.catch(noop);
    this.#refreshing = p;
    return p;
  }

  /**
   * Closes every node connection and stops refreshing. Idempotent.
   *
   * @returns When all connections are closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#status = "closed";
    clearTimeout(this.#refreshTimer);
    for (const timer of this.#retired.values()) clearTimeout(timer);
    const clients = [...this.#nodes.values(), ...this.#retired.keys()];
    this.#nodes.clear();
    this.#retired.clear();
    this.#primaries = [];
    this.#slots.fill(undefined);
    this.dispatchEvent(new RedisClientEvent("close"));
    this.#closing = Promise.all(clients.map((c) => c.close())).then(noop);
    return this.#closing;
  }

  // ---------------------------------------------------------------- routing

  #dispatch(args: Command): Promise<Reply> {
    const route = routeOf(args[0]);
    switch (route) {
      case Route.FirstKey:
        return args.length > 1 ? this.#send(slotOf(args[1]), args, 0) : this.#send(-1, args, 0);
      case Route.MultiGet:
      case Route.MultiCount: {
        const n = args.length;
        if (n <= 2) return this.#send(n === 2 ? slotOf(args[1]) : -1, args, 0);
        const first = slotOf(args[1]);
        for (let i = 2; i < n; i++) {
          if (slotOf(args[i]) !== first) return this.#split(args, route);
        }
        return this.#send(first, args, 0);
      }
      case Route.Script: {
        const numkeys = Number(
          args[2] instanceof Uint8Array ? new TextDecoder().decode(args[2]) : args[2],
        );
        return this.#send(numkeys > 0 && args.length > 3 ? slotOf(args[3]) : -1, args, 0);
      }
      case Route.Refused:
        return rejected(
          new InvalidOptionError(
            "RedisClusterClient.command",
            "args",
            "a command routed on its own (a transaction cannot span the nodes of a cluster)",
            String(args[0]),
          ),
        );
      default:
        return this.#send(-1, args, 0);
    }
  }

  /** One part per slot, all issued now (one write per node), reassembled in order. */
  async #split(args: Command, route: Route): Promise<Reply> {
    const groups = new Map<number, { args: CommandArg[]; at: number[] }>();
    for (let i = 1; i < args.length; i++) {
      const slot = slotOf(args[i]);
      let group = groups.get(slot);
      if (!group) groups.set(slot, group = { args: [args[0]], at: [] });
      group.args.push(args[i]);
      group.at.push(i - 1);
    }
    const parts = [...groups].map(([slot, g]) => this.#send(slot, g.args, 0));
    const replies = await Promise.all(parts);
    if (route === Route.MultiCount) {
      let sum = 0;
      for (const r of replies) sum += typeof r === "number" ? r : 0;
      return sum;
    }
    const out: Reply[] = new Array(args.length - 1);
    let k = 0;
    for (const g of groups.values()) {
      const reply = replies[k++];
      if (!Array.isArray(reply) || reply.length !== g.at.length) {
        throw new RedisClusterError("MGET part returned an unexpected reply");
      }
      for (let j = 0; j < g.at.length; j++) out[g.at[j]] = reply[j];
    }
    return out;
  }

  #clientForSlot(slot: number): RedisClient | undefined {
    if (slot >= 0) {
      const client = this.#slots[slot];
      if (client !== undefined) return client;
    }
    const primaries = this.#primaries;
    if (primaries.length === 0) return undefined;
    // Keyless commands (and slots nobody serves, which then answer MOVED or CLUSTERDOWN).
    return primaries[this.#next++ % primaries.length];
  }

  #send(slot: number, args: Command, redirects: number): Promise<Reply> {
    const client = this.#clientForSlot(slot);
    if (client === undefined) {
      this.#scheduleRefresh();
      return rejected(
        new RedisClusterError(`No primary serves slot ${slot} (refreshing the topology)`),
      );
    }
    return this.#sendTo(client, slot, args, redirects, false);
  }

  #sendTo(
    client: RedisClient,
    slot: number,
    args: Command,
    redirects: number,
    asking: boolean,
  ): Promise<Reply> {
    if (asking) client.command(["ASKING"]).catch(noop);
    const out: Promise<Reply> = client.command(args).then(
      undefined,
      (error) => {
        // Marked handled before it rejects, as RedisClient does for its own.
        out.catch(noop);
        return this.#onError(error, client, slot, args, redirects);
      },
    );
    return out;
  }

  #onError(
    error: unknown,
    client: RedisClient,
    slot: number,
    args: Command,
    redirects: number,
  ): Promise<Reply> {
    if (!(error instanceof RedisReplyError)) {
      // The node is unreachable or timed out: the cluster may be failing it over.
      if (error instanceof RedisError && this.#status !== "closed") this.#scheduleRefresh();
      throw error;
    }
    const code = error.code;
    if (code !== "MOVED" && code !== "ASK" && code !== "TRYAGAIN") {
      if (code === "CLUSTERDOWN") this.#scheduleRefresh();
      throw error;
    }
    if (redirects >= this.#maxRedirects) {
      throw new RedisClusterError(
        `Redis Cluster redirected ${String(args[0])} more than ${this.#maxRedirects} times ` +
          `(maxRedirects); last: ${error.message}`,
        { cause: error },
      );
    }
    if (this.#status === "closed") throw error;
    if (code === "TRYAGAIN") {
      this.#redirects.tryAgain++;
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, TRYAGAIN_MS);
        unref(timer);
      }).then(() => this.#sendTo(client, slot, args, redirects + 1, false));
    }
    const redirect = parseRedirect(error.message, this.#addresses.get(client));
    if (redirect === undefined) throw error;
    const address = this.#dialable(redirect.address);
    if (address === undefined) {
      throw new RedisClusterError(
        `Redis Cluster redirected ${String(args[0])} to ${
          nodeKey(redirect.address)
        }, which allowNode refuses`,
      );
    }
    const target = this.#node(address);
    if (code === "ASK") this.#redirects.ask++;
    else this.#redirects.moved++;
    if (code === "MOVED") {
      this.#slots[redirect.slot] = target;
      this.#scheduleRefresh();
    }
    return this.#sendTo(target, redirect.slot, args, redirects + 1, code === "ASK");
  }

  // ---------------------------------------------------------------- topology

  /** Where to dial an announced address (after `natMap`), or `undefined` if `allowNode` refuses it. */
  #dialable(announced: NodeAddress): NodeAddress | undefined {
    const address = this.#policy(announced);
    if (address === undefined) {
      const key = nodeKey(announced);
      if (!this.#refused.has(key)) {
        if (this.#refused.size < 1000) this.#refused.add(key);
        this.#logger?.warn(
          `Redis Cluster announced ${key}, which allowNode refuses: it is not connected to`,
        );
      }
    }
    return address;
  }

  /** The topology with announced primaries mapped, and the shards of refused ones left out. */
  #mapped(topology: ClusterTopology): ClusterTopology {
    const shards: ClusterShard[] = [];
    for (const shard of topology.shards) {
      const primary = this.#dialable(shard.primary);
      if (primary !== undefined) shards.push({ ...shard, primary });
    }
    return { shards };
  }

  /** The connection to `address`, made (lazily connecting) if there is none. */
  #node(address: NodeAddress): RedisClient {
    const key = nodeKey(address);
    let client = this.#nodes.get(key);
    if (client === undefined) {
      client = new RedisClient({ ...this.#nodeOptions, host: address.host, port: address.port });
      commandObservers(client, this.#observers);
      client.addEventListener("reconnecting", (event) => {
        this.#scheduleRefresh();
        // A node's connection lost: what it tracked may have changed unseen.
        const { error, delayMs, attempt } = event as RedisClientEvent;
        this.dispatchEvent(new RedisClientEvent("reconnecting", { error, delayMs, attempt }));
      });
      // A node's connection (re)made: the backend's breaker may close again.
      client.addEventListener("ready", () => {
        if (this.#status === "ready") this.dispatchEvent(new RedisClientEvent("ready"));
      });
      this.#nodes.set(key, client);
      this.#addresses.set(client, address);
    }
    return client;
  }

  /** Refreshes soon: now if the last refresh is older than `refreshIntervalMs`, else when it is. */
  #scheduleRefresh(): void {
    if (this.#refreshing || this.#refreshTimer !== undefined || this.#status === "closed") return;
    const wait = this.#lastRefresh + this.#refreshIntervalMs - performance.now();
    if (wait <= 0) {
      void this.refresh().catch(noop);
      return;
    }
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      if (this.#status !== "closed") void this.refresh().catch(noop);
    }, wait);
    unref(this.#refreshTimer);
  }

  async #discover(): Promise<void> {
    // Known primaries first (they have connections), then the seeds.
    const candidates = new Map<string, NodeAddress>();
    for (const client of this.#primaries) {
      const address = this.#addresses.get(client)!;
      candidates.set(nodeKey(address), address);
    }
    for (const seed of this.#seeds) candidates.set(nodeKey(seed), seed);
    // Ask connected nodes first: a node being failed over may take connectTimeout to refuse.
    const ordered = [...candidates.values()].sort((a, b) =>
      Number(this.#nodes.get(nodeKey(b))?.status === "ready") -
      Number(this.#nodes.get(nodeKey(a))?.status === "ready")
    );
    const failures: string[] = [];
    let lastError: unknown;
    for (const address of ordered) {
      if (this.#status === "closed") break;
      const client = this.#node(address);
      try {
        const announced = await fetchTopology(client, address, this.#tls);
        if (announced.shards.length === 0) throw new RedisClusterError("no shard serves any slot");
        const topology = this.#mapped(announced);
        if (topology.shards.length === 0) {
          throw new RedisClusterError("allowNode refuses every primary of the topology");
        }
        if (this.#closed()) break;
        this.#apply(topology);
        this.#failure = undefined;
        if (this.#warned) {
          this.#warned = false;
          this.#logger?.warn(`Redis Cluster topology read again from ${nodeKey(address)}`);
        }
        return;
      } catch (error) {
        lastError = error;
        failures.push(`${nodeKey(address)}: ${(error as Error)?.message ?? error}`);
      }
    }
    if (this.#status === "closed") throw new RedisConnectionError("RedisClusterClient is closed");
    // No primaries yet: drop the seed connections that failed, so they do not keep reconnecting.
    if (this.#primaries.length === 0) {
      for (const [key, client] of this.#nodes) {
        this.#nodes.delete(key);
        this.#addresses.delete(client);
        void client.close();
      }
      this.#status = "idle";
    }
    const error = new RedisClusterError(
      `Cannot read the Redis Cluster topology from any node (${failures.join("; ")})`,
      { cause: lastError },
    );
    if (this.#primaries.length === 0) this.#failure = error;
    if (!this.#warned) {
      this.#warned = true;
      this.#logger?.warn(`${error.message}; retrying on the next command`);
    }
    this.dispatchEvent(new RedisClientEvent("error", { error }));
    throw error;
  }

  /** Read through a method: the status may change across an `await`. */
  #closed(): boolean {
    return this.#status === "closed";
  }

  #apply(topology: ClusterTopology): void {
    const slots: (RedisClient | undefined)[] = new Array(SLOT_COUNT).fill(undefined);
    const primaries: RedisClient[] = [];
    for (const shard of topology.shards) {
      const client = this.#node(shard.primary);
      if (!primaries.includes(client)) primaries.push(client);
      for (const [first, last] of shard.slots) slots.fill(client, first, last + 1);
    }
    // Connections that are no longer primaries (a failed-over node, a seed
    // replica) close once what they carry has had time to finish.
    for (const [key, client] of this.#nodes) {
      if (primaries.includes(client)) continue;
      this.#nodes.delete(key);
      this.#addresses.delete(client);
      this.#retired.set(
        client,
        setTimeout(() => {
          this.#retired.delete(client);
          void client.close();
        }, client.inflight > 0 ? RETIRE_MS : 0),
      );
      unref(this.#retired.get(client));
    }
    this.#slots = slots;
    this.#primaries = primaries;
    // Lazy: a primary's connection opens with the first command for its slots
    // (a topology naming many nodes does not open as many connections at once).
    if (this.#status !== "ready") {
      this.#status = "ready";
      this.dispatchEvent(new RedisClientEvent("ready"));
    }
  }
}
