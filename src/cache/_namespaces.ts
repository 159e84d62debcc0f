/**
 * The L2 namespaces claimed in this process, per backend: two memoized
 * functions (or agent tools) must never share one by accident, or one would
 * read the other's entries. A claim is released when its cache closes.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";

const claims = new WeakMap<object, Map<string, object>>();

/**
 * The L2 namespace of AgentCache's tools. Reserved: only a backend marked with
 * {@linkcode allowReservedNamespace} (AgentCache's own L2 view) may use it or a
 * namespace under it (`agent:...`, which would reach its keys), so no memoized
 * function or cache can read, plant or clear another user's tool results.
 */
export const AGENT_NAMESPACE = "agent";

const reservedUsers = new WeakSet<object>();

/** Lets `backend` (AgentCache's L2 view, never a user's backend) use the reserved namespace. */
export function allowReservedNamespace(backend: object): void {
  reservedUsers.add(backend);
}

/**
 * Refuses a reserved namespace (`agent`, `agent:...`) for any backend not
 * allowed by {@linkcode allowReservedNamespace}.
 *
 * @throws {InvalidOptionError} Naming `option` (`name` for decorators, `namespace` for caches).
 */
export function checkReservedNamespace(
  what: string,
  option: string,
  backend: object,
  namespace: string,
): void {
  if (
    (namespace === AGENT_NAMESPACE || namespace.startsWith(AGENT_NAMESPACE + ":")) &&
    !reservedUsers.has(backend)
  ) {
    throw new InvalidOptionError(
      what,
      option,
      `not the reserved namespace ${
        JSON.stringify(AGENT_NAMESPACE)
      } (or one under it): AgentCache stores every tool result there; give this one a distinct name`,
      namespace,
    );
  }
}

/**
 * Claims `namespace` on `backend` for `owner`.
 *
 * @throws {InvalidOptionError} When another owner holds it, or it is reserved
 * for AgentCache: asks for a distinct `name`.
 */
export function claimNamespace(
  what: string,
  backend: object,
  namespace: string,
  owner: object,
): void {
  checkReservedNamespace(what, "name", backend, namespace);
  let taken = claims.get(backend);
  if (taken === undefined) claims.set(backend, taken = new Map());
  const holder = taken.get(namespace);
  if (holder !== undefined && holder !== owner) {
    throw new InvalidOptionError(
      what,
      "name",
      `unique per remoteCache: the namespace ${
        JSON.stringify(namespace)
      } is already used by another cached function on this backend; give this one a distinct name`,
      namespace,
    );
  }
  taken.set(namespace, owner);
}

/** Releases `owner`'s claim on `namespace` (no-op when it holds none). */
export function releaseNamespace(backend: object, namespace: string, owner: object): void {
  const taken = claims.get(backend);
  if (taken?.get(namespace) === owner) taken.delete(namespace);
}
