/**
 * Generations: how a namespace or a tag is invalidated everywhere in O(1).
 *
 * Each namespace and each tag has a counter in the shared tier
 * (`__ac:ns:<namespace>`, `__ac:tag:<tag>`). An entry written by a cache
 * with a namespace or with tags is stamped with the counters it was loaded
 * under: `[STAMP, generations, tags, value]`. A read compares the stamp with
 * the counters fetched in the same round trip; an entry of an older
 * generation is a miss (and is removed). So `clear()` of a namespace and
 * `invalidateTags()` bump one counter each, and a slow loader that started
 * before the bump writes an entry nobody will read.
 *
 * @module
 */

/** The reserved key prefix of the counters (relative to the backend's prefix). */
export const GENERATION_PREFIX = "__ac:";
const NS = "__ac:ns:";
const TAG = "__ac:tag:";
/** Marks a stamped entry (a value no application stores by accident). */
const STAMP = "\u0000async-cache:stamp:1";

/** The counter key of a namespace. */
export function namespaceKey(namespace: string): string {
  return NS + namespace;
}

/** The counter key of a tag. */
export function tagKey(tag: string): string {
  return TAG + tag;
}

/** What a counter key names, or `undefined` for an entry key. */
export function parseGenerationKey(
  key: string,
): { namespace: string } | { tag: string } | undefined {
  if (!key.startsWith(GENERATION_PREFIX)) return undefined;
  if (key.startsWith(NS)) return { namespace: key.slice(NS.length) };
  if (key.startsWith(TAG)) return { tag: key.slice(TAG.length) };
  return undefined;
}

/** Counter values by counter key, as read in one lookup. */
export type Generations = Map<string, number>;

/** The stamped form of a value: the counters of its namespace (if any) and tags. */
export function stamp(
  value: unknown,
  namespaceGen: string | undefined,
  tags: readonly string[],
  gens: Generations,
): unknown {
  const keys = namespaceGen === undefined ? [] : [namespaceGen];
  for (const tag of tags) keys.push(tagKey(tag));
  return [STAMP, keys.map((k) => gens.get(k) ?? 0), [...tags], value];
}

/** A stamped entry's parts, or `undefined` for a plain value. */
export function unstamp(
  stored: unknown,
): { gens: number[]; tags: string[]; value: unknown } | undefined {
  if (!Array.isArray(stored) || stored.length !== 4 || stored[0] !== STAMP) return undefined;
  const [, gens, tags, value] = stored;
  if (!Array.isArray(gens) || !Array.isArray(tags)) return undefined;
  return { gens, tags, value };
}

/**
 * Whether a stamped entry is current: its namespace's and tags' counters are
 * those in `gens`. A counter missing from `gens` counts as unknown (current
 * only if the caller could not fetch it).
 */
export function isCurrent(
  entry: { gens: number[]; tags: string[] },
  namespaceGen: string | undefined,
  gens: Generations,
): boolean {
  let i = 0;
  if (namespaceGen !== undefined) {
    if ((gens.get(namespaceGen) ?? 0) !== entry.gens[i]) return false;
    i++;
  }
  for (const tag of entry.tags) {
    if ((gens.get(tagKey(tag)) ?? 0) !== entry.gens[i]) return false;
    i++;
  }
  return true;
}
