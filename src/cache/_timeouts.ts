/**
 * Loader timeouts and cancellation. Each load gets a {@linkcode LoaderContext}
 * whose `signal` is created only when the loader reads it (a loader that
 * takes no argument costs no `AbortController`). The signal aborts at the
 * hard timeout and when the cache closes. Timers go through the cache's
 * clock (`scheduleOn`), so a `FakeClock` drives them in tests, and every
 * timer is cleared when its load settles.
 *
 * Every wait has the caller's bound: besides the load's own timer
 * (`withHardTimeout`, from the loader call), a caller that waits for work
 * someone else started (a load in flight it joined: `boundWait`; a batch:
 * `_batcher.ts`; a lease holder's value: `_lease.ts`) stops waiting at its
 * own `hardTimeout`, and the shared work goes on for the others.
 *
 * @module
 */
import { LoaderTimeoutError } from "../errors.ts";
import { type Clock, scheduleOn } from "../time.ts";
import type { Events } from "./_events.ts";
import type { Counters } from "./_metrics.ts";
import type { ServePlan } from "./_serve.ts";

/** What a loader is called with. */
export interface LoaderContext {
  /** Aborts when the load passes `hardTimeout` and when the cache closes. */
  readonly signal: AbortSignal;
}

/** One load's context; tracked by {@linkcode Cancellations} once its signal exists. */
class Context implements LoaderContext {
  #controller: AbortController | undefined;
  readonly #owner: Cancellations;

  constructor(owner: Cancellations) {
    this.#owner = owner;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#owner.closed) this.#controller.abort(this.#owner.reason);
      else this.#owner.live.add(this);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#controller?.abort(reason);
    this.#owner.live.delete(this);
  }

  done(): void {
    if (this.#controller !== undefined) this.#owner.live.delete(this);
  }
}

/** The contexts of one cache's loads in progress (those whose signal was read). */
export class Cancellations {
  readonly live = new Set<Context>();
  closed = false;
  reason: unknown;

  /** A context for a new load. */
  context(): Context {
    return new Context(this);
  }

  /** Aborts every load's signal with `reason`, and any signal read from now on. */
  abortAll(reason: unknown): void {
    this.closed = true;
    this.reason = reason;
    for (const context of [...this.live]) context.abort(reason);
  }
}

/** A load's context, as the cache handles it. */
export type LoadContext = ReturnType<Cancellations["context"]>;

/**
 * `result` bounded by `hardMs`: past it, `context`'s signal aborts and the
 * returned promise rejects with a `LoaderTimeoutError` (`onTimeout` runs
 * first). A result that settles later is dropped.
 */
export function withHardTimeout<T>(
  result: Promise<T>,
  hardMs: number,
  clock: Clock,
  key: string,
  context: LoadContext,
  onTimeout: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const cancel = scheduleOn(clock, () => {
      if (settled) return;
      settled = true;
      const error = new LoaderTimeoutError(key, hardMs);
      onTimeout();
      context.abort(error);
      reject(error);
    }, hardMs);
    result.then(
      (value) => {
        if (settled) return;
        settled = true;
        cancel();
        resolve(value);
      },
      (error) => {
        if (settled) return;
        settled = true;
        cancel();
        reject(error);
      },
    );
  });
}

/**
 * `promise`, as one caller waits for it: past `hardMs` (0: no bound) this
 * caller's promise rejects with a `LoaderTimeoutError` for `key`, and
 * `promise` goes on for the others. Not counted as a timeout: the load
 * itself was not abandoned (its own timer counts that).
 */
export function boundWait<T>(
  promise: Promise<T>,
  hardMs: number,
  clock: Clock,
  key: string,
): Promise<T> {
  if (!(hardMs > 0)) return promise;
  return new Promise<T>((resolve, reject) => {
    const cancel = scheduleOn(clock, () => reject(new LoaderTimeoutError(key, hardMs)), hardMs);
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error) => {
        cancel();
        reject(error);
      },
    );
  });
}

/**
 * Runs `call(context)` (a batch loader) bounded: past `hardMs` (0: none)
 * `timedOut()` makes the error, `context`'s signal aborts with it and the
 * returned promise rejects with it; when the signal aborts for another
 * reason (the cache closed) it rejects with that reason, whether or not
 * the loader honours its signal. A result returned synchronously is used
 * as is. A result that settles later is dropped. `context` is done when
 * this settles.
 */
export function boundLoad(
  call: (context: LoadContext) => unknown,
  context: LoadContext,
  hardMs: number,
  clock: Clock,
  timedOut: () => unknown,
): unknown {
  let result: unknown;
  try {
    result = call(context);
  } catch (error) {
    context.done();
    throw error;
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then !== "function") {
    context.done();
    return result;
  }
  const signal = context.signal;
  return new Promise((resolve, reject) => {
    let settled = false;
    let cancel = () => {};
    const settle = () => {
      settled = true;
      cancel();
      signal.removeEventListener("abort", onAbort);
      context.done();
    };
    const onAbort = () => {
      if (settled) return;
      settle();
      reject(signal.reason);
    };
    // Handled even when dropped: a late rejection is never unhandled.
    (result as PromiseLike<unknown>).then(
      (value) => {
        if (settled) return;
        settle();
        resolve(value);
      },
      (error) => {
        if (settled) return;
        settle();
        reject(error);
      },
    );
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort);
    if (hardMs > 0) cancel = scheduleOn(clock, () => context.abort(timedOut()), hardMs);
  });
}

/** Counts and emits a hard timeout of `key` (a load or a wait abandoned at `hardTimeout`). */
export function reportHardTimeout(
  counters: Counters,
  events: Events,
  key: string,
  timeoutMs: number,
): void {
  counters.timeouts++;
  if (events.lists.timeout !== undefined) {
    events.emit("timeout", { key, kind: "hard", timeoutMs });
  }
}

/**
 * `plan` with its `hardTimeout` cut to `leftMs` (what a caller's bound has
 * left after a wait), so the load that follows ends within the caller's bound.
 */
export function hardLeft(plan: ServePlan | undefined, leftMs: number): ServePlan | undefined {
  if (plan === undefined || !(plan.hard > 0) || leftMs >= plan.hard) return plan;
  return { ...plan, hard: Math.max(1, Math.ceil(leftMs)) };
}

/** What `raceSoft` resolves to when the soft timeout passes first. */
export const SOFT_TIMEOUT: unique symbol = Symbol("softTimeout");

/**
 * `promise`, or `SOFT_TIMEOUT` if `softMs` passes first. The timer is
 * cleared when `promise` settles; a rejection passes through.
 */
export function raceSoft<T>(
  promise: Promise<T>,
  softMs: number,
  clock: Clock,
): Promise<T | typeof SOFT_TIMEOUT> {
  return new Promise((resolve, reject) => {
    const cancel = scheduleOn(clock, () => resolve(SOFT_TIMEOUT), softMs);
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error) => {
        cancel();
        reject(error);
      },
    );
  });
}
