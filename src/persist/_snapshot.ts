/**
 * The disk snapshot format: a versioned, checksummed list of L1 entries whose
 * values are the envelope of `src/codec/`.
 *
 * Layout, version 1 (integers big-endian):
 *
 * | offset | size | field                                                     |
 * | ------ | ---- | --------------------------------------------------------- |
 * | 0      | 6    | magic `ACSNAP` (ASCII)                                    |
 * | 6      | 1    | format version (1)                                        |
 * | 7      | 1    | reserved, 0                                               |
 * | 8      | 4    | CRC-32 (IEEE) of the body                                 |
 * | 12     | 8    | body length in bytes (u32 high, u32 low)                  |
 * | 20     | ...  | body                                                      |
 *
 * Body: float64 `savedAt` (the cache clock's ms), u32 entry count, then per
 * entry (most recently used first): float64 remaining TTL in ms (`+Infinity`
 * for none), u32 length, and an envelope of `[key, value]`.
 *
 * The checksum and the declared length tell a truncated or damaged file from
 * a good one before any entry is used: a file is loaded whole or not at all.
 *
 * @module
 */
import { decodeValue } from "../codec/decode.ts";
import { encodeValue } from "../codec/encode.ts";

const MAGIC = [0x41, 0x43, 0x53, 0x4e, 0x41, 0x50]; // "ACSNAP"
/** The snapshot format version this build writes and reads. */
export const SNAPSHOT_VERSION = 1;
const HEADER_SIZE = 20;
const ENTRY_FIXED = 12;

/** An entry as saved: key, value, remaining TTL in ms (`Infinity` for none). */
export type SnapshotEntry = [key: string, value: unknown, ttlMs: number];

/** Why a file could not be read as a snapshot; `kind` separates "newer format" from damage. */
export class SnapshotFormatError extends Error {
  /** `"foreign"`, `"newer"`, `"truncated"` or `"corrupt"`. */
  readonly kind: "foreign" | "newer" | "truncated" | "corrupt";
  constructor(kind: SnapshotFormatError["kind"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotFormatError";
    this.kind = kind;
  }
}

/** The result of {@linkcode encodeSnapshot}. */
export interface EncodedSnapshot {
  bytes: Uint8Array;
  /** Entries written. */
  count: number;
  /** Keys whose value the envelope cannot hold (left out). */
  skipped: string[];
}

/** Encodes entries (most recently used first); values the envelope refuses are left out. */
export function encodeSnapshot(
  entries: Iterable<readonly [key: string, value: unknown, ttlMs: number]>,
  savedAt: number,
  limit = Infinity,
): EncodedSnapshot {
  const parts: Uint8Array[] = [];
  const ttls: number[] = [];
  const skipped: string[] = [];
  let bodyLength = 12;
  for (const [key, value, ttlMs] of entries) {
    if (parts.length >= limit) break;
    let env: Uint8Array;
    try {
      env = encodeValue([key, value]);
    } catch {
      skipped.push(key);
      continue;
    }
    parts.push(env);
    ttls.push(ttlMs);
    bodyLength += ENTRY_FIXED + env.length;
  }
  const out = new Uint8Array(HEADER_SIZE + bodyLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = SNAPSHOT_VERSION;
  view.setUint32(12, Math.floor(bodyLength / 2 ** 32));
  view.setUint32(16, bodyLength >>> 0);
  let pos = HEADER_SIZE;
  view.setFloat64(pos, savedAt);
  view.setUint32(pos + 8, parts.length);
  pos += 12;
  for (let i = 0; i < parts.length; i++) {
    view.setFloat64(pos, ttls[i]);
    view.setUint32(pos + 8, parts[i].length);
    out.set(parts[i], pos + ENTRY_FIXED);
    pos += ENTRY_FIXED + parts[i].length;
  }
  view.setUint32(8, crc32(out.subarray(HEADER_SIZE)));
  return { bytes: out, count: parts.length, skipped };
}

/** A decoded snapshot. */
export interface DecodedSnapshot {
  savedAt: number;
  /** Most recently used first. */
  entries: SnapshotEntry[];
}

/**
 * Decodes a whole snapshot, or throws {@linkcode SnapshotFormatError}: nothing
 * of a damaged file is returned.
 */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  if (bytes.length < 7 || MAGIC.some((b, i) => bytes[i] !== b)) {
    if (bytes.length < 7 && MAGIC.slice(0, bytes.length).every((b, i) => bytes[i] === b)) {
      throw new SnapshotFormatError("truncated", `truncated header (${bytes.length} bytes)`);
    }
    throw new SnapshotFormatError("foreign", "not an async-cache snapshot (bad magic bytes)");
  }
  const version = bytes[6];
  if (version > SNAPSHOT_VERSION) {
    throw new SnapshotFormatError(
      "newer",
      `snapshot format version ${version} is newer than this build reads (${SNAPSHOT_VERSION})`,
    );
  }
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotFormatError("corrupt", `invalid snapshot format version ${version}`);
  }
  if (bytes.length < HEADER_SIZE) {
    throw new SnapshotFormatError("truncated", `truncated header (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getUint32(12) * 2 ** 32 + view.getUint32(16);
  const actual = bytes.length - HEADER_SIZE;
  if (actual < declared) {
    throw new SnapshotFormatError(
      "truncated",
      `truncated: the body should be ${declared} bytes, the file holds ${actual}`,
    );
  }
  if (actual > declared) {
    throw new SnapshotFormatError("corrupt", `${actual - declared} bytes after the end`);
  }
  if (crc32(bytes.subarray(HEADER_SIZE)) !== view.getUint32(8)) {
    throw new SnapshotFormatError("corrupt", "checksum mismatch: the file is damaged");
  }
  if (declared < 12) throw new SnapshotFormatError("corrupt", "body too short");
  let pos = HEADER_SIZE;
  const savedAt = view.getFloat64(pos);
  const count = view.getUint32(pos + 8);
  pos += 12;
  const entries: SnapshotEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (bytes.length - pos < ENTRY_FIXED) {
      throw new SnapshotFormatError("corrupt", `entry ${i} of ${count} is cut short`);
    }
    const ttlMs = view.getFloat64(pos);
    const length = view.getUint32(pos + 8);
    pos += ENTRY_FIXED;
    if (bytes.length - pos < length || Number.isNaN(ttlMs)) {
      throw new SnapshotFormatError("corrupt", `entry ${i} of ${count} is cut short`);
    }
    let pair: unknown;
    try {
      pair = decodeValue(bytes.subarray(pos, pos + length));
    } catch (error) {
      throw new SnapshotFormatError("corrupt", `entry ${i}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
      throw new SnapshotFormatError("corrupt", `entry ${i} is not a [key, value] pair`);
    }
    entries.push([pair[0], pair[1], ttlMs]);
    pos += length;
  }
  if (pos !== bytes.length) {
    throw new SnapshotFormatError("corrupt", `${bytes.length - pos} bytes after the last entry`);
  }
  return { savedAt, entries };
}

let table: Int32Array | undefined;

/** CRC-32 (IEEE 802.3), as in zip and PNG. */
export function crc32(bytes: Uint8Array): number {
  if (table === undefined) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  const t = table;
  let crc = -1;
  for (let i = 0; i < bytes.length; i++) crc = t[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
