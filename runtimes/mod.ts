/**
 * Picks the {@linkcode Connect} of the running runtime, once, at import.
 *
 * @module
 */

import type { Connect } from "../src/transport.ts";
import { connectBun } from "./bun.ts";
import { connectDeno } from "./deno.ts";
import { connectNode } from "./node.ts";

export { connectBun, connectDeno, connectNode };

/** The JavaScript runtimes this package runs on. */
export type RuntimeName = "deno" | "bun" | "node";

function detect(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/**
 * The runtime this code runs on, detected once: `"deno"` when `globalThis.Deno`
 * exists, `"bun"` when `globalThis.Bun` does, else `"node"`.
 *
 * @example Naming the runtime
 * ```ts
 * import { runtimeName } from "./mod.ts";
 * console.assert(["deno", "bun", "node"].includes(runtimeName));
 * ```
 */
export const runtimeName: RuntimeName = detect();

/**
 * The running runtime's own transport: {@linkcode connectDeno},
 * {@linkcode connectBun} or {@linkcode connectNode}.
 *
 * @example Picking the transport
 * ```ts
 * import { defaultConnect } from "./mod.ts";
 * console.assert(typeof defaultConnect === "function");
 * ```
 */
export const defaultConnect: Connect = runtimeName === "deno"
  ? connectDeno
  : runtimeName === "bun"
  ? connectBun
  : connectNode;
