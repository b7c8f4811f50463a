/**
 * The dashboard's region panels: which region answered and its share of all answers, each
 * region's return-to-home ramp, the failovers and the fleet's routing changes, from the rows of
 * region_share.sql, ramp.sql, failovers.sql and routing_changes.sql.
 */
import { lineChart, stackedBars, type Band, type LineSeries } from "../drill/svg.ts";
import { NO_REGION_COLOR, REGION_COLORS } from "../lib/palette.ts";
import { htmlTable } from "./html-table.ts";
import type { PanelName, Row } from "./queries.ts";
import { epochMs } from "./time.ts";

/** region_share.sql's name for an answer no region gave (a stored copy, or the worker's own error). */
export const NO_REGION = "(copy or edge error)";

/** The time axis every chart of the page shares. */
export interface ChartAxis {
  bands: Band[];
  xDomain: [number, number];
  xTickFormat?: (v: number) => string;
  xLabel: string;
}

export interface RegionPanel {
  panel: PanelName;
  rows: number;
  /** What the panel answers, shown above it. */
  caption: string;
  svgs: string[];
}

export type XOf = (t: string | number) => number;

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const percentTicks = (v: number): string => `${v} %`;

/** Every region named by the region panels, by name, with an answer no region gave last: one colour each, in every panel. */
export function regionOrder(rows: Row[][]): string[] {
  const names = new Set(rows.flatMap((rs) => rs.map((r) => String(r["region"] ?? ""))));
  const regions = [...names].filter((n) => n !== NO_REGION && n !== "").sort();
  return names.has(NO_REGION) ? [...regions, NO_REGION] : regions;
}

export function colorsOf(order: string[]): Record<string, string> {
  let next = 0;
  return Object.fromEntries(order.map((n) => [n, n === NO_REGION ? NO_REGION_COLOR : REGION_COLORS[next++ % REGION_COLORS.length]!]));
}

/** Answers per step (x, seconds) and region. */
function answersByStep(rows: Row[], xOf: XOf): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const r of rows) {
    const x = xOf(r["t"]!);
    const acc = out.get(x) ?? {};
    const region = String(r["region"]);
    acc[region] = (acc[region] ?? 0) + num(r["answers"]);
    out.set(x, acc);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/**
 * Each region's share (%) of all answers in each step: its answers over the step's total. Done
 * here, not in SQL, because Analytics Engine's SQL has no window functions or joins.
 */
export function regionShares(rows: Row[], xOf: XOf): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const [x, byRegion] of answersByStep(rows, xOf)) {
    const total = Object.values(byRegion).reduce((a, b) => a + b, 0);
    out.set(x, Object.fromEntries(Object.entries(byRegion).map(([region, n]) => [region, total > 0 ? (100 * n) / total : 0])));
  }
  return out;
}

/** One line per region over the steps (x: a step's start) where any region has a value; `missing` stands in where this region has none. */
function linesPerRegion(map: Map<number, Record<string, number>>, order: string[], colors: Record<string, string>, missing: number): LineSeries[] {
  return order.map((region) => ({ name: region, color: colors[region], points: [...map].map(([x, v]) => [x, v[region] ?? missing] as [number, number]) }));
}

/**
 * Each value held flat across its step, so a ramp reads as a staircase (a vertical rise at the
 * step's end) instead of a slope between step starts. A gap (NaN) stays a gap.
 */
function held(series: LineSeries[], stepS: number): LineSeries[] {
  return series.map((s) => ({ ...s, points: s.points.flatMap(([x, y]): [number, number][] => (Number.isFinite(y) ? [[x, y], [x + stepS, y]] : [[x, y]])) }));
}

export function regionPanels(rows: Record<"region_share" | "ramp", Row[]>, axis: ChartAxis, xOf: XOf, stepS: number): RegionPanel[] {
  const order = regionOrder([rows.region_share, rows.ramp]);
  const colors = colorsOf(order);
  const perStep = `per ${stepS} s`;
  const answers = answersByStep(rows.region_share, xOf);
  const ramp = new Map<number, Record<string, number>>();
  for (const r of rows.ramp) {
    const x = xOf(r["t"]!);
    ramp.set(x, { ...ramp.get(x), [String(r["region"])]: num(r["ramp_percent"]) });
  }
  const rampRegions = order.filter((n) => n !== NO_REGION);
  return [
    {
      panel: "region_share",
      rows: rows.region_share.length,
      caption:
        `Which region answered, and what share of all answers did each get? Answers ${perStep} by the region whose answer was passed on (x-edge-region); ` +
        `"${NO_REGION}" is an answer no region gave: a stored copy, or the worker's own 503. Below, each one's share of the step's answers.`,
      svgs: [
        stackedBars({
          ...axis,
          title: "Answers by the region that answered",
          yLabel: `answers ${perStep}`,
          categories: order,
          colors,
          rows: [...answers].map(([x, values]) => ({ x, values })),
          barWidth: stepS,
        }),
        lineChart({
          ...axis,
          title: "Share of all answers by region",
          yLabel: "share of answers (%)",
          yDomain: [0, 100],
          yTickFormat: percentTicks,
          // A region that gave no answer in a step had 0 % of them.
          series: linesPerRegion(regionShares(rows.region_share, xOf), order, colors, 0),
        }),
      ],
    },
    {
      panel: "ramp",
      rows: rows.ramp.length,
      caption:
        "How far back is each region? The return-to-home percent of each region's answers (the share of its weight it may take): 100 when not ramping; " +
        "a repaired region climbs gradual_weights as a staircase. A gap is a step in which it answered nothing (left, evacuated, or held at 0 after an abort).",
      svgs: [
        lineChart({
          ...axis,
          title: "Return-to-home: ramp percent of each region's answers",
          yLabel: "ramp percent of weight (%)",
          yDomain: [0, 100],
          yTickFormat: percentTicks,
          // No answers from a region in a step: no ramp percent to show (a gap, not 0 or a slope).
          series: held(linesPerRegion(ramp, rampRegions, colors, Number.NaN), stepS),
        }),
      ],
    },
  ];
}

/** Seconds since a drill's start, as the drill report's "at (s)". */
export function sinceDrill(t: string | number, drillStartMs: number): string {
  return ((epochMs(t) - drillStartMs) / 1000).toFixed(3);
}

export function failoversTable(rows: Row[], drillStartMs: number | undefined): string {
  if (rows.length === 0) return "<p>No failovers in this window: every answer came from the region tried first.</p>";
  const since = drillStartMs === undefined ? [] : ["last seen (s)"];
  const cols = ["from_region", "to_region", "routing_reason", "failovers", "last_seen", ...since];
  return htmlTable(cols, rows, (r, c) => (c === "last seen (s)" ? sinceDrill(r["last_seen"]!, drillStartMs!) : String(r[c] ?? "")));
}

export function routingChangesTable(rows: Row[], drillStartMs: number | undefined): string {
  if (rows.length === 0) return "<p>No routing changes in this window: no region was evacuated, drained, shed, left, returned or ramped.</p>";
  const since = drillStartMs === undefined ? [] : ["at (s)"];
  const cols = [...since, "t", "region", "action", "reason", "source", "percent", "step", "generation"];
  return htmlTable(cols, rows, (r, c) => (c === "at (s)" ? sinceDrill(r["t"]!, drillStartMs!) : String(r[c] ?? "")));
}

/** One line for the CLI: each region's share of the window's answers, the failovers and the routing changes. */
export function regionSummary(rows: Record<"region_share" | "failovers" | "routing_changes", Row[]>): string | undefined {
  if (rows.region_share.length === 0) return undefined;
  const byRegion = new Map<string, number>();
  for (const r of rows.region_share) byRegion.set(String(r["region"]), (byRegion.get(String(r["region"])) ?? 0) + num(r["answers"]));
  const total = [...byRegion.values()].reduce((a, b) => a + b, 0);
  const shares = regionOrder([rows.region_share]).map((n) => `${n} ${((100 * byRegion.get(n)!) / (total || 1)).toFixed(1)} %`);
  const failovers = rows.failovers.reduce((n, r) => n + num(r["failovers"]), 0);
  const changes = rows.routing_changes.length;
  return `regions: ${shares.join(", ")} of answers; ${failovers} failover${failovers === 1 ? "" : "s"}; ${changes} routing change${changes === 1 ? "" : "s"}`;
}
