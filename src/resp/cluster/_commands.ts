/**
 * How the cluster client routes a command: by its first key (most commands),
 * split by slot (multi-key reads and deletes), to any primary (keyless
 * commands), or not at all (transactions, which one node cannot run for keys
 * spread over several).
 *
 * @module
 */
import type { CommandArg } from "../encoder.ts";

/** Routing kinds. */
export const Route = {
  /** The key is `args[1]`. */
  FirstKey: 0,
  /** No key: any primary answers. */
  Keyless: 1,
  /** `MGET k1 k2 ...`: split by slot, replies reassembled in key order. */
  MultiGet: 2,
  /** `DEL`/`UNLINK`/`EXISTS`/`TOUCH k1 k2 ...`: split by slot, integer replies summed. */
  MultiCount: 3,
  /** `EVAL script numkeys k1 ...`: the first key is `args[3]` when `numkeys` > 0. */
  Script: 4,
  /** Refused: a transaction cannot span the connections of several nodes. */
  Refused: 5,
} as const;
/** A routing kind. */
export type Route = typeof Route[keyof typeof Route];

const decoder = new TextDecoder();
const ROUTES = new Map<string, Route>();
for (const name of ["MGET"]) ROUTES.set(name, Route.MultiGet);
for (const name of ["DEL", "UNLINK", "EXISTS", "TOUCH"]) ROUTES.set(name, Route.MultiCount);
for (const name of ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"]) {
  ROUTES.set(name, Route.Script);
}
for (const name of ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"]) {
  ROUTES.set(name, Route.Refused);
}
for (
  const name of [
    "PING",
    "ECHO",
    "INFO",
    "TIME",
    "DBSIZE",
    "SCAN",
    "KEYS",
    "RANDOMKEY",
    "CLUSTER",
    "ROLE",
    "HELLO",
    "AUTH",
    "CLIENT",
    "COMMAND",
    "CONFIG",
    "SCRIPT",
    "FUNCTION",
    "PUBLISH",
    "SPUBLISH",
    "FLUSHDB",
    "FLUSHALL",
    "WAIT",
    "LASTSAVE",
    "MEMORY",
    "LATENCY",
    "SLOWLOG",
    "ACL",
  ]
) ROUTES.set(name, Route.Keyless);

/**
 * The routing kind of a command name (any case; upper case is the fast path).
 *
 * @param name `args[0]`.
 * @returns How to route it.
 */
export function routeOf(name: CommandArg | undefined): Route {
  if (typeof name !== "string") {
    if (!(name instanceof Uint8Array)) return Route.Keyless;
    name = decoder.decode(name);
  }
  return ROUTES.get(name) ?? ROUTES.get(name.toUpperCase()) ?? Route.FirstKey;
}
