/**
 * The L1 store a cache gets from its options: `policy` picks the class,
 * `maxBytes` the byte budget, and `sizeOf` (default: the codec's encoded
 * length) the size of each entry when there is a budget.
 *
 * Internal.
 *
 * @module
 */
import { encodeValue } from "../codec/encode.ts";
import type { Clock } from "../time.ts";
import type { StoreOptions } from "./_options.ts";
import { LruStore } from "./lru_store.ts";
import { TinyLfuStore } from "./tinylfu_store.ts";

/** Either L1 store: they share one surface. */
export type L1Store<V> = LruStore<V> | TinyLfuStore<V>;

/** A store for `maxsize` entries under `options`. */
export function createStore<V>(maxsize: number, clock: Clock, options: StoreOptions): L1Store<V> {
  return options.policy === "tinylfu"
    ? new TinyLfuStore<V>(maxsize, clock, options.maxBytes)
    : new LruStore<V>(maxsize, clock, options.maxBytes);
}

/**
 * The size of `value` under `key` for the byte budget: `sizeOf`'s answer, or
 * the length of the value's encoding. `Infinity` (so not kept in L1) when
 * the answer is not a number >= 0 or the codec cannot encode the value.
 */
export function sizeFor(
  sizeOf: StoreOptions["sizeOf"],
  value: unknown,
  key: string,
): number {
  try {
    const size = sizeOf === undefined ? encodeValue(value).byteLength : sizeOf(value, key);
    return typeof size === "number" && size >= 0 ? size : Infinity;
  } catch {
    return Infinity;
  }
}
