/**
 * The dashboard page: one self-contained HTML file (inline SVG charts, no scripts, no external
 * fetches) built from the panels' result rows, with the drill's fault phases shaded on every
 * time chart. The same renderer serves production (SQL API) and local drill data.
 */
import { escapeXml, lineChart, segmentsFromChanges, stackedBars, stateTimeline, type Band, type LineSeries, type TimelineSegment } from "../drill/svg.ts";
import { BREAKER_COLORS, BREAKER_TRIP_COLOR, DRILL_TIME_LABEL, FAILURE_COLORS, OUTCOME_COLORS, QUANTILE_COLORS, TARGET_LINE_COLOR } from "../lib/palette.ts";
import { htmlTable } from "./html-table.ts";
import { overallTotals, type PanelName, type Row, type Window } from "./queries.ts";
import { failoversTable, regionPanels, routingChangesTable, type ChartAxis } from "./render-regions.ts";
import { writesSection } from "./render-writes.ts";
import { epochMs } from "./time.ts";

export type PanelRows = Record<PanelName, Row[]>;

export interface PageInput {
  title: string;
  source: string;
  window: Window;
  rows: PanelRows;
  /**
   * A drill's start (epoch ms: the load's start, the zero of its report). When set, every chart's
   * x axis is seconds since it, as in the drill report, and `bands` are in seconds since it too.
   * Without it (production) the axis is clock time (UTC).
   */
  drillStartMs?: number;
  /** Fault phases to shade: seconds since drillStartMs when set, else from the window's start (drills only). */
  bands?: Band[];
  /** Links shown under the title, e.g. back to the drill report. */
  links?: { href: string; label: string }[];
}

/** Seconds from the window start for a ClickHouse time string ('2026-11-22 12:00:05[.123]', UTC). */
export function secondsFrom(windowFrom: number, t: string | number): number {
  return (epochMs(t) - Math.floor(windowFrom / 1000) * 1000) / 1000;
}

/** The part of a drill's report.json that places its dashboard on the report's time axis. */
export interface DrillTimes {
  /** ISO time the drill command started (a moment before the load). */
  startedAt: string;
  /** Epoch ms the load started: the zero of the report's times (reports written since it was added). */
  loadStartedAtEpochMs?: number;
  phaseWindows: { name: string; fromS: number; toS: number; fault: boolean }[];
}

/**
 * The drill dashboard's time axis: its zero (the report's) and the fault phases to shade, in
 * seconds since it. Older reports have no load start; their command start stands in for it.
 */
export function drillTimeAxis(report: DrillTimes): { drillStartMs: number; bands: Band[] } {
  const drillStartMs = report.loadStartedAtEpochMs ?? Date.parse(report.startedAt);
  return { drillStartMs, bands: report.phaseWindows.filter((p) => p.fault).map((p) => ({ from: p.fromS, to: p.toS, label: p.name })) };
}

/** x (seconds) of a row's time: since the drill's start, else since the window's start. */
type XOf = (t: string | number) => number;

function xOfFor(input: PageInput): XOf {
  const zero = input.drillStartMs;
  return zero === undefined ? (t) => secondsFrom(input.window.from, t) : (t) => (epochMs(t) - zero) / 1000;
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

/** Rows of one panel summed over origins (or kept for one), keyed by bucket start in seconds. */
function byTime(rows: Row[], xOf: XOf, origin: string | undefined, columns: string[]): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const row of rows) {
    if (origin !== undefined && row["origin"] !== origin) continue;
    const x = xOf(row["t"]!);
    const acc = out.get(x) ?? Object.fromEntries(columns.map((c) => [c, 0]));
    for (const c of columns) acc[c]! += num(row[c]);
    out.set(x, acc);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function series(map: Map<number, Record<string, number>>, column: string, name: string, color?: string): LineSeries {
  return { name, color, points: [...map].map(([x, v]) => [x, v[column]!] as [number, number]) };
}

function fmtClock(windowFrom: number, stepS: number, ms = false): (v: number) => string {
  return (v) => {
    const d = new Date(Math.floor(windowFrom / 1000) * 1000 + v * 1000);
    return d.toISOString().slice(11, ms ? 23 : stepS < 60 ? 19 : 16);
  };
}

/** x domain, tick format and label: seconds since the drill's start for a drill, clock time otherwise. */
function timeAxis(input: PageInput, xOf: XOf): { xDomain: [number, number]; xTickFormat?: (v: number) => string; tipFormat: (v: number) => string; xLabel: string } {
  const w = input.window;
  if (input.drillStartMs === undefined) {
    return { xDomain: [0, Math.max(w.stepS, (w.to - w.from) / 1000)], xTickFormat: fmtClock(w.from, w.stepS), tipFormat: fmtClock(w.from, w.stepS, true), xLabel: "time (UTC)" };
  }
  // From the drill's start (or the first bucket, when one starts before it) to the window's end.
  const starts = Object.values(input.rows).flatMap((rows) => rows.filter((r) => r["t"] !== undefined).map((r) => xOf(r["t"]!)));
  const lo = Math.min(0, ...starts.filter(Number.isFinite));
  const hi = Math.max(lo + w.stepS, (w.to - input.drillStartMs) / 1000);
  return { xDomain: [lo, hi], tipFormat: (v) => `${v.toFixed(3)} s`, xLabel: DRILL_TIME_LABEL };
}

/**
 * The panels the page draws as charts, each in a `data-panel` block (the per-origin ones once per
 * origin, the region ones once): the browser check wants data in every one. The rest are tables.
 */
export const CHART_PANELS: readonly PanelName[] = ["edge_fallback_triggered", "cache_miss_rate", "answers", "latency", "stale_age", "errors", "breaker_transitions", "region_share", "ramp"];

interface Panel {
  panel: PanelName;
  /** Result rows behind this chart (for this origin): 0 means an empty panel. */
  rows: number;
  svg: string;
}

function charts(input: PageInput, origin: string | undefined): Panel[] {
  const { window: w, rows } = input;
  const bands = input.bands ?? [];
  const xOf = xOfFor(input);
  const { tipFormat, ...axis } = timeAxis(input, xOf);
  const xDomain = axis.xDomain;
  const perStep = `per ${w.stepS} s`;
  const common = { bands, ...axis };
  const out: Panel[] = [];
  const count = (panel: PanelName) => rows[panel].filter((r) => origin === undefined || r["origin"] === origin).length;
  const push = (panel: PanelName, svg: string) => out.push({ panel, rows: count(panel), svg });

  const triggered = byTime(rows.edge_fallback_triggered, xOf, origin, ["fallback_answers", "fallback_misses", "breaker_trips"]);
  push("edge_fallback_triggered",
    lineChart({
      ...common,
      title: "edge_fallback_triggered: answers that needed the fallback",
      yLabel: `answers ${perStep}`,
      series: [
        series(triggered, "fallback_answers", "served from a copy", OUTCOME_COLORS.lkg_served),
        series(triggered, "fallback_misses", "no usable copy", OUTCOME_COLORS.no_lkg),
        series(triggered, "breaker_trips", "breaker trips", BREAKER_TRIP_COLOR),
      ],
    }),
  );

  const miss = byTime(rows.cache_miss_rate, xOf, origin, ["lookups", "misses"]);
  push("cache_miss_rate",
    lineChart({
      ...common,
      title: "cache_miss_rate: LKG lookups that found no usable copy",
      yLabel: "miss rate (%)",
      yDomain: [0, 100],
      yTickFormat: (v) => `${v} %`,
      series: [{ name: "miss rate", color: OUTCOME_COLORS.no_lkg, points: [...miss].map(([x, v]) => [x, v["lookups"]! > 0 ? (100 * v["misses"]!) / v["lookups"]! : Number.NaN] as [number, number]) }],
    }),
  );

  const outcomes = ["origin_ok", "lkg_served", "no_lkg", "origin_error", "rejected"] as const;
  const answers = byTime(rows.answers, xOf, origin, ["answers", ...outcomes]);
  push("answers",
    stackedBars({
      ...common,
      title: "Answers by outcome (fallback share = lkg_served / all)",
      yLabel: `answers ${perStep}`,
      categories: [...outcomes],
      colors: Object.fromEntries(outcomes.map((o) => [o, OUTCOME_COLORS[o]])),
      rows: [...answers].map(([x, v]) => ({ x, values: v })),
      barWidth: w.stepS,
    }),
  );

  const latency = byTime(rows.latency, xOf, origin, ["p50_ms", "p95_ms", "p99_ms"]);
  if (origin === undefined && new Set(rows.latency.map((r) => r["origin"])).size > 1) {
    // Quantiles do not add up across origins: the overall view shows the worst origin's.
    for (const [x, v] of latency) for (const k of Object.keys(v)) v[k] = Math.max(...rows.latency.filter((r) => xOf(r["t"]!) === x).map((r) => num(r[k])));
  }
  push("latency",
    lineChart({
      ...common,
      title: "Latency to the answer's headers (weighted quantiles)",
      yLabel: "ms",
      yLog: true,
      horizontalLines: [{ y: 50, label: "50 ms target", color: TARGET_LINE_COLOR }],
      series: [series(latency, "p50_ms", "p50", QUANTILE_COLORS["p50"]), series(latency, "p95_ms", "p95", QUANTILE_COLORS["p95"]), series(latency, "p99_ms", "p99", QUANTILE_COLORS["p99"])],
    }),
  );

  const age = byTime(rows.stale_age, xOf, origin, ["p50_s", "p95_s", "max_s"]);
  push("stale_age",
    lineChart({
      ...common,
      title: "Age of the copies served",
      yLabel: "seconds",
      yDomain: [0, 35],
      horizontalLines: [{ y: 30, label: "30 s cap", color: TARGET_LINE_COLOR }],
      series: [series(age, "p50_s", "p50", QUANTILE_COLORS["p50"]), series(age, "p95_s", "p95", QUANTILE_COLORS["p95"]), series(age, "max_s", "max", QUANTILE_COLORS["max"])],
    }),
  );

  const classes = ["timeout", "connection", "http_5xx", "slow", "breaker_open"];
  const errors = byTime(rows.errors, xOf, origin, [...classes, "no_lkg"]);
  push("errors",
    stackedBars({
      ...common,
      title: "Why the origin path failed (answers by failure class)",
      yLabel: `answers ${perStep}`,
      categories: classes,
      colors: FAILURE_COLORS,
      rows: [...errors].map(([x, v]) => ({ x, values: v })),
      lines: [series(errors, "no_lkg", "of which no copy to give", OUTCOME_COLORS.no_lkg)],
      barWidth: w.stepS,
    }),
  );

  const transitions = rows.breaker_transitions.filter((r) => origin === undefined || r["origin"] === origin);
  const origins = [...new Set(transitions.map((r) => String(r["origin"])))];
  if (origins.length === 0) origins.push(origin ?? "all");
  push("breaker_transitions",
    stateTimeline({
      ...common,
      tipFormat,
      title: "Breaker state (from its transitions)",
      colors: BREAKER_COLORS,
      rows: origins.flatMap((o) => breakerRows(o, transitions.filter((r) => String(r["origin"]) === o), xOf, xDomain)),
    }),
  );
  return out;
}

/**
 * One origin's breaker rows, each state from its real start to its real end: the object's
 * decisions, and an isolate's own in a row of their own when there are any (as in the drill report).
 */
function breakerRows(origin: string, transitions: Row[], xOf: XOf, xDomain: [number, number]): { label: string; segments: TimelineSegment[] }[] {
  const changes = (rs: Row[]) => rs.map((r) => ({ at: xOf(r["t"]!), to: String(r["to_state"]), from: String(r["from_state"] ?? "") }));
  const isolate = transitions.filter((r) => r["source"] === "isolate");
  const object = transitions.filter((r) => r["source"] !== "isolate");
  const rows = [{ label: isolate.length ? `${origin} (object)` : origin, segments: segmentsFromChanges(changes(object), xDomain[0], xDomain[1]) }];
  if (isolate.length) rows.push({ label: `${origin} (isolate alone)`, segments: segmentsFromChanges(changes(isolate), xDomain[0], xDomain[1]) });
  return rows;
}

function totalsTable(rows: Row[]): string {
  const cols = ["origin", "answers", "edge_fallback_triggered", "lkg_served", "no_lkg", "cache_miss_rate", "breaker_trips"];
  const all = overallTotals(rows);
  const cell = (c: string, v: unknown) => (c === "cache_miss_rate" ? `${(100 * num(v)).toFixed(1)} %` : escapeXml(String(v)));
  const body = [...rows, ...(rows.length > 1 ? [all] : [])].map((r) => `<tr>${cols.map((c) => `<td>${cell(c, r[c])}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${cols.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function transitionsTable(rows: Row[], drillStartMs: number | undefined): string {
  if (rows.length === 0) return "<p>No breaker transitions in this window.</p>";
  // A drill's transitions also in seconds since its start, the report's "at (s)".
  const since = drillStartMs === undefined ? [] : ["at (s)"];
  const cols = [...since, "t", "origin", "from_state", "to_state", "cause", "source", "attempt", "open_ms"];
  return htmlTable(cols, rows, (r, c) => (c === "at (s)" ? ((epochMs(r["t"]!) - drillStartMs!) / 1000).toFixed(3) : String(r[c] ?? "")));
}

/** Routes whose failures the health check dismissed: the origin was up, the route was not. */
function failingRoutesTable(rows: Row[]): string {
  if (rows.length === 0) return "<p>No failing routes in this window: no health check found the origin up while requests failed.</p>";
  return htmlTable(["origin", "routes", "failures", "checks", "last_seen"], rows);
}

/** The fleet's panels (regions, writes) share one time axis with the per-origin charts. */
function fleetAxis(input: PageInput): { axis: ChartAxis; xOf: XOf } {
  const xOf = xOfFor(input);
  const { xDomain, xTickFormat, xLabel } = timeAxis(input, xOf);
  return { axis: { bands: input.bands ?? [], xDomain, xTickFormat, xLabel }, xOf };
}

/** The region panels, once for the whole fleet: the regions are what they compare. */
function regionsSection(input: PageInput): string {
  const { axis, xOf } = fleetAxis(input);
  return regionPanels(input.rows, axis, xOf, input.window.stepS)
    .map((p) => `<div class="panel" data-panel="${p.panel}" data-rows="${p.rows}"><p class="caption">${escapeXml(p.caption)}</p>\n${p.svgs.join("")}</div>`)
    .join("\n");
}

/** The write panels, once for the fleet: one writer takes every write. */
function writesPart(input: PageInput): string {
  const { axis, xOf } = fleetAxis(input);
  return writesSection(input.rows, axis, xOf, input.window.stepS, input.drillStartMs);
}

export function renderPage(input: PageInput): string {
  const { window: w, rows } = input;
  const origins = [...new Set(rows.totals.map((r) => String(r["origin"])))].sort();
  const sections = [
    { id: "all", heading: origins.length > 1 ? "All origins" : `Origin ${origins[0] ?? "(none)"}`, origin: undefined as string | undefined },
    ...(origins.length > 1 ? origins.map((o) => ({ id: `origin-${o}`, heading: `Origin ${o}`, origin: o as string | undefined })) : []),
  ];
  const links = (input.links ?? []).map((l) => `<a href="${escapeXml(l.href)}">${escapeXml(l.label)}</a>`).join(" · ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(input.title)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
  h1 { font-size: 22px; margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; }
  .meta { color: #555; } table { border-collapse: collapse; margin: 12px 0; }
  th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; } th { background: #f5f5f5; }
  td:first-child, th:first-child { text-align: left; } .panel { margin: 18px 0; } svg { max-width: 100%; height: auto; }
  .caption { color: #444; margin: 6px 0; }
</style>
</head>
<body>
<h1>${escapeXml(input.title)}</h1>
<p class="meta">${escapeXml(input.source)} · ${new Date(w.from).toISOString()} to ${new Date(w.to).toISOString()} · step ${w.stepS} s${input.drillStartMs !== undefined ? ` · time axis: seconds since the drill's start, ${new Date(input.drillStartMs).toISOString()}` : ""}${input.bands?.length ? " · shaded: fault phases" : ""}</p>
${links ? `<p>${links}</p>` : ""}
<h2>Totals</h2>
${totalsTable(rows.totals)}
${sections.map((s) => `<h2 id="${s.id}">${escapeXml(s.heading)}</h2>\n${charts(input, s.origin).map((p) => `<div class="panel" data-panel="${p.panel}" data-rows="${p.rows}">${p.svg}</div>`).join("\n")}`).join("\n")}
<h2>Breaker transitions</h2>
${transitionsTable(rows.breaker_transitions, input.drillStartMs)}
<h2>Failing routes</h2>
${failingRoutesTable(rows.failing_routes)}
<h2 id="regions">Regions</h2>
${regionsSection(input)}
<h2>Failovers</h2>
<p class="caption">${escapeXml("Which region's failures did another region absorb? Requests tried first at one region and answered by the next, per pair and the routing reason that chose the first, with when last seen.")}</p>
${failoversTable(rows.failovers, input.drillStartMs)}
<h2>Routing changes</h2>
<p class="caption">${escapeXml("What did the fleet's routing controls do, when and why? Evacuations, drains, sheds, restores, regions leaving and returning, ramp steps, aborts and leader changes, in order, with who decided (admin, isolate, object).")}</p>
${routingChangesTable(rows.routing_changes, input.drillStartMs)}
<h2 id="writes">Writes</h2>
${writesPart(input)}
</body>
</html>
`;
}
