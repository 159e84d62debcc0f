/**
 * Picks the {@linkcode FileStore} of the running runtime, once, at import.
 *
 * @module
 */
import type { FileStore } from "../src/file_store.ts";
import { bunFileStore } from "./file_store_bun.ts";
import { denoFileStore } from "./file_store_deno.ts";
import { nodeFileStore } from "./file_store_node.ts";
import { runtimeName } from "./mod.ts";

export { bunFileStore, denoFileStore, nodeFileStore };

/**
 * The running runtime's own file store: {@linkcode denoFileStore},
 * {@linkcode bunFileStore} or {@linkcode nodeFileStore}.
 *
 * @example Picking the file store
 * ```ts
 * import { defaultFileStore } from "./files.ts";
 * console.assert(typeof defaultFileStore.writeAtomic === "function");
 * ```
 */
export const defaultFileStore: FileStore = runtimeName === "deno"
  ? denoFileStore
  : runtimeName === "bun"
  ? bunFileStore
  : nodeFileStore;
