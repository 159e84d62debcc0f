/**
 * The tag index of L1: which keys carry which tags, so that
 * `invalidateTags` (here or pushed from L2) drops them, and which tags were
 * invalidated while a lookup ran, so that an entry found by that lookup is
 * not kept if it carries one of them (declared by its reader or not).
 *
 * Entries that are expired but kept for stale reads stay indexed: an
 * invalidated value is never served as stale. The index is pruned of keys
 * L1 no longer holds at all, and the record of recent drops is bounded
 * (past its bound, every lookup older than the reset counts as dropped:
 * fail closed, one more miss).
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";

/** Most tags remembered as recently dropped. */
const DROPS_MAX = 1024;

/** See the module doc. */
export class TagIndex {
  readonly #tagged = new Map<string, readonly string[]>();
  /** Drop sequence: every tag drop takes the next number. */
  #seq = 0;
  /** The sequence number of each tag's last drop. */
  readonly #dropped = new Map<string, number>();
  /** Lookups that began before this number count as having seen every tag dropped. */
  #floor = 0;
  readonly #holds: (key: string) => boolean;
  readonly #bound: () => number;

  /**
   * @param holds Whether L1 holds `key` at all (fresh or kept stale).
   * @param bound How many keys may be indexed before a prune.
   */
  constructor(holds: (key: string) => boolean, bound: () => number) {
    this.#holds = holds;
    this.#bound = bound;
  }

  /** A mark to take when a lookup begins (see {@linkcode TagIndex.droppedSince}). */
  mark(): number {
    return this.#seq;
  }

  /** Whether any of `tags` was dropped after `mark` was taken. */
  droppedSince(tags: readonly string[] | undefined, mark: number): boolean {
    if (tags === undefined || tags.length === 0) return false;
    if (mark < this.#floor) return true;
    for (const tag of tags) {
      const at = this.#dropped.get(tag);
      if (at !== undefined && at > mark) return true;
    }
    return false;
  }

  /** Records the tags of `key`'s L1 entry (none: forgets it). */
  set(key: string, tags: readonly string[] | undefined): void {
    if (tags !== undefined && tags.length > 0) {
      this.#tagged.set(key, tags);
      if (this.#tagged.size > this.#bound()) this.#prune();
    } else if (this.#tagged.size > 0) this.#tagged.delete(key);
  }

  /** Forgets `key`. */
  delete(key: string): void {
    if (this.#tagged.size > 0) this.#tagged.delete(key);
  }

  /** Forgets every key. */
  clear(): void {
    this.#tagged.clear();
  }

  /**
   * Records a drop of `tags` and returns the indexed keys that carry any of
   * them (forgotten here; the caller removes them from L1).
   */
  drop(tags: readonly string[]): string[] {
    const seq = ++this.#seq;
    if (this.#dropped.size + tags.length > DROPS_MAX) {
      this.#dropped.clear();
      this.#floor = seq;
    }
    for (const tag of tags) this.#dropped.set(tag, seq);
    const set = new Set(tags);
    const doomed: string[] = [];
    for (const [key, entryTags] of this.#tagged) {
      if (entryTags.some((t) => set.has(t))) doomed.push(key);
    }
    for (const key of doomed) this.#tagged.delete(key);
    return doomed;
  }

  #prune(): void {
    for (const key of this.#tagged.keys()) {
      if (!this.#holds(key)) this.#tagged.delete(key);
    }
  }
}

/** Validates a `tags` option: an array of non-empty strings. */
export function checkTags(what: string, tags: unknown): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string" && t !== "")) {
    throw new InvalidOptionError(what, "tags", "an array of non-empty strings", tags);
  }
  return tags;
}
