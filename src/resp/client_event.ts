/**
 * The lifecycle of a `RedisClient`: its status, and the events it dispatches.
 *
 * @module
 */

/** Where the client is in its lifecycle. */
export type ClientStatus = "idle" | "connecting" | "ready" | "reconnecting" | "closed";

/**
 * A lifecycle event of {@linkcode RedisClient}: `connect` (transport open),
 * `ready` (handshake done), `reconnecting` (a retry is scheduled: `delayMs`,
 * `attempt`), `error` (a connection failed: `error`), `close` (closed by the user).
 */
export class RedisClientEvent extends Event {
  /** The failure, for `error` and `reconnecting` events. */
  readonly error: Error | undefined;
  /** The delay before the next attempt, for `reconnecting`. */
  readonly delayMs: number | undefined;
  /** The retry number (0 for the first), for `reconnecting`. */
  readonly attempt: number | undefined;
  /**
   * Creates an event.
   *
   * @param type The event type.
   * @param init Details.
   */
  constructor(
    type: "connect" | "ready" | "reconnecting" | "error" | "close",
    init: { error?: Error; delayMs?: number; attempt?: number } = {},
  ) {
    super(type);
    this.error = init.error;
    this.delayMs = init.delayMs;
    this.attempt = init.attempt;
  }
}
