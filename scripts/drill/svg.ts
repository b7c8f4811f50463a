/**
 * Small, dependency-free SVG chart helpers for the drill reports.
 *
 * Every function returns one self-contained SVG document (white background, inline
 * attributes only, no scripts, no external fonts) that reads well at about 900x300:
 * a title, a legend, axes with tick labels and units, and shaded vertical bands
 * (labelled with the phase name) for the fault phases.
 */
import { OUTCOME_COLORS } from "../lib/palette.ts";

/** A shaded vertical band, in x-axis units (seconds in the drills). */
export interface Band {
  from: number;
  to: number;
  label: string;
}

export interface LineSeries {
  name: string;
  /** [x, y] pairs; a non-finite y (NaN) breaks the line (no data in that second). */
  points: [number, number][];
  color?: string;
  dashed?: boolean;
}

export interface HorizontalLine {
  y: number;
  label: string;
  color?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  bands?: Band[];
  /** Logarithmic y axis (1-2-5 ticks); values <= 0 are drawn at the bottom of the axis. */
  yLog?: boolean;
  /** Dashed reference lines, e.g. the 50 ms p99 target. Always kept inside the y range. */
  horizontalLines?: HorizontalLine[];
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Formats y tick labels (default: compact numbers); put the unit here or in yLabel. */
  yTickFormat?: (v: number) => string;
  xTickFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

export interface StackedBarsOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Stack order, bottom first; also the legend order. */
  categories: string[];
  /** One bar per row, covering [x, x + barWidth). Missing categories count as 0. */
  rows: { x: number; values: Record<string, number> }[];
  bands?: Band[];
  /** Colour per category (see STATUS_COLORS); others get a palette colour. */
  colors?: Record<string, string>;
  /** Optional lines drawn over the bars on the same y scale (e.g. origin requests/s). */
  lines?: LineSeries[];
  barWidth?: number;
  xDomain?: [number, number];
  yTickFormat?: (v: number) => string;
  xTickFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

export interface TimelineSegment {
  from: number;
  to: number;
  state: string;
}

export interface StateTimelineOptions {
  title: string;
  xLabel?: string;
  rows: { label: string; segments: TimelineSegment[] }[];
  /** Colour per state; the legend lists the states that occur, in this order first. */
  colors: Record<string, string>;
  bands?: Band[];
  xDomain?: [number, number];
  xTickFormat?: (v: number) => string;
  /** Formats segment start and end in the hover titles (default: xTickFormat), e.g. to the ms. */
  tipFormat?: (v: number) => string;
  width?: number;
  /** Default: sized to the number of rows. */
  height?: number;
}

/** A change of state at `at` (x-axis units) to `to`; `from`, when known, is the state before it. */
export interface StateChange {
  at: number;
  to: string;
  from?: string;
}

/**
 * State segments from the changes themselves, each from its real start to its real end: the
 * state before the first change is its `from` (else `initial`), the last one lasts until `end`.
 */
export function segmentsFromChanges(changes: StateChange[], start: number, end: number, initial = "closed"): TimelineSegment[] {
  const sorted = [...changes].sort((a, b) => a.at - b.at);
  const out: TimelineSegment[] = [];
  let state = sorted[0]?.from || initial;
  let at = start;
  for (const c of sorted) {
    const x = Math.min(Math.max(c.at, start), end);
    if (x > at) out.push({ from: at, to: x, state });
    state = c.to;
    at = Math.max(at, x);
  }
  if (end > at) out.push({ from: at, to: end, state });
  return out;
}

/** Segments narrower than this (px) get a marker above their row, so a 20 ms half-open can be found. */
export const THIN_SEGMENT_PX = 3;

/** Fixed colours for the status mix (from the shared palette); fallback (LKG) answers stand apart from origin 2xx. */
export const STATUS_COLORS: Record<string, string> = {
  "2xx": OUTCOME_COLORS.origin_ok,
  fallback: OUTCOME_COLORS.lkg_served,
  "4xx": OUTCOME_COLORS.client_4xx,
  "5xx": OUTCOME_COLORS.no_lkg,
  err: OUTCOME_COLORS.no_answer,
};

const PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"];
const FONT = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', Helvetica, Arial, sans-serif";
const BAND_FILLS = ["#fde7e4", "#fad4cf"];
const BAND_STRIP = ["#f6b8ae", "#f09e92"];
const BAND_INK = "#8a1c12";
const AXIS = "#444";
const GRID = "#e6e6e6";
const INK = "#222";

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Rough rendered width of a string in px (sans-serif averages about 0.58 em per glyph). */
export function textWidth(s: string, size: number, bold = false): number {
  return s.length * size * (bold ? 0.62 : 0.58);
}

/** Compact number for tick labels: 0.5, 12, 1500, 25k. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a >= 100_000) return `${trim(v / 1000, 0)}k`;
  if (a >= 10_000) return `${trim(v / 1000, 1)}k`;
  if (a >= 100) return trim(v, 0);
  if (a >= 10) return trim(v, 1);
  if (a >= 1) return trim(v, 2);
  return trim(v, 3);
}

function trim(v: number, digits: number): string {
  return String(Number(v.toFixed(digits)));
}

function r1(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Two decimals: state segments are drawn at their real times, a 49 ms one is under 1 px wide. */
function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** Up to about `count` round ticks covering [min, max] (step 1, 2 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Ticks from `min` up to a round top at or above `max`; the last tick is the axis top. */
function ticksUpTo(min: number, max: number, count = 5): number[] {
  const ticks = niceTicks(min, max > min ? max : min + 1, count);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  if (ticks[ticks.length - 1]! < max - 1e-9) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** The 1-2-5 value at or below v (for v > 0). */
function step125Below(v: number): number {
  const pow = 10 ** Math.floor(Math.log10(v));
  const m = v / pow;
  return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * pow;
}

/** The 1-2-5 value at or above v (for v > 0). */
function step125Above(v: number): number {
  const pow = 10 ** Math.floor(Math.log10(v));
  const m = v / pow;
  return (m <= 1 + 1e-9 ? 1 : m <= 2 + 1e-9 ? 2 : m <= 5 + 1e-9 ? 5 : 10) * pow;
}

function logTicks(min: number, max: number): { major: number[]; minor: number[] } {
  const decades = Math.log10(max / min);
  const mults = decades <= 3.2 ? [1, 2, 5] : [1];
  const major: number[] = [];
  const minor: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (let m = 1; m <= 9; m++) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v < min * (1 - 1e-9) || v > max * (1 + 1e-9)) continue;
      (mults.includes(m) ? major : minor).push(v);
    }
  }
  return { major, minor };
}

interface LegendItem {
  label: string;
  color: string;
  kind: "line" | "dash" | "box";
}

interface Layout {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  x: (v: number) => number;
  parts: string[];
  bandLabels: string[];
}

function legendItemWidth(it: LegendItem): number {
  return (it.kind === "box" ? 14 : 22) + textWidth(it.label, 11) + 14;
}

function drawLegendItem(it: LegendItem, x: number, y: number): string {
  const label = `<text x="${r1(x + (it.kind === "box" ? 14 : 22))}" y="${r1(y + 4)}" font-size="11" fill="${INK}">${escapeXml(it.label)}</text>`;
  if (it.kind === "box") return `<rect x="${r1(x)}" y="${r1(y - 5)}" width="10" height="10" rx="1.5" fill="${it.color}"/>${label}`;
  const dash = it.kind === "dash" ? ` stroke-dasharray="5 3"` : "";
  return `<line x1="${r1(x)}" y1="${r1(y)}" x2="${r1(x + 17)}" y2="${r1(y)}" stroke="${it.color}" stroke-width="2.5"${dash}/>${label}`;
}

/**
 * Lays out title, legend, band label strip and plot area; draws the background, title,
 * legend, band shading and band labels. The caller draws axes and data into `parts`.
 */
function frame(o: {
  width: number;
  height: number;
  title: string;
  legend: LegendItem[];
  bands: Band[];
  left: number;
  xDomain: [number, number];
}): Layout {
  const { width, height } = o;
  const parts: string[] = [];
  const right = width - 18;
  const left = o.left;
  const [x0, x1] = o.xDomain[1] > o.xDomain[0] ? o.xDomain : [o.xDomain[0], o.xDomain[0] + 1];
  const x = (v: number): number => left + ((Math.min(Math.max(v, x0), x1) - x0) / (x1 - x0)) * (right - left);

  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="12" y="21" font-size="15" font-weight="600" fill="${INK}">${escapeXml(o.title)}</text>`);

  // Legend: on the title's line, right-aligned, when it fits; otherwise wrapped below it.
  const titleW = textWidth(o.title, 15, true);
  const widths = o.legend.map(legendItemWidth);
  const total = widths.reduce((a, b) => a + b, 0);
  let headerBottom = 30;
  if (o.legend.length > 0) {
    if (12 + titleW + 28 + total <= width - 12) {
      let lx = width - 12 - total + 14;
      o.legend.forEach((it, i) => {
        parts.push(drawLegendItem(it, lx, 16));
        lx += widths[i]!;
      });
    } else {
      let lx = 12;
      let ly = 40;
      o.legend.forEach((it, i) => {
        if (lx > 12 && lx + widths[i]! - 14 > width - 12) {
          lx = 12;
          ly += 17;
        }
        parts.push(drawLegendItem(it, lx, ly));
        lx += widths[i]!;
      });
      headerBottom = ly + 10;
    }
  }

  // Band labels: row 0 is a tinted strip right above the plot; labels that would collide
  // move up a row and get a leader line.
  const bands = [...o.bands].filter((b) => b.to > b.from).sort((a, b) => a.from - b.from);
  const rowEnds: number[] = [];
  const placed: { band: Band; index: number; row: number; tx: number; w: number }[] = [];
  bands.forEach((band, index) => {
    const w = textWidth(band.label, 10, true) + 6;
    const cx = (x(band.from) + x(band.to)) / 2;
    const start = Math.min(Math.max(cx - w / 2, left), right - w);
    let row = rowEnds.findIndex((end) => end + 4 <= start);
    if (row < 0) row = rowEnds.length < 3 ? rowEnds.length : rowEnds.length - 1;
    rowEnds[row] = start + w;
    placed.push({ band, index, row, tx: start + w / 2, w });
  });
  const rowH = 14;
  const stripRows = rowEnds.length;
  const top = headerBottom + (stripRows > 0 ? 6 + stripRows * rowH + 2 : 10);
  const bottom = height - 40;

  for (const p of placed) {
    parts.push(`<rect x="${r1(x(p.band.from))}" y="${top}" width="${r1(Math.max(1, x(p.band.to) - x(p.band.from)))}" height="${bottom - top}" fill="${BAND_FILLS[p.index % 2]}"/>`);
  }
  // Strips and edges first, then all texts, so that no strip covers a neighbour's label.
  const bandLabels: string[] = [];
  const stripY = top - 2 - rowH;
  for (const p of placed) {
    const bx0 = x(p.band.from);
    const bx1 = x(p.band.to);
    bandLabels.push(`<rect x="${r1(bx0)}" y="${stripY}" width="${r1(Math.max(1, bx1 - bx0))}" height="${rowH}" fill="${BAND_STRIP[p.index % 2]}"/>`);
    // Edges of the band, drawn over the data so that they stay visible behind opaque bars.
    for (const ex of [bx0, bx1]) {
      bandLabels.push(`<line x1="${r1(ex)}" y1="${stripY}" x2="${r1(ex)}" y2="${bottom}" stroke="${BAND_INK}" stroke-opacity="0.45" stroke-width="1" stroke-dasharray="3 3"/>`);
    }
  }
  for (const p of placed) {
    const bx0 = x(p.band.from);
    const bx1 = x(p.band.to);
    const ty = top - 2 - rowH * (p.row + 1) + 10.5;
    if (p.row > 0) {
      const cx = Math.min(Math.max((bx0 + bx1) / 2, left), right);
      bandLabels.push(`<line x1="${r1(p.tx)}" y1="${ty + 2}" x2="${r1(cx)}" y2="${stripY}" stroke="${BAND_INK}" stroke-opacity="0.6" stroke-width="0.8"/>`);
    }
    bandLabels.push(`<text x="${r1(p.tx)}" y="${r1(ty)}" font-size="10" text-anchor="middle" fill="${BAND_INK}" font-weight="600">${escapeXml(p.band.label)}</text>`);
  }
  return { width, height, left, right, top, bottom, x, parts, bandLabels };
}

function xAxis(l: Layout, domain: [number, number], label: string, fmt: (v: number) => string, grid: boolean): string[] {
  const out: string[] = [];
  const approx = Math.max(2, Math.floor((l.right - l.left) / 70));
  const ticks = niceTicks(domain[0], domain[1], approx).filter((t) => t >= domain[0] - 1e-9 && t <= domain[1] + 1e-9);
  for (const t of ticks) {
    const px = r1(l.x(t));
    if (grid) out.push(`<line x1="${px}" y1="${l.top}" x2="${px}" y2="${l.bottom}" stroke="${GRID}" stroke-width="1"/>`);
    out.push(`<line x1="${px}" y1="${l.bottom}" x2="${px}" y2="${l.bottom + 4}" stroke="${AXIS}"/>`);
    out.push(`<text x="${px}" y="${l.bottom + 16}" font-size="11" text-anchor="middle" fill="${AXIS}">${escapeXml(fmt(t))}</text>`);
  }
  out.push(`<line x1="${l.left}" y1="${l.bottom}" x2="${l.right}" y2="${l.bottom}" stroke="${AXIS}"/>`);
  out.push(`<text x="${r1((l.left + l.right) / 2)}" y="${l.bottom + 33}" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(label)}</text>`);
  return out;
}

/** Horizontal grid, tick labels and the rotated y label. Returns the drawn parts. */
function yAxis(l: Layout, ticks: number[], minor: number[], y: (v: number) => number, label: string, fmt: (v: number) => string): { grid: string[]; labels: string[] } {
  const grid: string[] = [];
  const labels: string[] = [];
  for (const t of minor) grid.push(`<line x1="${l.left}" y1="${r1(y(t))}" x2="${l.right}" y2="${r1(y(t))}" stroke="${GRID}" stroke-opacity="0.55" stroke-width="0.8"/>`);
  for (const t of ticks) {
    const py = r1(y(t));
    grid.push(`<line x1="${l.left}" y1="${py}" x2="${l.right}" y2="${py}" stroke="${GRID}" stroke-width="1"/>`);
    labels.push(`<line x1="${l.left - 4}" y1="${py}" x2="${l.left}" y2="${py}" stroke="${AXIS}"/>`);
    labels.push(`<text x="${l.left - 7}" y="${r1(y(t) + 3.8)}" font-size="11" text-anchor="end" fill="${AXIS}">${escapeXml(fmt(t))}</text>`);
  }
  labels.push(`<line x1="${l.left}" y1="${l.top}" x2="${l.left}" y2="${l.bottom}" stroke="${AXIS}"/>`);
  const my = r1((l.top + l.bottom) / 2);
  labels.push(`<text x="16" y="${my}" font-size="12" text-anchor="middle" fill="${INK}" transform="rotate(-90 16 ${my})">${escapeXml(label)}</text>`);
  return { grid, labels };
}

function svgDoc(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="${escapeXml(FONT)}">`,
    `<title>${escapeXml(title)}</title>`,
    ...body,
    `</svg>`,
    "",
  ].join("\n");
}

function domainOf(values: number[], fallback: [number, number]): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return fallback;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

function polylines(points: [number, number][], x: (v: number) => number, y: (v: number) => number): string[] {
  const runs: string[] = [];
  let cur: string[] = [];
  for (const [px, py] of [...points].sort((a, b) => a[0] - b[0])) {
    if (!Number.isFinite(py) || !Number.isFinite(px)) {
      if (cur.length) runs.push(cur.join(" "));
      cur = [];
      continue;
    }
    cur.push(`${r1(x(px))},${r1(y(py))}`);
  }
  if (cur.length) runs.push(cur.join(" "));
  return runs;
}

function drawSeries(s: LineSeries, color: string, x: (v: number) => number, y: (v: number) => number, markers: boolean): string[] {
  const out: string[] = [];
  const dash = s.dashed ? ` stroke-dasharray="6 3"` : "";
  for (const run of polylines(s.points, x, y)) {
    if (!run.includes(" ")) {
      const [cx, cy] = run.split(",");
      out.push(`<circle cx="${cx}" cy="${cy}" r="2" fill="${color}"/>`);
      continue;
    }
    out.push(`<polyline points="${run}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round"${dash}/>`);
  }
  if (markers) {
    for (const [px, py] of s.points) if (Number.isFinite(py)) out.push(`<circle cx="${r1(x(px))}" cy="${r1(y(py))}" r="1.8" fill="${color}"/>`);
  }
  return out;
}

/** A line chart: e.g. latency p50/p95/p99 per second, with a dashed target line. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 900;
  const height = o.height ?? 300;
  const bands = o.bands ?? [];
  const hlines = o.horizontalLines ?? [];
  const colors = o.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]!);
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const xDomain = o.xDomain ?? domainOf([...xs, ...bands.flatMap((b) => [b.from, b.to])], [0, 1]);
  const ys = [...o.series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v)), ...hlines.map((h) => h.y)];
  const fmtY = o.yTickFormat ?? formatNumber;
  const fmtX = o.xTickFormat ?? formatNumber;

  let y: (v: number) => number;
  let ticks: number[];
  let minor: number[] = [];
  let yDomain: [number, number];
  if (o.yLog) {
    const pos = ys.filter((v) => v > 0);
    const lo = o.yDomain?.[0] ?? step125Below(pos.length ? Math.min(...pos) * 0.95 : 1);
    let hi = o.yDomain?.[1] ?? step125Above(pos.length ? Math.max(...pos) * 1.1 : 10);
    if (!(hi > lo)) hi = lo * 10;
    yDomain = [lo, hi];
    ({ major: ticks, minor } = logTicks(lo, hi));
  } else {
    const lo = o.yDomain?.[0] ?? Math.min(0, ...ys);
    ticks = ticksUpTo(lo, o.yDomain?.[1] ?? Math.max(lo + 1, ...ys) * 1.04);
    yDomain = [lo, o.yDomain?.[1] ?? ticks[ticks.length - 1]!];
    if (o.yDomain) ticks = niceTicks(yDomain[0], yDomain[1], 5);
  }
  const tickLabelW = Math.max(...ticks.map((t) => textWidth(fmtY(t), 11)), 10);
  const legend: LegendItem[] = [
    ...o.series.map((s, i): LegendItem => ({ label: s.name, color: colors[i]!, kind: s.dashed ? "dash" : "line" })),
    ...hlines.map((h): LegendItem => ({ label: h.label, color: h.color ?? "#555", kind: "dash" })),
  ];
  const l = frame({ width, height, title: o.title, legend, bands, left: Math.ceil(34 + tickLabelW), xDomain });
  if (o.yLog) {
    const [lo, hi] = yDomain;
    y = (v: number) => {
      const c = Math.min(Math.max(v > 0 ? v : lo, lo), hi);
      return l.bottom - (Math.log(c / lo) / Math.log(hi / lo)) * (l.bottom - l.top);
    };
  } else {
    const [lo, hi] = yDomain;
    y = (v: number) => l.bottom - ((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * (l.bottom - l.top);
  }

  const ya = yAxis(l, ticks, minor, y, o.yLabel, fmtY);
  const body = [...l.parts, ...ya.grid];
  body.push(...xAxis(l, xDomain, o.xLabel, fmtX, true));
  const dense = o.series.every((s) => s.points.length <= 40);
  o.series.forEach((s, i) => body.push(...drawSeries(s, colors[i]!, l.x, y, dense)));
  for (const h of hlines) {
    const py = r1(y(h.y));
    const color = h.color ?? "#555";
    body.push(`<line x1="${l.left}" y1="${py}" x2="${l.right}" y2="${py}" stroke="${color}" stroke-width="1.5" stroke-dasharray="7 4"/>`);
    const tw = textWidth(h.label, 10) + 6;
    body.push(`<rect x="${r1(l.right - tw - 2)}" y="${r1(y(h.y) - 14)}" width="${r1(tw)}" height="12" fill="#ffffff" fill-opacity="0.85"/>`);
    body.push(`<text x="${r1(l.right - 5)}" y="${r1(y(h.y) - 4.5)}" font-size="10" text-anchor="end" fill="${color}">${escapeXml(h.label)}</text>`);
  }
  body.push(...l.bandLabels, ...ya.labels);
  return svgDoc(width, height, o.title, body);
}

/** Stacked bars per x: e.g. the status mix per second (2xx, fallback answers, 4xx, 5xx, err). */
export function stackedBars(o: StackedBarsOptions): string {
  const width = o.width ?? 900;
  const height = o.height ?? 300;
  const bands = o.bands ?? [];
  const bw = o.barWidth ?? 1;
  const colorOf = (c: string, i: number): string => o.colors?.[c] ?? STATUS_COLORS[c] ?? PALETTE[i % PALETTE.length]!;
  const lineColors = (o.lines ?? []).map((s, i) => s.color ?? PALETTE[(i + 5) % PALETTE.length]!);
  const xDomain = o.xDomain ?? domainOf([...o.rows.flatMap((r) => [r.x, r.x + bw]), ...bands.flatMap((b) => [b.from, b.to])], [0, 1]);
  const totals = o.rows.map((r) => o.categories.reduce((a, c) => a + Math.max(0, r.values[c] ?? 0), 0));
  const lineYs = (o.lines ?? []).flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
  const ticks = ticksUpTo(0, Math.max(1, ...totals, ...lineYs) * 1.04);
  const hi = ticks[ticks.length - 1]!;
  const fmtY = o.yTickFormat ?? formatNumber;
  const fmtX = o.xTickFormat ?? formatNumber;
  const tickLabelW = Math.max(...ticks.map((t) => textWidth(fmtY(t), 11)), 10);
  const legend: LegendItem[] = [
    ...o.categories.map((c, i): LegendItem => ({ label: c, color: colorOf(c, i), kind: "box" })),
    ...(o.lines ?? []).map((s, i): LegendItem => ({ label: s.name, color: lineColors[i]!, kind: s.dashed ? "dash" : "line" })),
  ];
  const l = frame({ width, height, title: o.title, legend, bands, left: Math.ceil(34 + tickLabelW), xDomain });
  const y = (v: number): number => l.bottom - (Math.min(Math.max(v, 0), hi) / hi) * (l.bottom - l.top);
  const ya = yAxis(l, ticks, [], y, o.yLabel, fmtY);
  const body = [...l.parts, ...ya.grid];
  const pxW = Math.abs(l.x(xDomain[0] + bw) - l.x(xDomain[0]));
  const inset = pxW >= 4 ? pxW * 0.12 : 0;
  o.rows.forEach((row, ri) => {
    const x0 = l.x(row.x) + inset / 2;
    const w = Math.max(0.6, l.x(row.x + bw) - l.x(row.x) - inset);
    let acc = 0;
    const rects: string[] = [];
    const tip = o.categories.map((c) => `${c} ${formatNumber(row.values[c] ?? 0)}`).join(", ");
    o.categories.forEach((c, i) => {
      const v = Math.max(0, row.values[c] ?? 0);
      if (v <= 0) return;
      const yTop = y(acc + v);
      const yBot = y(acc);
      acc += v;
      rects.push(`<rect x="${r1(x0)}" y="${r1(yTop)}" width="${r1(w)}" height="${r1(Math.max(0.5, yBot - yTop))}" fill="${colorOf(c, i)}"/>`);
    });
    if (rects.length) body.push(`<g><title>${escapeXml(`${fmtX(row.x)}: ${tip} (total ${formatNumber(totals[ri]!)})`)}</title>${rects.join("")}</g>`);
  });
  body.push(...xAxis(l, xDomain, o.xLabel, fmtX, false));
  (o.lines ?? []).forEach((s, i) => body.push(...drawSeries(s, lineColors[i]!, l.x, y, false)));
  body.push(...l.bandLabels, ...ya.labels);
  return svgDoc(width, height, o.title, body);
}

function luminance(hex: string): number {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex);
  if (!m) return 1;
  const n = parseInt(m[1]!, 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!;
}

/** One row of coloured segments per label: e.g. breaker state and the fault timeline per origin. */
export function stateTimeline(o: StateTimelineOptions): string {
  const width = o.width ?? 900;
  const bands = o.bands ?? [];
  const fmtX = o.xTickFormat ?? formatNumber;
  const fmtTip = o.tipFormat ?? fmtX;
  const segs = o.rows.flatMap((r) => r.segments);
  const xDomain = o.xDomain ?? domainOf([...segs.flatMap((s) => [s.from, s.to]), ...bands.flatMap((b) => [b.from, b.to])], [0, 1]);
  const present = new Set(segs.map((s) => s.state));
  const order = [...Object.keys(o.colors).filter((k) => present.has(k)), ...[...present].filter((k) => !(k in o.colors))];
  const colorOf = (state: string): string => o.colors[state] ?? PALETTE[order.indexOf(state) % PALETTE.length]!;
  const legend: LegendItem[] = order.map((s) => ({ label: s, color: colorOf(s), kind: "box" }));
  const labelW = Math.max(...o.rows.map((r) => textWidth(r.label, 12)), 20);
  const rowPitch = 34;
  // Height: header and strip are measured by a dry run of the layout with a tall canvas.
  const probe = frame({ width, height: 1000, title: o.title, legend, bands, left: Math.ceil(labelW + 22), xDomain });
  const height = o.height ?? Math.max(150, probe.top + o.rows.length * rowPitch + 10 + 40);
  const l = frame({ width, height, title: o.title, legend, bands, left: Math.ceil(labelW + 22), xDomain });
  const pitch = (l.bottom - l.top) / Math.max(1, o.rows.length);
  const barH = Math.min(24, pitch * 0.72);
  const body = [...l.parts];
  o.rows.forEach((row, i) => {
    const cy = l.top + pitch * (i + 0.5);
    const barTop = cy - barH / 2;
    body.push(`<text x="${l.left - 8}" y="${r1(cy + 4)}" font-size="12" text-anchor="end" fill="${INK}">${escapeXml(row.label)}</text>`);
    body.push(`<rect x="${l.left}" y="${r1(barTop)}" width="${r1(l.right - l.left)}" height="${r1(barH)}" fill="#f3f3f3" stroke="#d0d0d0" stroke-width="0.6"/>`);
    // Merge touching segments of the same state so that labels sit once per run.
    const merged: TimelineSegment[] = [];
    for (const s of [...row.segments].filter((s) => s.to > s.from).sort((a, b) => a.from - b.from)) {
      const last = merged[merged.length - 1];
      if (last && last.state === s.state && Math.abs(last.to - s.from) < 1e-9) last.to = s.to;
      else merged.push({ ...s });
    }
    const markers: string[] = [];
    for (const s of merged) {
      // Drawn at its real start and end: no minimum width, or a 49 ms state would look like 150 ms.
      const sx = l.x(s.from);
      const sw = l.x(s.to) - sx;
      if (!(sw > 0)) continue;
      const fill = colorOf(s.state);
      const tip = escapeXml(`${row.label}: ${s.state} from ${fmtTip(s.from)} to ${fmtTip(s.to)}`);
      body.push(`<rect x="${r2(sx)}" y="${r1(barTop)}" width="${r2(sw)}" height="${r1(barH)}" fill="${fill}" data-state="${escapeXml(s.state)}"><title>${tip}</title></rect>`);
      if (sw < THIN_SEGMENT_PX) {
        // A thin state gets a small marker above the bar, in its colour, pointing at it.
        const mx = sx + sw / 2;
        markers.push(
          `<path d="M${r2(mx - 3.5)},${r1(barTop - 5.5)}L${r2(mx + 3.5)},${r1(barTop - 5.5)}L${r2(mx)},${r1(barTop - 0.5)}Z" fill="${fill}" stroke="#ffffff" stroke-width="0.6" data-marker="${escapeXml(s.state)}"><title>${tip}</title></path>`,
        );
      }
      if (textWidth(s.state, 10.5) + 8 <= sw) {
        const ink = luminance(fill) > 0.35 ? "#1a1a1a" : "#ffffff";
        body.push(`<text x="${r1(sx + sw / 2)}" y="${r1(cy + 3.8)}" font-size="10.5" text-anchor="middle" fill="${ink}">${escapeXml(s.state)}</text>`);
      }
    }
    body.push(...markers);
  });
  body.push(...xAxis(l, xDomain, o.xLabel ?? "", fmtX, false));
  body.push(...l.bandLabels);
  return svgDoc(width, height, o.title, body);
}
