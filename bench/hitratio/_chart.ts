/**
 * A hand-written SVG line chart: hit ratio (%) against capacity on a log
 * axis, one polyline per series, a legend, ticks and titles. No plotting
 * dependency; pure (returns the SVG text).
 *
 * @module
 */

/** One line of the chart. */
export interface Series {
  name: string;
  color: string;
  /** SVG `stroke-dasharray`, e.g. `"6 3"`; solid when absent. */
  dash?: string;
  /** `[capacity, hit ratio %]`, any order. */
  points: [number, number][];
}

/** Points drawn as markers only (e.g. reference numbers at a few capacities). */
export interface Markers {
  name: string;
  color: string;
  points: [number, number][];
}

/** What {@linkcode renderChart} draws. */
export interface Chart {
  title: string;
  subtitle?: string;
  series: Series[];
  markers?: Markers[];
  /** Capacities to mark with a dashed vertical line (the table's cases). */
  highlight?: number[];
}

const W = 720;
const H = 440;
const M = { left: 64, right: 190, top: 56, bottom: 56 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

/** Renders the chart as a standalone SVG document. */
export function renderChart(chart: Chart): string {
  const all = [...chart.series, ...(chart.markers ?? [])].flatMap((s) => s.points);
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = Math.min(...xs, ...(chart.highlight ?? []));
  const xMax = Math.max(...xs, ...(chart.highlight ?? []));
  const [lx0, lx1] = xMin === xMax
    ? [Math.log10(xMin) - 0.5, Math.log10(xMax) + 0.5]
    : [Math.log10(xMin), Math.log10(xMax)];
  const yTicks = niceRange(Math.min(...ys), Math.max(...ys));
  const y0 = yTicks[0];
  const y1 = yTicks[yTicks.length - 1];
  const px = (x: number) => M.left + (Math.log10(x) - lx0) / (lx1 - lx0) * PW;
  const py = (y: number) => M.top + PH - (y - y0) / (y1 - y0) * PH;
  const f = (v: number) => v.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="24" font-size="16" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  if (chart.subtitle) {
    out.push(`<text x="${M.left}" y="42" fill="#555">${esc(chart.subtitle)}</text>`);
  }
  // Grid and ticks.
  for (const y of yTicks) {
    out.push(
      `<line x1="${M.left}" y1="${f(py(y))}" x2="${M.left + PW}" y2="${
        f(py(y))
      }" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 8}" y="${f(py(y) + 4)}" text-anchor="end">${y}</text>`,
    );
  }
  for (const x of logTicks(10 ** lx0, 10 ** lx1)) {
    out.push(
      `<line x1="${f(px(x))}" y1="${M.top + PH}" x2="${f(px(x))}" y2="${
        M.top + PH + 5
      }" stroke="#333"/>`,
      `<text x="${f(px(x))}" y="${M.top + PH + 19}" text-anchor="middle">${fmtCount(x)}</text>`,
    );
  }
  for (const x of chart.highlight ?? []) {
    out.push(
      `<line x1="${f(px(x))}" y1="${M.top}" x2="${f(px(x))}" y2="${
        M.top + PH
      }" stroke="#bbb" stroke-dasharray="3 3"/>`,
    );
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#333"/>`,
    `<text x="${M.left + PW / 2}" y="${
      H - 14
    }" text-anchor="middle">capacity (entries, log scale)</text>`,
    `<text transform="translate(18 ${
      M.top + PH / 2
    }) rotate(-90)" text-anchor="middle">hit ratio (%)</text>`,
  );
  // Lines, markers, legend.
  for (const s of chart.series) {
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${
        pts.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(" ")
      }"><title>${esc(s.name)}</title></polyline>`,
    );
    for (const [x, y] of pts) {
      out.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="2.5" fill="${s.color}"/>`);
    }
  }
  for (const m of chart.markers ?? []) {
    for (const [x, y] of m.points) {
      out.push(
        `<rect x="${f(px(x) - 4)}" y="${
          f(py(y) - 4)
        }" width="8" height="8" fill="none" stroke="${m.color}" stroke-width="2"/>`,
      );
    }
  }
  const lx = M.left + PW + 16;
  let ly = M.top + 8;
  for (const s of chart.series) {
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${
        lx + 24
      }" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
    ly += 20;
  }
  for (const m of chart.markers ?? []) {
    out.push(
      `<rect x="${lx + 8}" y="${
        ly - 4
      }" width="8" height="8" fill="none" stroke="${m.color}" stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${esc(m.name)}</text>`,
    );
    ly += 20;
  }
  out.push("</svg>", "");
  return out.join("\n");
}

/** Ticks for a percentage axis: steps of 5 or 10 (or finer), within 0..100. */
function niceRange(min: number, max: number): number[] {
  const span = Math.max(max - min, 1);
  const step = span > 40 ? 10 : span > 15 ? 5 : span > 6 ? 2 : 1;
  const lo = Math.max(0, Math.floor(min / step) * step);
  let hi = Math.min(100, Math.ceil(max / step) * step);
  if (hi <= lo) hi = lo + step;
  const ticks: number[] = [];
  for (let y = lo; y <= hi + 1e-9; y += step) ticks.push(Math.round(y * 100) / 100);
  return ticks;
}

/** 1-2-5 ticks within [lo, hi] (at least the two ends when none falls inside). */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks.length >= 2 ? ticks : [Math.round(lo), Math.round(hi)];
}

function fmtCount(x: number): string {
  return x >= 1000 && x % 1000 === 0 ? `${x / 1000}k` : String(x);
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
