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
 * Nested calls merge: the inner fields win, the outer ones stay.
 *
 * @param context `sessionId`, `userId`, and any custom fields.
 * @param fn The code to run (an agent turn, a request handler).
 * @returns What `fn` returns.
 * @throws {InvalidOptionError} When `sessionId` or `userId` is not a non-empty string.
 *
 * @example
 * ```ts
 * import { getAgentContext, withAgentContext } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * await withAgentContext({ userId: "u1" }, async () => {
 *   await new Promise((r) => setTimeout(r, 1));
 *   await withAgentContext({ sessionId: "s1" }, () => {
 *     assertEquals(getAgentContext(), { userId: "u1", sessionId: "s1" });
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
  const outer = storage.getStore();
  const merged = Object.freeze(outer === undefined ? { ...context } : { ...outer, ...context });
  return storage.run(merged, fn);
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
