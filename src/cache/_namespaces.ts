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
 * Claims `namespace` on `backend` for `owner`.
 *
 * @throws {InvalidOptionError} When another owner holds it: asks for a distinct `name`.
 */
export function claimNamespace(
  what: string,
  backend: object,
  namespace: string,
  owner: object,
): void {
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
