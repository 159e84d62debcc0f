/**
 * What the client does with an address a server announces (a cluster node in `CLUSTER SHARDS`
 * or a `MOVED`/`ASK` redirect, a primary named by a sentinel): map it (`natMap`, for NAT and
 * port mapping), then let `allowNode` refuse it. A refused address is never dialled, so the
 * credentials never reach it.
 *
 * @module
 */
import type { NodeAddress } from "./cluster/topology.ts";
import { InvalidOptionError } from "../errors.ts";

/**
 * Maps an announced address to the one to connect to: an object keyed by `"host:port"` (an
 * address not in it is used as announced), or a function (returning `undefined` keeps it).
 */
export type NatMap =
  | Readonly<Record<string, NodeAddress>>
  | ((announced: NodeAddress) => NodeAddress | undefined);

/** The options that govern announced addresses. */
export interface AnnouncedAddressOptions {
  /** Maps announced addresses to reachable ones (see {@linkcode NatMap}). Default: none. */
  natMap?: NatMap;
  /**
   * Decides whether an address (after `natMap`) may be connected to, and so receive the
   * credentials. Default: every address is allowed (as in ioredis).
   */
  allowNode?: (address: NodeAddress) => boolean;
}

/** The announced-address policy, resolved. */
export interface AddressPolicy {
  /** The address to dial for `announced`, or `undefined` when it is refused. */
  (announced: NodeAddress): NodeAddress | undefined;
}

/**
 * Validates the options and builds the policy.
 *
 * @param what The component, for error messages.
 * @param o The options.
 * @returns The policy.
 * @throws {InvalidOptionError} For a bad `natMap` or `allowNode`.
 */
export function addressPolicy(what: string, o: AnnouncedAddressOptions): AddressPolicy {
  const { natMap, allowNode } = o;
  if (allowNode !== undefined && typeof allowNode !== "function") {
    throw new InvalidOptionError(what, "allowNode", "a function (address) => boolean", allowNode);
  }
  let map: (a: NodeAddress) => NodeAddress | undefined;
  if (natMap === undefined) map = () => undefined;
  else if (typeof natMap === "function") map = natMap;
  else if (natMap !== null && typeof natMap === "object") {
    const table = new Map<string, NodeAddress>();
    for (const [from, to] of Object.entries(natMap)) {
      if (!isAddress(to)) {
        throw new InvalidOptionError(what, `natMap["${from}"]`, "{ host, port }", to);
      }
      table.set(from, { host: to.host, port: to.port });
    }
    map = (a) => table.get(`${a.host}:${a.port}`);
  } else {
    throw new InvalidOptionError(
      what,
      "natMap",
      'an object { "host:port": { host, port } } or a function',
      natMap,
    );
  }
  return (announced) => {
    const mapped = map(announced);
    const address = mapped === undefined ? announced : mapped;
    if (!isAddress(address)) return undefined;
    return allowNode === undefined || allowNode(address) === true ? address : undefined;
  };
}

function isAddress(a: unknown): a is NodeAddress {
  const { host, port } = (a ?? {}) as Partial<NodeAddress>;
  return typeof host === "string" && host !== "" && Number.isInteger(port) && port! >= 1 &&
    port! <= 65535;
}
