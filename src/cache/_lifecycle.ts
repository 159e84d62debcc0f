/**
 * A cache's lifecycle: `open` → `closing` → `closed`, checked on every entry
 * point. `close()` runs its work once; concurrent and later calls get the
 * same promise.
 *
 * @module
 */
import { CacheClosedError } from "../errors.ts";

/** Where a cache is in its life. */
export type LifecycleState = "open" | "closing" | "closed";

/** See the module doc. */
export class Lifecycle {
  state: LifecycleState = "open";
  #closing: Promise<void> | undefined;

  /** Whether new calls are accepted. */
  get open(): boolean {
    return this.state === "open";
  }

  /** @throws {CacheClosedError} Unless open. */
  check(): void {
    if (this.state !== "open") throw new CacheClosedError();
  }

  /** Moves to `closing` at once, runs `work` once, then `closed`. */
  close(work: () => Promise<void>): Promise<void> {
    if (this.#closing === undefined) {
      this.state = "closing";
      this.#closing = work().finally(() => {
        this.state = "closed";
      });
    }
    return this.#closing;
  }
}
