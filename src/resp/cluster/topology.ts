/**
 * Redis Cluster topology: which primary serves which slots, read from
 * `CLUSTER SHARDS` (Redis 7+) or, on older servers, `CLUSTER SLOTS`, in
 * either protocol (RESP3 maps or RESP2 flat arrays).
 *
 * @module
 */
import { RedisProtocolError, RedisReplyError } from "../../errors.ts";
import type { Command } from "../encoder.ts";
import { type Reply, replyToString } from "../parser.ts";
import { SLOT_COUNT } from "./crc16.ts";

/** A node's address. */
export interface NodeAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port (the TLS port when the cluster is reached over TLS). */
  port: number;
}

/** One shard: a primary and the slot ranges it serves. */
export interface ClusterShard {
  /** The primary's address. */
  primary: NodeAddress;
  /** The primary's replicas (informational: the client never sends to them). */
  replicas: NodeAddress[];
  /** Inclusive `[first, last]` slot ranges. */
  slots: [number, number][];
}

/** The shards of a cluster, as one node sees them. */
export interface ClusterTopology {
  /** The shards that serve at least one slot. */
  shards: ClusterShard[];
}

/** What `fetchTopology` needs of a connection. */
export interface Commander {
  /** Sends one command. */
  command(args: Command): Promise<Reply>;
}

/**
 * The most nodes one topology reply may name. Redis Cluster's own guideline is at most 1,000
 * nodes; a reply past it (a hostile or broken node) would make the client open a connection
 * per primary it names.
 */
export const MAX_TOPOLOGY_NODES = 1000;

function tooMany(): RedisProtocolError {
  return bad(`more than ${MAX_TOPOLOGY_NODES} nodes (MAX_TOPOLOGY_NODES)`);
}

function bad(what: string): RedisProtocolError {
  return new RedisProtocolError(`Unexpected cluster topology reply: ${what}`);
}

function text(reply: Reply | undefined): string | undefined {
  if (reply === undefined || reply === null) return undefined;
  try {
    return replyToString(reply) ?? undefined;
  } catch {
    return undefined;
  }
}

function int(reply: Reply | undefined): number | undefined {
  const n = typeof reply === "number" ? reply : Number(text(reply));
  return Number.isInteger(n) ? n : undefined;
}

/** A RESP3 map or a RESP2 flat `[key, value, ...]` array, as a Map of text keys. */
function fields(reply: Reply): Map<string, Reply> {
  const out = new Map<string, Reply>();
  if (reply instanceof Map) {
    for (const [k, v] of reply) {
      const key = text(k);
      if (key !== undefined) out.set(key, v);
    }
  } else if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const key = text(reply[i]);
      if (key !== undefined) out.set(key, reply[i + 1]);
    }
  } else throw bad("a shard or node is not a map");
  return out;
}

/** A usable host: `endpoint` (the preferred one), else `ip`; `?` or empty means "the node you asked". */
function hostOf(endpoint: string | undefined, ip: string | undefined, asked: NodeAddress): string {
  for (const h of [endpoint, ip]) if (h !== undefined && h !== "" && h !== "?") return h;
  return asked.host;
}

function checkSlots(first: number | undefined, last: number | undefined): [number, number] {
  if (
    first === undefined || last === undefined || first < 0 || last >= SLOT_COUNT || first > last
  ) {
    throw bad(`slot range ${first}-${last}`);
  }
  return [first, last];
}

/**
 * Parses a `CLUSTER SHARDS` reply.
 *
 * @param reply The reply (RESP3 maps or RESP2 flat arrays).
 * @param asked The node that answered (its host stands in for an unknown endpoint).
 * @param tls Use each node's `tls-port` (when it has one) instead of `port`.
 * @returns The shards serving slots, each with its primary: the `master` that
 *   is `online` (or, failing that, any `master`).
 * @throws {RedisProtocolError} If the reply is not shaped like `CLUSTER SHARDS`'.
 *
 * @example A RESP2 reply of one shard
 * ```ts
 * import { parseClusterShards } from "./topology.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const node = (port: number, role: string) =>
 *   ["id", "x", "port", port, "ip", "127.0.0.1", "endpoint", "127.0.0.1", "role", role, "health", "online"];
 * const reply = [["slots", [0, 16383], "nodes", [node(7001, "replica"), node(7000, "master")]]];
 * assertEquals(parseClusterShards(reply, { host: "127.0.0.1", port: 7000 }), {
 *   shards: [{
 *     primary: { host: "127.0.0.1", port: 7000 },
 *     replicas: [{ host: "127.0.0.1", port: 7001 }],
 *     slots: [[0, 16383]],
 *   }],
 * });
 * ```
 */
export function parseClusterShards(reply: Reply, asked: NodeAddress, tls = false): ClusterTopology {
  if (!Array.isArray(reply)) throw bad("CLUSTER SHARDS did not return an array");
  const shards: ClusterShard[] = [];
  let named = 0;
  for (const item of reply) {
    const shard = fields(item);
    const slotList = shard.get("slots");
    const nodeList = shard.get("nodes");
    if (!Array.isArray(slotList) || !Array.isArray(nodeList)) {
      throw bad("a shard lacks slots or nodes");
    }
    const slots: [number, number][] = [];
    for (let i = 0; i + 1 < slotList.length; i += 2) {
      slots.push(checkSlots(int(slotList[i]), int(slotList[i + 1])));
    }
    let primary: NodeAddress | undefined;
    let primaryOnline = false;
    const replicas: NodeAddress[] = [];
    named += nodeList.length;
    if (named > MAX_TOPOLOGY_NODES) throw tooMany();
    for (const n of nodeList) {
      const node = fields(n);
      const port = int(tls ? node.get("tls-port") ?? node.get("port") : node.get("port"));
      if (port === undefined || port < 1 || port > 65535) throw bad(`node port ${port}`);
      const address = {
        host: hostOf(text(node.get("endpoint")), text(node.get("ip")), asked),
        port,
      };
      const online = (text(node.get("health")) ?? "online") === "online";
      if (text(node.get("role")) === "master") {
        if (primary === undefined || (online && !primaryOnline)) {
          if (primary !== undefined) replicas.push(primary);
          primary = address;
          primaryOnline = online;
        } else replicas.push(address);
      } else replicas.push(address);
    }
    if (primary !== undefined && slots.length > 0) shards.push({ primary, replicas, slots });
  }
  return { shards };
}

/**
 * Parses a `CLUSTER SLOTS` reply (the fallback for Redis < 7): one entry per
 * slot range, `[first, last, primary, ...replicas]`, each node `[ip, port, id, ...]`.
 * Ranges of one primary are gathered into one shard.
 *
 * @param reply The reply.
 * @param asked The node that answered (its host stands in for an empty or `?` ip).
 * @returns The shards.
 * @throws {RedisProtocolError} If the reply is not shaped like `CLUSTER SLOTS`'.
 *
 * @example Two ranges of one primary
 * ```ts
 * import { parseClusterSlots } from "./topology.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const reply = [
 *   [0, 99, ["127.0.0.1", 7000, "id0"], ["127.0.0.1", 7001, "id1"]],
 *   [100, 16383, ["", 7000, "id0"]],
 * ];
 * const topology = parseClusterSlots(reply, { host: "127.0.0.1", port: 7000 });
 * assertEquals(topology.shards.length, 1);
 * assertEquals(topology.shards[0].slots, [[0, 99], [100, 16383]]);
 * ```
 */
export function parseClusterSlots(reply: Reply, asked: NodeAddress): ClusterTopology {
  if (!Array.isArray(reply)) throw bad("CLUSTER SLOTS did not return an array");
  const byPrimary = new Map<string, ClusterShard>();
  const named = new Set<string>();
  for (const range of reply) {
    if (!Array.isArray(range) || range.length < 3) throw bad("a slot range is not an array");
    if (range.length - 2 > MAX_TOPOLOGY_NODES) throw tooMany();
    const slots = checkSlots(int(range[0]), int(range[1]));
    const nodes = range.slice(2).map((n) => {
      if (!Array.isArray(n) || n.length < 2) throw bad("a node is not an array");
      const port = int(n[1]);
      if (port === undefined || port < 1 || port > 65535) throw bad(`node port ${port}`);
      const host = hostOf(undefined, text(n[0]), asked);
      named.add(`${host}:${port}`);
      return { host, port };
    });
    if (named.size > MAX_TOPOLOGY_NODES) throw tooMany();
    const key = `${nodes[0].host}:${nodes[0].port}`;
    let shard = byPrimary.get(key);
    if (!shard) {
      byPrimary.set(key, shard = { primary: nodes[0], replicas: nodes.slice(1), slots: [] });
    }
    shard.slots.push(slots);
  }
  return { shards: [...byPrimary.values()] };
}

/**
 * Asks one node for the topology: `CLUSTER SHARDS`, or `CLUSTER SLOTS` when
 * the server does not know `SHARDS` (an error reply).
 *
 * @param node A connection to the node.
 * @param asked The node's address.
 * @param tls Whether the cluster is reached over TLS (picks `tls-port`).
 * @returns The topology.
 * @throws {RedisError} If the node cannot be reached or answers neither.
 *
 * @example Against a fake node that only knows CLUSTER SLOTS
 * ```ts
 * import { fetchTopology } from "./topology.ts";
 * import { RedisClient } from "../client.ts";
 * import { FakeRedis, resp } from "@async-cache/cache/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const fake = new FakeRedis();
 * fake.onCommand((args) =>
 *   args[1] === "SHARDS"
 *     ? resp.error("ERR unknown subcommand 'SHARDS'")
 *     : args[1] === "SLOTS"
 *     ? resp.array([resp.array([resp.int(0), resp.int(16383), resp.array([resp.bulk("10.0.0.1"), resp.int(7000)])])])
 *     : undefined
 * );
 * const client = new RedisClient({ connect: fake.connect });
 * const topology = await fetchTopology(client, { host: "10.0.0.1", port: 7000 });
 * assertEquals(topology.shards[0].primary, { host: "10.0.0.1", port: 7000 });
 * await client.close();
 * await fake.close();
 * ```
 */
export async function fetchTopology(
  node: Commander,
  asked: NodeAddress,
  tls = false,
): Promise<ClusterTopology> {
  let shards: Reply;
  try {
    shards = await node.command(["CLUSTER", "SHARDS"]);
  } catch (error) {
    if (!(error instanceof RedisReplyError)) throw error;
    return parseClusterSlots(await node.command(["CLUSTER", "SLOTS"]), asked);
  }
  return parseClusterShards(shards, asked, tls);
}
