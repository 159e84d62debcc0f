/**
 * DataLoader-style batching: keys requested within `windowMs` with the same
 * `batchLoader` function are collected and loaded by one call (flushed early
 * when `maxSize` distinct keys are waiting). A key requested twice in one
 * window (e.g. again after a `delete` made the first request stale) takes
 * one slot: the loader never sees a key twice. The batch itself is run by
 * the cache (`run`), which looks the keys up in L2 first and loads only the
 * misses; whatever `run` throws or rejects with settles every waiter still
 * waiting, so no caller is ever left hanging.
 *
 * Every wait has the caller's bound: a caller with a `hardTimeout` stops
 * waiting for its key there (a `LoaderTimeoutError`), counted from when it
 * was queued. The batch loader gets `{ signal }` (`callBatchLoader`): it
 * aborts when the longest `hardTimeout` of the batch's callers has passed
 * since the loader was called (never if one of them has none), and when the
 * cache closes; either way the batch's callers stop waiting then, even if
 * the loader ignores its signal, and a later result is dropped.
 *
 * @module
 */
import { LoaderTimeoutError } from "../errors.ts";
import { type Clock, scheduleOn } from "../time.ts";
import type { TtlSpec } from "./_serve.ts";
import { boundLoad, type LoadContext, type LoaderContext } from "./_timeouts.ts";

/** A user-supplied batch loader: the keys, and `{ signal }` as a `loader` gets. */
// deno-lint-ignore no-explicit-any
export type AnyBatchLoader = (keys: any[], context: LoaderContext) => unknown;

/** What the batcher reads of a caller's flight (otherwise opaque here): its serving plan. */
export interface BatchFlight {
  readonly plan?: { readonly hard: number } | undefined;
}

/** One caller waiting for a key of a batch. */
export interface BatchWaiter {
  /** The cache's bookkeeping for this caller's load (its `hardTimeout` bounds the wait). */
  flight: BatchFlight;
  /** TTL for the loaded value, in ms. */
  ttl: TtlSpec;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One distinct key of a batch and everyone waiting for it. */
export interface BatchSlot {
  /** The key as the first caller passed it (what the batchLoader receives). */
  original: string | number;
  /** The normalised string key. */
  key: string;
  /** True when every waiter already missed in L2 (no second lookup needed). */
  looked: boolean;
  waiters: BatchWaiter[];
}

interface Pending {
  slots: Map<string, BatchSlot>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Groups batch gets per loader function; see the module doc. */
export class Batcher {
  readonly #windowMs: number;
  readonly #maxSize: number;
  readonly #run: (loader: AnyBatchLoader, slots: BatchSlot[]) => Promise<void>;
  readonly #pending = new Map<AnyBatchLoader, Pending>();
  readonly #clock: Clock;

  /** `clock` drives the callers' `hardTimeout`s (the window is a real timer). */
  constructor(
    windowMs: number,
    maxSize: number,
    run: (loader: AnyBatchLoader, slots: BatchSlot[]) => Promise<void>,
    clock: Clock,
  ) {
    this.#windowMs = windowMs;
    this.#maxSize = maxSize;
    this.#run = run;
    this.#clock = clock;
  }

  /** Queues a key for `loader`; the returned promise settles with its value. */
  add(
    loader: AnyBatchLoader,
    original: string | number,
    key: string,
    looked: boolean,
    flight: BatchFlight,
    ttl: TtlSpec,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let batch = this.#pending.get(loader);
      if (batch === undefined) {
        batch = { slots: new Map(), timer: undefined };
        this.#pending.set(loader, batch);
        // Not unref'd: a caller is awaiting this batch, and the window is short.
        batch.timer = setTimeout(() => this.#flush(loader), this.#windowMs);
      }
      const waiter: BatchWaiter = { flight, ttl, resolve, reject };
      const hard = flight.plan?.hard ?? 0;
      if (hard > 0) {
        const stop = scheduleOn(this.#clock, () => reject(new LoaderTimeoutError(key, hard)), hard);
        waiter.resolve = (value) => (stop(), resolve(value));
        waiter.reject = (error) => (stop(), reject(error));
      }
      const slot = batch.slots.get(key);
      if (slot !== undefined) {
        slot.waiters.push(waiter);
        slot.looked &&= looked;
        return;
      }
      batch.slots.set(key, { original, key, looked, waiters: [waiter] });
      if (batch.slots.size >= this.#maxSize) this.#flush(loader);
    });
  }

  /** Runs every waiting batch now (used by `close()`). */
  flushAll(): void {
    for (const loader of [...this.#pending.keys()]) this.#flush(loader);
  }

  #flush(loader: AnyBatchLoader): void {
    const batch = this.#pending.get(loader);
    if (batch === undefined) return;
    this.#pending.delete(loader);
    clearTimeout(batch.timer);
    const slots = [...batch.slots.values()];
    let running: Promise<void>;
    try {
      running = this.#run(loader, slots);
    } catch (error) {
      running = Promise.reject(error);
    }
    // Settling a settled promise is a no-op: this reaches only the forgotten.
    running.catch((error) => {
      for (const slot of slots) rejectSlot(slot, error);
    });
  }
}

/** Resolves every waiter of a slot. */
export function resolveSlot(slot: BatchSlot, value: unknown): void {
  for (const waiter of slot.waiters) waiter.resolve(value);
}

/** Rejects every waiter of a slot (a batch's hard timeout: with the slot's own key). */
export function rejectSlot(slot: BatchSlot, error: unknown): void {
  if (batchTimeouts.has(error as object)) {
    error = new LoaderTimeoutError(slot.key, (error as LoaderTimeoutError).timeoutMs);
  }
  for (const waiter of slot.waiters) waiter.reject(error);
}

/** The errors `callBatchLoader` made at a batch's hard timeout (one per batch, not per key). */
const batchTimeouts = new WeakSet<object>();

/**
 * The longest `hardTimeout` of the callers waiting for `slots`, or 0 when
 * one of them has none (the batch then runs until it settles or the cache closes).
 */
function batchHardMs(slots: readonly BatchSlot[]): number {
  let hard = 0;
  for (const slot of slots) {
    for (const waiter of slot.waiters) {
      const ms = waiter.flight.plan?.hard ?? 0;
      if (!(ms > 0)) return 0;
      if (ms > hard) hard = ms;
    }
  }
  return hard;
}

/**
 * Calls `loader` for `slots` with `{ signal }` (`context`'s), bounded as
 * the module doc says; at the hard timeout `onTimeout` runs once per key.
 * Resolves (or returns, when the loader answered synchronously) its result.
 */
export function callBatchLoader(
  loader: AnyBatchLoader,
  slots: readonly BatchSlot[],
  context: LoadContext,
  clock: Clock,
  onTimeout: (key: string, timeoutMs: number) => void,
): unknown {
  const hard = batchHardMs(slots);
  return boundLoad(
    (ctx) => loader(slots.map((slot) => slot.original), ctx),
    context,
    hard,
    clock,
    () => {
      for (const slot of slots) onTimeout(slot.key, hard);
      const error = new LoaderTimeoutError(slots[0]?.key ?? "", hard);
      batchTimeouts.add(error);
      return error;
    },
  );
}

/**
 * Reads a batchLoader's result for one key: a `Map` (by original or string
 * key), a plain object (by string key), or an array in key order.
 */
export function pickResult(result: unknown, slot: BatchSlot, index: number): unknown {
  if (result instanceof Map) {
    return result.has(slot.original) ? result.get(slot.original) : result.get(slot.key);
  }
  if (Array.isArray(result)) return result[index];
  return Object.hasOwn(result as object, slot.key)
    ? (result as Record<string, unknown>)[slot.key]
    : undefined;
}
