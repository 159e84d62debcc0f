/**
 * Belady's optimum with bypass: the most hits any policy can get on a trace
 * at a given capacity, knowing the future. On a miss with the cache full, the
 * requested key is admitted only if its next use comes sooner than the
 * farthest next use among the cached keys (that one is evicted); otherwise
 * it is bypassed. With equal-sized entries this choice is optimal.
 *
 * Next uses come from one backwards pass; the cached keys sit in a binary
 * max-heap on their next use, with lazy deletion (a heap entry is live only
 * while it matches its key's current next use), so 5M requests take seconds.
 * Pure: no runtime API.
 *
 * @module
 */

/**
 * For each request `i`, the index of the next request for the same key, or
 * `keys.length` if there is none.
 *
 * @param keys Dense keys (0 .. distinct-1).
 */
export function nextUses(keys: ArrayLike<number>, distinct: number): Int32Array {
  const n = keys.length;
  const next = new Int32Array(n);
  const seen = new Int32Array(distinct).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    next[i] = seen[keys[i]];
    seen[keys[i]] = i;
  }
  return next;
}

/**
 * Hits of Belady's optimum with bypass.
 *
 * @param keys Dense keys (0 .. distinct-1).
 * @param distinct How many distinct keys (an upper bound is enough).
 * @param capacity Most keys cached at once.
 * @param next From {@linkcode nextUses}, when it is already computed.
 */
export function optimumHits(
  keys: ArrayLike<number>,
  distinct: number,
  capacity: number,
  next: Int32Array = nextUses(keys, distinct),
): number {
  const n = keys.length;
  if (capacity <= 0) return 0;
  // cachedNext[k]: the next use of cached key k, or -1 when k is not cached.
  const cachedNext = new Int32Array(distinct).fill(-1);
  // One push per request at most, so the heap never outgrows n.
  const heapPrio = new Int32Array(n);
  const heapKey = new Int32Array(n);
  let heapSize = 0;
  let size = 0;
  let hits = 0;

  const push = (prio: number, key: number) => {
    let i = heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heapPrio[parent] >= prio) break;
      heapPrio[i] = heapPrio[parent];
      heapKey[i] = heapKey[parent];
      i = parent;
    }
    heapPrio[i] = prio;
    heapKey[i] = key;
  };
  const pop = () => {
    const prio = heapPrio[--heapSize];
    const key = heapKey[heapSize];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heapSize) break;
      if (child + 1 < heapSize && heapPrio[child + 1] > heapPrio[child]) child++;
      if (heapPrio[child] <= prio) break;
      heapPrio[i] = heapPrio[child];
      heapKey[i] = heapKey[child];
      i = child;
    }
    heapPrio[i] = prio;
    heapKey[i] = key;
  };
  // Drops stale entries from the top, so the top is the live farthest next use.
  const settle = () => {
    while (heapSize > 0 && cachedNext[heapKey[0]] !== heapPrio[0]) pop();
  };

  for (let i = 0; i < n; i++) {
    const k = keys[i];
    const nx = next[i];
    if (cachedNext[k] >= 0) {
      hits++;
      cachedNext[k] = nx;
      push(nx, k);
      continue;
    }
    if (nx === n) continue; // never used again: admitting it cannot earn a hit
    if (size < capacity) {
      size++;
    } else {
      settle();
      if (heapPrio[0] <= nx) continue; // bypass: every cached key is needed sooner
      cachedNext[heapKey[0]] = -1;
      pop();
    }
    cachedNext[k] = nx;
    push(nx, k);
  }
  return hits;
}
