/**
 * The connection of a `RedisBackend` in cluster or sentinel mode: a
 * {@linkcode RedisClusterClient}, or a {@linkcode RedisClient} whose every
 * (re)connection goes through a {@linkcode SentinelConnector}.
 *
 * @module
 */
import type { Connect } from "../transport.ts";
import type { Logger } from "../logger.ts";
import { RedisClient } from "../resp/client.ts";
import { RedisClusterClient } from "../resp/cluster/cluster_client.ts";
import { SentinelConnector } from "../resp/sentinel.ts";
import type { ResolvedRedisOptions } from "./redis_options.ts";
import type { PushReply } from "../resp/parser.ts";

/** What the backend holds: the client, and the connector to close with it. */
export interface ScaledClient {
  client: RedisClient | RedisClusterClient;
  sentinel: SentinelConnector | undefined;
}

/**
 * Makes the cluster or sentinel client for resolved options that have one.
 *
 * @param o Resolved options with `cluster` or `sentinel` set.
 * @param connect The transport.
 * @param logger Where the connections report.
 * @param coherence `tracking` and `onPush` for every connection that serves keys.
 * @returns The client (and the sentinel connector, if any).
 */
export function scaledClient(
  o: ResolvedRedisOptions,
  connect: Connect,
  logger: Logger,
  coherence: { tracking?: readonly string[]; onPush?: (push: PushReply) => void } = {},
): ScaledClient {
  const common = {
    tls: o.tls,
    username: o.username,
    password: o.password,
    clientName: o.clientName,
    parserLimits: o.parserLimits,
    connectTimeoutMs: o.connectTimeoutMs,
    socketTimeoutMs: o.socketTimeoutMs,
    logger,
  };
  if (o.cluster) {
    return {
      client: new RedisClusterClient({
        ...common,
        ...coherence,
        connect,
        nodes: o.cluster.nodes,
        maxRedirects: o.cluster.maxRedirects,
        natMap: o.natMap,
        allowNode: o.allowNode,
      }),
      sentinel: undefined,
    };
  }
  const s = o.sentinel!;
  const sentinel = new SentinelConnector({
    sentinels: s.sentinels,
    name: s.name,
    connect,
    sentinelPassword: s.sentinelPassword,
    sentinelUsername: s.sentinelUsername,
    username: o.username,
    password: o.password,
    tls: o.tls,
    timeoutMs: Math.min(o.connectTimeoutMs, o.socketTimeoutMs),
    parserLimits: o.parserLimits,
    logger,
    natMap: o.natMap,
    allowNode: o.allowNode,
  });
  // host/port only name the connection in messages: the connector picks the address.
  const client = new RedisClient({
    ...common,
    ...coherence,
    connect: sentinel.connect,
    host: s.name,
    db: o.db,
  });
  return { client, sentinel };
}
