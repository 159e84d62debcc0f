/**
 * The Prometheus text exposition format (version 0.0.4) of a {@linkcode Registry}:
 * names as OpenTelemetry's Prometheus exporter writes them (dots to
 * underscores, the unit as a suffix: `_seconds`, `_bytes`; counters end in
 * `_total`), attributes as labels (`cache.name` → `cache_name`), histograms
 * as cumulative `_bucket{le=...}` series with `_sum` and `_count`.
 *
 * @module
 */
import type { Attributes } from "./_api.ts";
import type { Instrument, Registry } from "./_registry.ts";

const UNIT_SUFFIX: Record<string, string> = { s: "seconds", By: "bytes", ms: "milliseconds" };

/** The Prometheus name of an OpenTelemetry instrument. */
export function prometheusName(name: string, unit: string, kind: Instrument["kind"]): string {
  let n = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  const suffix = UNIT_SUFFIX[unit];
  if (suffix !== undefined && !n.endsWith(`_${suffix}`)) n += `_${suffix}`;
  if (kind === "counter") n += "_total";
  return n;
}

function labelName(key: string): string {
  const n = key.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(n) ? `_${n}` : n;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labels(attributes: Attributes, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const key of Object.keys(attributes).sort()) {
    const v = attributes[key];
    if (v === undefined) continue;
    parts.push(`${labelName(key)}="${escapeLabel(Array.isArray(v) ? v.join(",") : String(v))}"`);
  }
  if (extra !== undefined) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function num(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

/**
 * Renders the instruments of `registry` whose series pass `keep` (by their
 * attributes), in the order the instruments were created.
 */
export function renderText(registry: Registry, keep: (a: Attributes) => boolean): string {
  let out = "";
  for (const i of registry.instruments.values()) {
    const series = [...i.series.values()].filter((s) => keep(s.attributes));
    if (series.length === 0) continue;
    const name = prometheusName(i.name, i.unit, i.kind);
    out += `# HELP ${name} ${escapeHelp(i.description)}\n# TYPE ${name} ${i.kind}\n`;
    if (i.kind !== "histogram") {
      for (const s of series) out += `${name}${labels(s.attributes)} ${num(s.value)}\n`;
      continue;
    }
    for (const s of series) {
      let cumulative = 0;
      for (let b = 0; b < i.boundaries.length; b++) {
        cumulative += s.buckets![b];
        out += `${name}_bucket${
          labels(s.attributes, ["le", num(i.boundaries[b])])
        } ${cumulative}\n`;
      }
      cumulative += s.buckets![i.boundaries.length];
      out += `${name}_bucket${labels(s.attributes, ["le", "+Inf"])} ${cumulative}\n`;
      out += `${name}_sum${labels(s.attributes)} ${num(s.sum!)}\n`;
      out += `${name}_count${labels(s.attributes)} ${s.count}\n`;
    }
  }
  return out;
}
