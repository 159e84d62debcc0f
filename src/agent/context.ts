/**
 * The agent context: who is calling (session, user), carried across awaits
 * so a tool deep in an agent loop knows its scope without passing it along.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";
import { createContextStorage } from "../../runtimes/context.ts";

/** Who a tool call is made for. Extra fields are free for custom scope functions. */
export interface AgentContext {
  /** The conversation (or agent run) id: the value of the `"session"` scope. */
  sessionId?: string;
  /** The end user's id: the value of the `"user"` scope. */
  userId?: string;
  /** Anything else a custom `scope` function reads (e.g. a tenant id). */
  [key: string]: unknown;
}

const storage = createContextStorage<Readonly<AgentContext>>();

/**
 * Runs `fn` with an agent context: `"session"` / `"user"` scoped tools called
 * inside it (across awaits, timers and promise chains) use these ids.
 *
 * Nested calls: `sessionId` and `userId` are one identity, inherited only as a
 * pair. An inner context that names either of them (even as `undefined`)
 * replaces both, so a conversation started inside another user's context
 * never runs as that user: a `"user"` tool there throws `AgentContextError`
 * instead of serving the outer user's entry. An inner context that names
 * neither inherits both. Custom fields always merge (the inner ones win).
 * To keep the outer user on purpose, say so:
 * `withAgentContext({ ...getAgentContext(), sessionId }, fn)`.
 *
 * @param context `sessionId`, `userId`, and any custom fields.
 * @param fn The code to run (an agent turn, a request handler).
 * @returns What `fn` returns.
 * @throws {InvalidOptionError} When `sessionId` or `userId` is not a non-empty string.
 *
 * @example Nested contexts: ids as a pair, custom fields merged
 * ```ts
 * import { getAgentContext, withAgentContext } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * await withAgentContext({ userId: "u1", tenant: "acme" }, async () => {
 *   await new Promise((r) => setTimeout(r, 1));
 *   await withAgentContext({ sessionId: "s1" }, () => {
 *     // Not u1's session: the outer userId is not inherited.
 *     assertEquals(getAgentContext(), { sessionId: "s1", tenant: "acme" });
 *   });
 *   await withAgentContext({ ...getAgentContext(), sessionId: "s2" }, () => {
 *     assertEquals(getAgentContext(), { userId: "u1", tenant: "acme", sessionId: "s2" });
 *   });
 *   await withAgentContext({ traceId: "t1" }, () => {
 *     assertEquals(getAgentContext(), { userId: "u1", tenant: "acme", traceId: "t1" });
 *   });
 * });
 * assertEquals(getAgentContext(), undefined);
 * ```
 */
export function withAgentContext<R>(context: AgentContext, fn: () => R): R {
  if (context === null || typeof context !== "object") {
    throw new InvalidOptionError("withAgentContext", "context", "an object", context);
  }
  for (const field of ["sessionId", "userId"] as const) {
    const id = context[field];
    if (id !== undefined && (typeof id !== "string" || id === "")) {
      throw new InvalidOptionError("withAgentContext", field, "a non-empty string", id);
    }
  }
  if (typeof fn !== "function") {
    throw new InvalidOptionError("withAgentContext", "fn", "a function", fn);
  }
  return storage.run(nest(storage.getStore(), context), fn);
}

/** The context inside `inner`, nested in `outer`: ids as a pair, custom fields merged. */
function nest(
  outer: Readonly<AgentContext> | undefined,
  inner: AgentContext,
): Readonly<AgentContext> {
  const merged: AgentContext = { ...outer, ...inner };
  // Own keys, not values: `{ sessionId: req.sessionId }` with a missing id
  // must not fall back to the outer session (fail closed).
  if (Object.hasOwn(inner, "sessionId") || Object.hasOwn(inner, "userId")) {
    delete merged.sessionId;
    delete merged.userId;
    if (inner.sessionId !== undefined) merged.sessionId = inner.sessionId;
    if (inner.userId !== undefined) merged.userId = inner.userId;
  }
  return Object.freeze(merged);
}

/**
 * The current agent context, or `undefined` outside `withAgentContext`.
 *
 * @returns A frozen copy of the merged context.
 *
 * @example
 * ```ts
 * import { getAgentContext, withAgentContext } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * withAgentContext({ sessionId: "s1" }, () => assertEquals(getAgentContext()?.sessionId, "s1"));
 * ```
 */
export function getAgentContext(): Readonly<AgentContext> | undefined {
  return storage.getStore();
}
