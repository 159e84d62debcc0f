/**
 * Loader timeouts and cancellation. Each load gets a {@linkcode LoaderContext}
 * whose `signal` is created only when the loader reads it (a loader that
 * takes no argument costs no `AbortController`). The signal aborts at the
 * hard timeout and when the cache closes. Timers go through the cache's
 * clock (`scheduleOn`), so a `FakeClock` drives them in tests, and every
 * timer is cleared when its load settles.
 *
 * @module
 */
import { LoaderTimeoutError } from "../errors.ts";
import { type Clock, scheduleOn } from "../time.ts";

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

/** Resolves after `ms` on `clock` (for lease polls). */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => scheduleOn(clock, resolve, ms));
}
