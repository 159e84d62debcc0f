/**
 * The bundled traces (`bench/traces/`, see its README for origins and
 * licences) and their reader. Every format is gzip on disk, read with
 * `node:zlib` (Deno, Bun and Node all have it: no xz, no dependency); every
 * trace comes back renumbered densely by first appearance, so a replay works
 * on small integers.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { decodeVarintTrace, Renumberer } from "./_varint_trace.ts";

/** How a trace file is encoded (inside its gzip). */
export type TraceFormat =
  /** One decimal key a line; other lines (`*`, blank) are skipped. */
  | "text"
  /** Big-endian int64 keys, back to back. */
  | "int64"
  /** The compact format of `_varint_trace.ts`. */
  | "varint";

/** One bundled trace. */
export interface TraceInfo {
  /** Short name used by `--only` and in the tables, e.g. `"loop"`. */
  name: string;
  file: string;
  format: TraceFormat;
}

/** The bundled traces, in table order. */
export const TRACES: readonly TraceInfo[] = [
  { name: "loop", file: "lirs_loop.trace.gz", format: "text" },
  { name: "multi1", file: "lirs_multi1.trace.gz", format: "text" },
  { name: "sprite", file: "lirs_sprite.trace.gz", format: "text" },
  { name: "gli", file: "lirs_gli.trace.gz", format: "text" },
  { name: "ps", file: "lirs_ps.trace.gz", format: "text" },
  { name: "web07", file: "cache2k_web07.trace.vgz", format: "varint" },
  { name: "orm-busy", file: "cache2k_orm-busy.trace.vgz", format: "varint" },
  { name: "corda", file: "corda_trace_vaultservice.gz", format: "int64" },
  { name: "scarab", file: "scarab_scarab-recs.trace.vgz", format: "varint" },
];

/** A trace in memory: dense keys, one per request. */
export interface Trace {
  keys: Uint32Array;
  distinct: number;
}

/**
 * Parses the bytes of a trace (already gunzipped).
 *
 * @throws {RangeError} On malformed input.
 */
export function parseTrace(format: TraceFormat, bytes: Uint8Array): Trace {
  if (format === "varint") return decodeVarintTrace(bytes);
  if (format === "int64") {
    if (bytes.length % 8 !== 0) throw new RangeError(`Cannot parse trace: ${bytes.length} bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.length / 8;
    const r = new Renumberer<bigint>();
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = r.id(view.getBigInt64(i * 8));
    return { keys, distinct: r.size };
  }
  // Text: scan the bytes; a line counts only if it is all digits (CR allowed).
  const r = new Renumberer<number>();
  const out: number[] = [];
  let value = 0;
  let digits = 0;
  let junk = false;
  for (let i = 0; i <= bytes.length; i++) {
    const b = i < bytes.length ? bytes[i] : 0x0a;
    if (b === 0x0a) {
      if (digits > 0 && !junk) out.push(r.id(value));
      value = 0;
      digits = 0;
      junk = false;
    } else if (b >= 0x30 && b <= 0x39) {
      value = value * 10 + (b - 0x30);
      digits++;
    } else if (b !== 0x0d) {
      junk = true;
    }
  }
  return { keys: Uint32Array.from(out), distinct: r.size };
}

/** Reads a gzipped trace file. */
export async function readTraceFile(path: string | URL, format: TraceFormat): Promise<Trace> {
  return parseTrace(format, gunzipSync(await readFile(path)));
}

/**
 * Reads a bundled trace by its short name.
 *
 * @throws {RangeError} For an unknown name.
 */
export function loadTrace(name: string): Promise<Trace> {
  const info = TRACES.find((t) => t.name === name);
  if (!info) throw new RangeError(`Unknown trace ${name}: expected one of ${traceNames()}`);
  return readTraceFile(new URL(`../traces/${info.file}`, import.meta.url), info.format);
}

function traceNames(): string {
  return TRACES.map((t) => t.name).join(", ");
}
