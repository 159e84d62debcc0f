/**
 * The bundled compact trace format (`*.trace.vgz`), shared by the transcoder
 * (`scripts/transcode_traces.ts`) and the bench's reader.
 *
 * Before gzip: the 4 ASCII bytes `ACT1`, then unsigned LEB128 varints:
 * the number of requests, the number of distinct keys, then one key per
 * request. Keys are renumbered densely by first appearance (the first key is
 * 0, the next new one 1, ...), which changes no hit ratio, and makes most of
 * them fit in one to three bytes. The whole is compressed with gzip -9.
 *
 * Pure functions over bytes (no runtime API), so the tests run them on Deno,
 * Bun and Node.
 *
 * @module
 */

const MAGIC = [0x41, 0x43, 0x54, 0x31]; // "ACT1"

/** Renumbers keys densely by first appearance: equal keys map to equal numbers. */
export class Renumberer<K> {
  readonly #ids = new Map<K, number>();
  /** The dense id of `key` (a new one, the next free, on first sight). */
  id(key: K): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#ids.size;
      this.#ids.set(key, id);
    }
    return id;
  }
  /** How many distinct keys were seen. */
  get size(): number {
    return this.#ids.size;
  }
}

/** Renumbers a whole trace densely by first appearance. */
export function renumber<K>(keys: Iterable<K>): { keys: Uint32Array; distinct: number } {
  const r = new Renumberer<K>();
  const out: number[] = [];
  for (const k of keys) out.push(r.id(k));
  return { keys: Uint32Array.from(out), distinct: r.size };
}

/**
 * Encodes densely numbered keys (before gzip).
 *
 * @throws {RangeError} If the keys are not dense by first appearance.
 */
export function encodeVarintTrace(keys: ArrayLike<number>): Uint8Array {
  let distinct = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k > distinct || !Number.isInteger(k) || k < 0) {
      throw new RangeError(`Cannot encode trace: key ${k} at ${i} is not dense`);
    }
    if (k === distinct) distinct++;
  }
  // Sum the lengths first, then fill one buffer.
  const size = (v: number) => {
    let len = 1;
    while (v >= 0x80) (v = Math.floor(v / 128)), len++;
    return len;
  };
  let total = MAGIC.length + size(keys.length) + size(distinct);
  for (let i = 0; i < keys.length; i++) total += size(keys[i]);
  const bytes = new Uint8Array(total);
  bytes.set(MAGIC);
  let pos = MAGIC.length;
  const put = (v: number) => {
    while (v >= 0x80) {
      bytes[pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    bytes[pos++] = v;
  };
  put(keys.length);
  put(distinct);
  for (let i = 0; i < keys.length; i++) put(keys[i]);
  return bytes;
}

/**
 * Decodes a trace written by {@linkcode encodeVarintTrace} (after gunzip).
 *
 * @throws {RangeError} On a bad header, a truncated body or trailing bytes.
 */
export function decodeVarintTrace(bytes: Uint8Array): { keys: Uint32Array; distinct: number } {
  if (MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new RangeError("Cannot decode trace: no ACT1 header");
  }
  let pos = MAGIC.length;
  const get = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (pos >= bytes.length) throw new RangeError("Cannot decode trace: truncated");
      const b = bytes[pos++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  };
  const n = get();
  const distinct = get();
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = get();
  if (pos !== bytes.length) throw new RangeError("Cannot decode trace: trailing bytes");
  return { keys, distinct };
}
