/**
 * The one wrapper factory behind `AsyncLRU`, `AsyncTTL` and `AgentCache`: a
 * function that wraps a function, and is also a standard (TC39) method
 * decorator.
 *
 * For a method, the declaring class is known only once an instance exists
 * (or, for a static method, once the class is defined): the first
 * initializer names the method `Class.method` (the same in every process)
 * and hands that to `wrap`'s `bind`. Each instance then gets its own bound
 * copy (so `obj.method.refresh(id)` runs with `this === obj`), unless a
 * subclass overrides the method: an override always wins.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";

/** A function as the memoizers see it. */
// deno-lint-ignore no-explicit-any
export type Fn = (this: any, ...args: any[]) => any;

/** Where a wrapped function was declared. */
export interface Site {
  /** The function's or method's own name (`""` for an anonymous function). */
  name: string;
  /** Whether it is a class method (named `Class.method` once the class is known). */
  method: boolean;
}

/** What `wrap` returns: the wrapper (with its controls as own properties), and how to name it later. */
export interface Wrapped {
  fn: Fn;
  /** For a method: called once with `Class.method` (may throw `InvalidOptionError`). */
  bind?: (qualifiedName: string) => void;
}

/**
 * Makes a wrapper / method decorator.
 *
 * @param what The API's name, for errors (e.g. `"AsyncLRU"`).
 * @param wrap Wraps one function.
 */
export function memoizer(what: string, wrap: (fn: Fn, site: Site) => Wrapped): unknown {
  return function decorate(target: Fn, context?: ClassMethodDecoratorContext): unknown {
    if (typeof target !== "function") {
      throw new InvalidOptionError(what, "target", "a function or a class method", target);
    }
    if (context === undefined) return wrap(target, { name: target.name, method: false }).fn;
    if (context?.kind !== "method") {
      throw new TypeError(
        `${what} decorates functions and class methods: received a ${context?.kind}`,
      );
    }
    const name = String(context.name);
    const { fn: wrapped, bind } = wrap(target, { name, method: true });
    let bound = bind === undefined;
    const key = context.name;
    const perInstance = !context.private && !context.static;
    context.addInitializer(function (this: unknown) {
      if (!bound) {
        bind!(`${declaringClass(this, key, wrapped, context.static)}.${name}`);
        bound = true;
      }
      // An override in a subclass is what `this[key]` finds: leave it alone.
      if (perInstance && (this as Record<PropertyKey, unknown>)[key] === wrapped) {
        Object.defineProperty(this, key, {
          value: bindTo(this, wrapped),
          writable: true,
          configurable: true,
        });
      }
    });
    return wrapped;
  };
}

/** The name of the class that declares `wrapped` as `key` (for `this`, an instance or a class). */
function declaringClass(self: unknown, key: PropertyKey, wrapped: Fn, isStatic: boolean): string {
  if (isStatic) return (self as Fn).name;
  for (let p = Object.getPrototypeOf(self); p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, key) && p[key] === wrapped) return p.constructor?.name ?? "";
  }
  return (self as { constructor?: Fn }).constructor?.name ?? "";
}

/** A copy of `wrapped` and its controls with `this` fixed to `instance`. */
function bindTo(instance: unknown, wrapped: Fn): Fn {
  const bound = (...args: unknown[]) => wrapped.apply(instance, args);
  for (const [prop, desc] of Object.entries(Object.getOwnPropertyDescriptors(wrapped))) {
    if (prop === "length" || prop === "prototype") continue;
    const value = desc.value;
    Object.defineProperty(bound, prop, {
      value: typeof value === "function"
        ? (...args: unknown[]) => value.apply(instance, args)
        : value,
    });
  }
  return bound;
}
