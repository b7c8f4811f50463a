/**
 * The dashboard page: one self-contained HTML file (inline SVG charts, no scripts, no external
 * fetches) built from the panels' result rows, with the drill's fault phases shaded on every
 * time chart. The same renderer serves production (SQL API) and local drill data.
 */
import { BREAKER_COLORS, escapeXml, lineChart, stackedBars, stateTimeline, type Band, type LineSeries } from "../drill/svg.ts";
import { overallTotals, type PanelName, type Row, type Window } from "./queries.ts";

export type PanelRows = Record<PanelName, Row[]>;

export interface PageInput {
  title: string;
  source: string;
  window: Window;
  rows: PanelRows;
  /** Fault phases to shade, in seconds from the window's start (drills only). */
  bands?: Band[];
  /** Links shown under the title, e.g. back to the drill report. */
  links?: { href: string; label: string }[];
}

/** Seconds from the window start for a ClickHouse time string ('2026-11-22 12:00:05[.123]', UTC). */
export function secondsFrom(windowFrom: number, t: string | number): number {
  const ms = typeof t === "number" ? t * 1000 : Date.parse(`${String(t).replace(" ", "T")}Z`);
  return (ms - Math.floor(windowFrom / 1000) * 1000) / 1000;
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

/** Rows of one panel summed over origins (or kept for one), keyed by bucket start in seconds. */
function byTime(rows: Row[], windowFrom: number, origin: string | undefined, columns: string[]): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const row of rows) {
    if (origin !== undefined && row["origin"] !== origin) continue;
    const x = secondsFrom(windowFrom, row["t"]!);
    const acc = out.get(x) ?? Object.fromEntries(columns.map((c) => [c, 0]));
    for (const c of columns) acc[c]! += num(row[c]);
    out.set(x, acc);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function series(map: Map<number, Record<string, number>>, column: string, name: string, color?: string): LineSeries {
  return { name, color, points: [...map].map(([x, v]) => [x, v[column]!] as [number, number]) };
}

function fmtClock(windowFrom: number, stepS: number): (v: number) => string {
  return (v) => {
    const d = new Date(Math.floor(windowFrom / 1000) * 1000 + v * 1000);
    return stepS < 60 ? d.toISOString().slice(11, 19) : d.toISOString().slice(11, 16);
  };
}

interface Panel {
  panel: PanelName;
  /** Result rows behind this chart (for this origin): 0 means an empty panel. */
  rows: number;
  svg: string;
}

function charts(input: PageInput, origin: string | undefined): Panel[] {
  const { window: w, rows } = input;
  const bands = input.bands ?? [];
  const xDomain: [number, number] = [0, Math.max(w.stepS, (w.to - w.from) / 1000)];
  const xTickFormat = fmtClock(w.from, w.stepS);
  const perStep = `per ${w.stepS} s`;
  const common = { bands, xDomain, xTickFormat, xLabel: "time (UTC)" };
  const out: Panel[] = [];
  const count = (panel: PanelName) => rows[panel].filter((r) => origin === undefined || r["origin"] === origin).length;
  const push = (panel: PanelName, svg: string) => out.push({ panel, rows: count(panel), svg });

  const triggered = byTime(rows.edge_fallback_triggered, w.from, origin, ["fallback_answers", "fallback_misses", "breaker_trips"]);
  push("edge_fallback_triggered",
    lineChart({
      ...common,
      title: "edge_fallback_triggered: answers that needed the fallback",
      yLabel: `answers ${perStep}`,
      series: [series(triggered, "fallback_answers", "served from a copy", "#2e7d32"), series(triggered, "fallback_misses", "no usable copy", "#c62828"), series(triggered, "breaker_trips", "breaker trips", "#6a1b9a")],
    }),
  );

  const miss = byTime(rows.cache_miss_rate, w.from, origin, ["lookups", "misses"]);
  push("cache_miss_rate",
    lineChart({
      ...common,
      title: "cache_miss_rate: LKG lookups that found no usable copy",
      yLabel: "miss rate (%)",
      yDomain: [0, 100],
      yTickFormat: (v) => `${v} %`,
      series: [{ name: "miss rate", color: "#c62828", points: [...miss].map(([x, v]) => [x, v["lookups"]! > 0 ? (100 * v["misses"]!) / v["lookups"]! : Number.NaN] as [number, number]) }],
    }),
  );

  const outcomes = ["origin_ok", "lkg_served", "no_lkg", "origin_error", "rejected"];
  const answers = byTime(rows.answers, w.from, origin, ["answers", ...outcomes]);
  push("answers",
    stackedBars({
      ...common,
      title: "Answers by outcome (fallback share = lkg_served / all)",
      yLabel: `answers ${perStep}`,
      categories: outcomes,
      colors: { origin_ok: "#90a4ae", lkg_served: "#2e7d32", no_lkg: "#c62828", origin_error: "#ef6c00", rejected: "#6d4c41" },
      rows: [...answers].map(([x, v]) => ({ x, values: v })),
      barWidth: w.stepS,
    }),
  );

  const latency = byTime(rows.latency, w.from, origin, ["p50_ms", "p95_ms", "p99_ms"]);
  if (origin === undefined && new Set(rows.latency.map((r) => r["origin"])).size > 1) {
    // Quantiles do not add up across origins: the overall view shows the worst origin's.
    for (const [x, v] of latency) for (const k of Object.keys(v)) v[k] = Math.max(...rows.latency.filter((r) => secondsFrom(w.from, r["t"]!) === x).map((r) => num(r[k])));
  }
  push("latency",
    lineChart({
      ...common,
      title: "Latency to the answer's headers (weighted quantiles)",
      yLabel: "ms",
      yLog: true,
      horizontalLines: [{ y: 50, label: "50 ms target", color: "#c62828" }],
      series: [series(latency, "p50_ms", "p50"), series(latency, "p95_ms", "p95"), series(latency, "p99_ms", "p99")],
    }),
  );

  const age = byTime(rows.stale_age, w.from, origin, ["p50_s", "p95_s", "max_s"]);
  push("stale_age",
    lineChart({
      ...common,
      title: "Age of the copies served",
      yLabel: "seconds",
      yDomain: [0, 35],
      horizontalLines: [{ y: 30, label: "30 s cap", color: "#c62828" }],
      series: [series(age, "p50_s", "p50"), series(age, "p95_s", "p95"), series(age, "max_s", "max", undefined)],
    }),
  );

  const classes = ["timeout", "connection", "http_5xx", "slow", "breaker_open"];
  const errors = byTime(rows.errors, w.from, origin, [...classes, "no_lkg"]);
  push("errors",
    stackedBars({
      ...common,
      title: "Why the origin path failed (answers by failure class)",
      yLabel: `answers ${perStep}`,
      categories: classes,
      colors: { timeout: "#ad1457", connection: "#6a1b9a", http_5xx: "#ef6c00", slow: "#f9a825", breaker_open: "#455a64" },
      rows: [...errors].map(([x, v]) => ({ x, values: v })),
      lines: [series(errors, "no_lkg", "of which no copy to give", "#c62828")],
      barWidth: w.stepS,
    }),
  );

  const transitions = rows.breaker_transitions.filter((r) => origin === undefined || r["origin"] === origin);
  const origins = [...new Set(transitions.map((r) => String(r["origin"])))];
  if (origins.length === 0) origins.push(origin ?? "all");
  push("breaker_transitions",
    stateTimeline({
      ...common,
      title: "Breaker state (from its transitions)",
      colors: BREAKER_COLORS,
      rows: origins.map((o) => ({ label: o, segments: segments(transitions.filter((r) => r["origin"] === o), w, xDomain[1]) })),
    }),
  );
  return out;
}

/** Breaker state intervals from the transitions; closed before the first one. */
function segments(transitions: Row[], w: Window, end: number) {
  const out: { from: number; to: number; state: string }[] = [];
  let state = transitions.length ? String(transitions[0]!["from_state"]) : "closed";
  let at = 0;
  for (const t of transitions) {
    const x = Math.max(0, secondsFrom(w.from, t["t"]!));
    if (x > at) out.push({ from: at, to: x, state });
    state = String(t["to_state"]);
    at = x;
  }
  if (end > at) out.push({ from: at, to: end, state });
  return out;
}

function totalsTable(rows: Row[]): string {
  const cols = ["origin", "answers", "edge_fallback_triggered", "lkg_served", "no_lkg", "cache_miss_rate", "breaker_trips"];
  const all = overallTotals(rows);
  const cell = (c: string, v: unknown) => (c === "cache_miss_rate" ? `${(100 * num(v)).toFixed(1)} %` : escapeXml(String(v)));
  const body = [...rows, ...(rows.length > 1 ? [all] : [])].map((r) => `<tr>${cols.map((c) => `<td>${cell(c, r[c])}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${cols.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function transitionsTable(rows: Row[]): string {
  if (rows.length === 0) return "<p>No breaker transitions in this window.</p>";
  const cols = ["t", "origin", "from_state", "to_state", "cause", "source", "attempt", "open_ms"];
  return `<table><thead><tr>${cols.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>\n${rows
    .map((r) => `<tr>${cols.map((c) => `<td>${escapeXml(String(r[c] ?? ""))}</td>`).join("")}</tr>`)
    .join("\n")}\n</tbody></table>`;
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
</style>
</head>
<body>
<h1>${escapeXml(input.title)}</h1>
<p class="meta">${escapeXml(input.source)} · ${new Date(w.from).toISOString()} to ${new Date(w.to).toISOString()} · step ${w.stepS} s${input.bands?.length ? " · shaded: fault phases" : ""}</p>
${links ? `<p>${links}</p>` : ""}
<h2>Totals</h2>
${totalsTable(rows.totals)}
${sections.map((s) => `<h2 id="${s.id}">${escapeXml(s.heading)}</h2>\n${charts(input, s.origin).map((p) => `<div class="panel" data-panel="${p.panel}" data-rows="${p.rows}">${p.svg}</div>`).join("\n")}`).join("\n")}
<h2>Breaker transitions</h2>
${transitionsTable(rows.breaker_transitions)}
</body>
</html>
`;
}
