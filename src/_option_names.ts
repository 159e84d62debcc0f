/**
 * Unknown option names: every options object the library takes is checked against the names
 * it knows, so a typo (`defaultTTL`, `hostname`) fails where it is written instead of being
 * ignored, with the closest known name in the message.
 *
 * Hot path: {@linkcode checkOptionNames} is one `for...in` over the object's keys with a `Set`
 * lookup each, and builds nothing unless a name is unknown; a call without an options object
 * does not call it at all.
 *
 * @module
 */
import { InvalidOptionError, typeOnly } from "./errors.ts";

/** Every option name of `T`, each `true`: the compiler fails when a name is added to `T` but not here. */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true };

/**
 * The set of `T`'s option names.
 *
 * @param names Every key of `T` (checked by the compiler).
 * @returns The names, for {@linkcode checkOptionNames}.
 */
export function optionNames<T>(names: OptionNames<T>): ReadonlySet<string> {
  return new Set(Object.keys(names));
}

/**
 * Throws when `options` has an own enumerable name not in `known`.
 *
 * @param what What was being created or called, e.g. `"AsyncCache"`.
 * @param options The options object (not `null`).
 * @param known The accepted names.
 * @param path A prefix for the option's name in the message, e.g. `"cluster."`.
 * @throws {InvalidOptionError} Naming the unknown option and the closest known one. Its
 * value is described by its type only: a misspelt `password` must not be quoted.
 */
export function checkOptionNames(
  what: string,
  options: object,
  known: ReadonlySet<string>,
  path = "",
): void {
  for (const name in options) {
    if (!known.has(name) && Object.hasOwn(options, name)) {
      const value = (options as Record<string, unknown>)[name];
      const near = closestName(name, known);
      throw new InvalidOptionError(
        what,
        path + name,
        near !== undefined
          ? `a known option (did you mean \`${near}\`?)`
          : `a known option (known options: ${[...known].join(", ")})`,
        typeOnly(value),
      );
    }
  }
}

/**
 * The known name closest to `name`, when one is close enough to be a likely typo: the same
 * letters in another case, one containing the other (`hostname` → `host`), or a small edit
 * distance (at most 2, or a third of the name's length).
 *
 * @param name The unknown name.
 * @param known The accepted names.
 * @returns The suggestion, or `undefined` when none is close.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    let score: number;
    if (c === lower) score = 0;
    else if (Math.min(c.length, lower.length) >= 3 && (c.includes(lower) || lower.includes(c))) {
      score = 1;
    } else score = editDistance(lower, c, Math.max(2, Math.floor(name.length / 3)));
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance with adjacent transpositions; `Infinity` once past `max` (names are short). */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return Infinity;
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2] + 1);
      }
      row.push(d);
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > max) return Infinity;
    before = prev;
    prev = row;
  }
  return prev[b.length];
}
