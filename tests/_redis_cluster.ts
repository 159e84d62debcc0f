/**
 * Test harness: a throwaway Redis Cluster (3 primaries + 3 replicas) and a
 * Sentinel setup (a primary, a replica, 3 sentinels), on free loopback ports,
 * each process in its own temp dir, stopped by PID. Node modules only, so it
 * runs under Deno, Bun and Node.
 *
 * ```ts ignore
 * const cluster = await startRedisCluster();
 * try { ... cluster.seeds ... } finally { await cluster.stop(); }
 * ```
 *
 * @module
 */
import { execFile } from "node:child_process";
import { type RedisServer, startRedisServer } from "./_redis_server.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `redis-cli` and returns its output (rejects on a non-zero exit). */
export function redisCli(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(" ")}: ${error.message}\n${stderr}`));
      else resolve(String(stdout).trim());
    });
  });
}

/** `redis-cli -p port ...` against 127.0.0.1. */
export function cli(port: number, ...args: string[]): Promise<string> {
  return redisCli("-h", "127.0.0.1", "-p", String(port), ...args);
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One node of `CLUSTER NODES`. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  primary: boolean;
  failed: boolean;
  /** Inclusive slot ranges (primaries). */
  slots: [number, number][];
}

/** A running 6-node cluster. */
export class RedisCluster {
  /** The six servers, in port order of creation. */
  readonly servers: RedisServer[];
  constructor(servers: RedisServer[]) {
    this.servers = servers;
  }

  /** Seed addresses for the client (all six). */
  get seeds(): { host: string; port: number }[] {
    return this.servers.map((s) => ({ host: "127.0.0.1", port: s.port }));
  }

  /** The server on `port`. */
  server(port: number): RedisServer {
    return this.servers.find((s) => s.port === port)!;
  }

  /** `CLUSTER NODES`, as seen by a live node. */
  async nodes(): Promise<ClusterNodeInfo[]> {
    const live = this.servers.find((s) => s.running)!;
    const text = await cli(live.port, "CLUSTER", "NODES");
    return text.split("\n").filter(Boolean).map((line) => {
      const parts = line.split(" ");
      const port = Number(parts[1].split("@")[0].split(":").at(-1));
      const slots: [number, number][] = [];
      for (const s of parts.slice(8)) {
        if (s.startsWith("[")) continue;
        const [a, b] = s.split("-").map(Number);
        slots.push([a, b ?? a]);
      }
      return {
        id: parts[0],
        port,
        primary: parts[2].includes("master"),
        failed: parts[2].includes("fail"),
        slots,
      };
    });
  }

  /** The primary serving `slot`. */
  async owner(slot: number): Promise<ClusterNodeInfo> {
    const nodes = await this.nodes();
    return nodes.find((n) => n.primary && n.slots.some(([a, b]) => slot >= a && slot <= b))!;
  }

  /** Waits until every live node reports `cluster_state:ok` and agrees there are 3 healthy primaries. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitUntil("cluster_state:ok", async () => {
      for (const s of this.servers) {
        if (!s.running) continue;
        if (!(await cli(s.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
      }
      const primaries = (await this.nodes()).filter((n) => n.primary && !n.failed);
      return primaries.length === 3 && primaries.every((p) => p.slots.length > 0);
    }, timeoutMs);
  }

  /** Stops every node by PID and removes its directory. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  /** For `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts six `redis-server --cluster-enabled yes` on free loopback ports and
 * joins them with `redis-cli --cluster create ... --cluster-replicas 1`.
 *
 * @param nodeTimeoutMs `cluster-node-timeout`: how soon a dead primary is failed over.
 */
export async function startRedisCluster(nodeTimeoutMs = 1000): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      servers.push(
        await startRedisServer({
          config: [
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            `cluster-node-timeout ${nodeTimeoutMs}`,
            // A replica whose primary is killed must not wait for data age.
            "cluster-replica-validity-factor 0",
          ],
        }),
      );
    }
    await redisCli(
      "--cluster",
      "create",
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    );
    const cluster = new RedisCluster(servers);
    await cluster.waitHealthy();
    return cluster;
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
}

/** A running primary + replica watched by three sentinels. */
export class SentinelSetup {
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  readonly sentinels: RedisServer[];
  readonly name: string;
  constructor(primary: RedisServer, replica: RedisServer, sentinels: RedisServer[], name: string) {
    this.primary = primary;
    this.replica = replica;
    this.sentinels = sentinels;
    this.name = name;
  }

  /** Sentinel addresses for the client. */
  get addresses(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port }));
  }

  /** The primary's port, as the first sentinel sees it. */
  async primaryPort(): Promise<number> {
    const out = await cli(this.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.name);
    return Number(out.split("\n")[1]);
  }

  /** Stops everything by PID. */
  async stop(): Promise<void> {
    await Promise.all([this.primary, this.replica, ...this.sentinels].map((s) => s.stop()));
  }
}

/**
 * Starts a primary, a replica of it and three sentinels monitoring them as
 * `name` (quorum 2, down after 1 s).
 */
export async function startSentinelSetup(name = "mymaster"): Promise<SentinelSetup> {
  const started: RedisServer[] = [];
  try {
    const primary = await startRedisServer();
    started.push(primary);
    const replica = await startRedisServer({
      config: [`replicaof 127.0.0.1 ${primary.port}`, "replica-priority 100"],
    });
    started.push(replica);
    await waitUntil("replica in sync", async () => {
      return (await cli(replica.port, "INFO", "replication")).includes("master_link_status:up");
    }, 10_000);
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startRedisServer({
        sentinel: true,
        config: [
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
        ],
      });
      started.push(s);
      sentinels.push(s);
    }
    const setup = new SentinelSetup(primary, replica, sentinels, name);
    // Every sentinel must know the replica and the other sentinels before a failover can run.
    await waitUntil("sentinels see the replica and each other", async () => {
      for (const s of sentinels) {
        const info = await cli(s.port, "SENTINEL", "MASTER", name);
        const lines = info.split("\n");
        const field = (k: string) => Number(lines[lines.indexOf(k) + 1]);
        if (field("num-slaves") < 1 || field("num-other-sentinels") < 2) return false;
      }
      return true;
    }, 20_000);
    return setup;
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()));
    throw error;
  }
}
