/**
 * Regenerates the compact bundled traces (`bench/traces/*.trace.vgz`) from
 * the `.xz` originals published with Caffeine's simulator. Needed only to
 * regenerate them: the bench reads the bundled files with gzip alone.
 *
 * Needs the `xz` CLI (the runtimes have no xz decoder). Each original is a
 * sequence of big-endian integer keys (int32 for cache2k, int64 for scarab);
 * the output is the format of `bench/hitratio/_varint_trace.ts`, gzip -9.
 *
 * Run: `deno run -A scripts/transcode_traces.ts <dir with the .xz files>`
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { encodeVarintTrace, Renumberer } from "../bench/hitratio/_varint_trace.ts";

const SOURCES: { file: string; out: string; width: 4 | 8 }[] = [
  { file: "cache2k_web07.trace.xz", out: "cache2k_web07.trace.vgz", width: 4 },
  { file: "cache2k_orm-busy.trace.xz", out: "cache2k_orm-busy.trace.vgz", width: 4 },
  { file: "scarab_scarab-recs.trace.xz", out: "scarab_scarab-recs.trace.vgz", width: 8 },
];

const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno run -A scripts/transcode_traces.ts <dir with the .xz traces>");
  Deno.exit(2);
}

for (const { file, out, width } of SOURCES) {
  const { code, stdout, stderr } = await new Deno.Command("xz", { args: ["-dc", `${dir}/${file}`] })
    .output();
  if (code !== 0) throw new Error(`xz -dc ${file}: ${new TextDecoder().decode(stderr)}`);
  if (stdout.length % width !== 0) throw new Error(`${file}: ${stdout.length} bytes`);
  const view = new DataView(stdout.buffer, stdout.byteOffset, stdout.byteLength);
  const n = stdout.length / width;
  const keys = new Uint32Array(n);
  if (width === 4) {
    const r = new Renumberer<number>();
    for (let i = 0; i < n; i++) keys[i] = r.id(view.getInt32(i * 4));
  } else {
    const r = new Renumberer<bigint>();
    for (let i = 0; i < n; i++) keys[i] = r.id(view.getBigInt64(i * 8));
  }
  const gz = gzipSync(encodeVarintTrace(keys), { level: 9 });
  await Deno.writeFile(`bench/traces/${out}`, gz);
  console.log(`${out}: ${n} requests, ${gz.length} bytes`);
}
