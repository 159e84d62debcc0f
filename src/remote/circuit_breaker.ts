/**
 * A circuit breaker for the remote tier. After `threshold` consecutive
 * failures it opens: calls skip the remote tier (costing nothing) for a
 * cool-down, then one probe is let through (half-open). A success closes it;
 * a failure reopens it with a doubled cool-down, up to `maxCooldownMs`.
 *
 * @module
 */
import type { Clock } from "../time.ts";

/** The breaker's state, as reported in metrics. */
export type BreakerState = "closed" | "open" | "half-open";

/** Tuning for {@linkcode CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  threshold?: number;
  /** First cool-down in ms. Default 1000. */
  cooldownMs?: number;
  /** Longest cool-down in ms. Default 5000. */
  maxCooldownMs?: number;
}

/** Tracks remote failures; see the module doc. */
export class CircuitBreaker {
  readonly #clock: Clock;
  readonly #threshold: number;
  readonly #baseCooldown: number;
  readonly #maxCooldown: number;
  #failures = 0;
  #cooldown: number;
  #openUntil = 0;
  #state: BreakerState = "closed";
  #probing = false;

  /**
   * @param clock Time source.
   * @param options Thresholds.
   */
  constructor(clock: Clock, options: CircuitBreakerOptions = {}) {
    this.#clock = clock;
    this.#threshold = options.threshold ?? 3;
    this.#baseCooldown = options.cooldownMs ?? 1_000;
    this.#maxCooldown = options.maxCooldownMs ?? 5_000;
    this.#cooldown = this.#baseCooldown;
  }

  /** The current state. */
  get state(): BreakerState {
    if (this.#state === "open" && this.#clock.now() >= this.#openUntil) return "half-open";
    return this.#state;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Whether a call may go to the remote tier now. In half-open state only one
   * probe at a time is allowed; its outcome must be reported.
   */
  allow(): boolean {
    if (this.#state === "closed") return true;
    if (this.#probing || this.#clock.now() < this.#openUntil) return false;
    this.#probing = true;
    this.#state = "half-open";
    return true;
  }

  /** Reports a successful call; returns `true` when this closed an open breaker. */
  success(): boolean {
    const wasDown = this.#state !== "closed" || this.#failures > 0;
    this.#failures = 0;
    this.#probing = false;
    this.#state = "closed";
    this.#cooldown = this.#baseCooldown;
    return wasDown;
  }

  /**
   * Reports that an admitted call never reached the remote tier (it threw
   * before sending, e.g. on a value it cannot encode): a probe is given back,
   * so the next call may probe again. A no-op when not probing.
   */
  release(): void {
    this.#probing = false;
  }

  /** Reports a failed call; returns `true` when this is the first failure of an outage. */
  failure(): boolean {
    const first = this.#failures === 0 && this.#state === "closed";
    this.#failures++;
    if (this.#state === "half-open" || this.#probing) {
      this.#probing = false;
      this.#cooldown = Math.min(this.#cooldown * 2, this.#maxCooldown);
      this.#open();
    } else if (this.#state === "closed" && this.#failures >= this.#threshold) {
      this.#open();
    }
    return first;
  }

  #open(): void {
    this.#state = "open";
    this.#openUntil = this.#clock.now() + this.#cooldown;
  }
}
