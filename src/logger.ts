import { InvalidOptionError } from "./errors.ts";

/**
 * The logging seam: anything with `warn` and `error` (and optionally `debug`),
 * so `console`, pino and winston loggers all fit.
 *
 * @example
 * ```ts
 * import type { Logger } from "@async-cache/cache";
 * const quiet: Logger = { warn() {}, error() {} };
 * quiet.warn("nothing to see");
 * ```
 */
export interface Logger {
  /** Something degraded but the call still succeeded (Redis down, a corrupt entry). */
  warn(message: string, ...details: unknown[]): void;
  /** Something failed that a human should look at. */
  error(message: string, ...details: unknown[]): void;
  /** Verbose lifecycle events (connect, reconnect). */
  debug?(message: string, ...details: unknown[]): void;
}

/**
 * The `logger` option after its default (`console`) and validation.
 *
 * @throws {InvalidOptionError} When it lacks `warn()` or `error()`.
 */
export function resolveLogger(what: string, logger: Logger | undefined): Logger {
  const resolved = logger ?? console;
  if (typeof resolved?.warn !== "function" || typeof resolved.error !== "function") {
    throw new InvalidOptionError(what, "logger", "an object with warn() and error()", resolved);
  }
  return resolved;
}

/**
 * A `logger` option that may be left out (a backend then reports through the
 * cache it serves), validated.
 *
 * @throws {InvalidOptionError} When it is given but lacks `warn()` or `error()`.
 */
export function checkLogger(what: string, logger: Logger | undefined): Logger | undefined {
  return logger === undefined ? undefined : resolveLogger(what, logger);
}
