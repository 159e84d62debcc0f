/**
 * Generations: how a namespace or a tag is invalidated everywhere in O(1),
 * and the one place that decides whether an L2 entry is current.
 *
 * Each namespace and each tag has a counter in the shared tier
 * (`__ac:ns:<namespace>`, `__ac:tag:<tag>`) holding a **stamp**: the time,
 * in microseconds, of its last invalidation. Invalidating raises it to the
 * invalidator's stamp (never lowers it). Every entry the cache writes
 * carries its own stamp: for a `set`, the time it was called; for a load,
 * the time the load started (before its L2 lookup and its loader). An entry
 * is current when its stamp is later than every counter it depends on.
 *
 * So a write never waits for a counter (it stamps from its own clock, and
 * reaches the connection in call order), a load that started before an
 * invalidation is never current, and a counter that is lost (evicted,
 * flushed) reads as unknown: entries that depend on it are misses (fail
 * closed) and the counter is re-created at the reader's stamp, so no old
 * entry can become current again.
 *
 * Stamps come from one process-wide clock ({@linkcode nextStamp}): wall
 * time in microseconds, strictly increasing within the process. Across
 * hosts, a write and an invalidation closer together than the hosts'
 * clock skew may be ordered either way (a known limit, stated in the README).
 *
 * The entry envelope also carries the entry's namespace (an entry of another
 * namespace is never accepted), its tags, and its logical expiry: an entry
 * is kept in L2 past its TTL for the longest stale window (`grace`,
 * `staleWhileRevalidate`), so an expiry is not a change.
 *
 * @module
 */

/** The reserved key prefix of the counters (relative to the backend's prefix). */
export const GENERATION_PREFIX = "__ac:";
const NS = "__ac:ns:";
const TAG = "__ac:tag:";
const LEASE = "__ac:lease:";
/** Marks an entry envelope (a value no application stores by accident). */
const ENVELOPE = "\u0000async-cache:entry:2";

/**
 * Where namespace `namespace`'s entries live in a backend: its length, the
 * namespace, then the key (`"5:agent:" + key`; no namespace: `"0::" + key`).
 * The mapping from (namespace, key) to a backend key is injective (the
 * length says where the namespace ends), so namespaces that are prefixes of
 * each other (`tenant:a`, `tenant:a:b`) never share a key, a cache without
 * a namespace has a sub-space of its own, and since every entry key starts
 * with a digit, no entry key is ever a reserved (`__ac:`) key.
 */
export function namespacePrefix(namespace: string): string {
  return `${namespace.length}:${namespace}:`;
}

/** The lease key of an entry key (reserved: no entry key starts with `__ac:`). */
export function leaseKey(key: string): string {
  return LEASE + key;
}

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

/** Counter values by counter key (`undefined`: missing or unreadable). */
export type Generations = Map<string, number | undefined>;

let lastStamp = 0;

/** The process-wide stamp clock: wall time in µs, strictly increasing. */
export function nextStamp(): number {
  const now = Date.now() * 1000;
  lastStamp = now > lastStamp ? now : lastStamp + 1;
  return lastStamp;
}

/** An entry as stored in L2. */
export interface Envelope {
  /** The namespace of the cache that wrote it ("" for none). */
  namespace: string;
  /** When the write (or its load) began, from {@linkcode nextStamp}. */
  stamp: number;
  tags: readonly string[];
  /** Logical expiry (ms, the writer's clock), or `undefined` for none. */
  expiresAt: number | undefined;
  /** How long L2 keeps it past `expiresAt`, for stale reads (ms). */
  keepMs: number;
  value: unknown;
}

/** The stored form of an entry. */
export function wrap(entry: Envelope): unknown {
  return [
    ENVELOPE,
    entry.namespace,
    entry.stamp,
    [...entry.tags],
    entry.expiresAt ?? null,
    entry.keepMs,
    entry.value,
  ];
}

/**
 * An envelope's parts; `undefined` for a value that is not one, `null` for
 * a malformed envelope (corrupt: a miss).
 */
export function unwrap(stored: unknown): Envelope | null | undefined {
  if (!Array.isArray(stored) || stored[0] !== ENVELOPE) return undefined;
  if (stored.length !== 7) return null;
  const [, namespace, stamp, tags, expiresAt, keepMs, value] = stored;
  if (
    typeof namespace !== "string" || typeof stamp !== "number" || !Number.isSafeInteger(stamp) ||
    !Array.isArray(tags) || !tags.every((t) => typeof t === "string") ||
    (expiresAt !== null && typeof expiresAt !== "number") || typeof keepMs !== "number"
  ) return null;
  return { namespace, stamp, tags, expiresAt: expiresAt ?? undefined, keepMs, value };
}

/**
 * What `RedisBackend.getManyWithTtl` reports (as the entry's value) for an entry of an older
 * format version: a miss that the next loaded value should replace (see `FORMAT_VERSION`).
 * An entry of a newer version is plain `undefined`: the processes that read it own it.
 */
export const OLDER_FORMAT: unique symbol = Symbol("async-cache: entry of an older format");

/** The counter keys an entry of `namespace` with `tags` depends on. */
export function counterKeys(namespace: string, tags: readonly string[]): string[] {
  const keys = namespace === "" ? [] : [namespaceKey(namespace)];
  for (const tag of tags) keys.push(tagKey(tag));
  return keys;
}

/**
 * Whether an entry is current: `"current"`, `"invalidated"` (a counter was raised
 * after its stamp: invalidated), or `"unknown"` (a counter it depends on is
 * missing from `gens` or unreadable: fail closed).
 */
export function currency(
  entry: Envelope,
  gens: Generations,
): "current" | "invalidated" | "unknown" {
  for (const key of counterKeys(entry.namespace, entry.tags)) {
    const counter = gens.get(key);
    if (counter === undefined) return "unknown";
    if (counter >= entry.stamp) return "invalidated";
  }
  return "current";
}
