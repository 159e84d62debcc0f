/**
 * Async-context storage (a value that follows a call across awaits), from
 * `node:async_hooks`' `AsyncLocalStorage`, which Deno, Bun and Node all provide.
 * Kept here so that `src/` never imports a runtime module directly.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** A value bound to an async call tree. */
export interface ContextStorage<T> {
  /** Runs `fn` with `value` as the current value, for `fn` and everything it awaits. */
  run<R>(value: T, fn: () => R): R;
  /** The current value, or `undefined` outside any `run`. */
  getStore(): T | undefined;
}

/**
 * Creates a context storage.
 *
 * @returns A new, empty storage.
 *
 * @example A value that survives an await
 * ```ts
 * import { createContextStorage } from "./context.ts";
 *
 * const storage = createContextStorage<string>();
 * const seen = await storage.run("a", async () => {
 *   await new Promise((r) => setTimeout(r, 1));
 *   return storage.getStore();
 * });
 * console.assert(seen === "a" && storage.getStore() === undefined);
 * ```
 */
export function createContextStorage<T>(): ContextStorage<T> {
  return new AsyncLocalStorage<T>();
}
