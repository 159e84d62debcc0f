/**
 * Caching for AI-agent tool calls: a read-only tool is cached per resource
 * and scope (global, per session, per user), a mutating tool invalidates the
 * resources it changes, and each resource reports its hit rate.
 *
 * @example
 * ```ts
 * import { AgentCache, getResourceMetrics, withAgentContext } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * const getOrders = AgentCache({ resource: "orders", scope: "user", ttl: "2m" })(
 *   async function getOrders(limit: number) { return [{ id: 1 }].slice(0, limit); },
 * );
 * await withAgentContext({ userId: "ada" }, async () => {
 *   await getOrders(10);
 *   await getOrders(10);
 * });
 * assertEquals(getResourceMetrics("orders").hits, 1);
 * ```
 *
 * @module
 */
export {
  AgentCache,
  type AgentCacheOptions,
  type AgentScope,
  type AgentTool,
  type AgentToolWrapper,
  getResourceMetrics,
  type InvalidateOptions,
  invalidateResource,
  type Invalidation,
  listResourceMetrics,
  type ResourceMetrics,
} from "./agent_cache.ts";
export { type AgentContext, getAgentContext, withAgentContext } from "./context.ts";
export { AgentContextError } from "../errors.ts";
