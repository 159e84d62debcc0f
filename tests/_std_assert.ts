/**
 * The subset of JSR's `@std/assert` that the JSDoc examples use, with the same
 * names and signatures. JSR cannot be reached here, so `deno.json` maps
 * `@std/assert` to this file for `deno test --doc`; readers of the docs get
 * examples that run unchanged against the real `@std/assert`.
 */
import nodeAssert from "node:assert/strict";

/** Asserts that `condition` is truthy. */
export function assert(condition: unknown, msg?: string): asserts condition {
  nodeAssert.ok(condition, msg);
}

/** Asserts deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

function check(error: unknown, ErrorClass?: ErrorClass, msgIncludes?: string): void {
  if (ErrorClass) {
    nodeAssert.ok(error instanceof ErrorClass, `expected ${ErrorClass.name}, got ${error}`);
  }
  if (msgIncludes !== undefined) {
    nodeAssert.ok(
      String((error as Error)?.message).includes(msgIncludes),
      `message lacks "${msgIncludes}"`,
    );
  }
}

/** Asserts that `fn` throws (an instance of `ErrorClass`, whose message includes `msgIncludes`). */
export function assertThrows(
  fn: () => unknown,
  ErrorClass?: ErrorClass,
  msgIncludes?: string,
): void {
  try {
    fn();
  } catch (error) {
    check(error, ErrorClass, msgIncludes);
    return;
  }
  nodeAssert.fail("expected the function to throw");
}

/** Asserts that the promise `fn` returns rejects (as {@linkcode assertThrows}). */
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass,
  msgIncludes?: string,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    check(error, ErrorClass, msgIncludes);
    return;
  }
  nodeAssert.fail("expected the promise to reject");
}
