/** The dashboard page on known rows: the drill report's time axis and palette, and the breaker state at its transitions' real times. */
import { describe, expect, it } from "vitest";
import { OUTCOME_COLORS } from "../lib/palette.ts";
import { renderCharts } from "../drill/report.ts";
import { outageInput } from "../drill/report-check.ts";
import { stateRects, xScale } from "../drill/svg-geometry.ts";
import type { Window } from "./queries.ts";
import { drillTimeAxis, renderPage, type PageInput, type PanelRows } from "./render.ts";

/** The load started at .840 of a clock second, as drills do: the SQL's 1 s buckets are not the drill's seconds. */
const LOAD_START = Date.parse("2026-11-22T12:00:00.840Z");
const clock = (ms: number): string => new Date(ms).toISOString().replace("T", " ").replace("Z", "");

function rows(): PanelRows {
  const transition = (atMs: number, from: string, to: string, cause: string, source = "object") => ({ t: clock(LOAD_START + atMs), origin: "primary", from_state: from, to_state: to, cause, source, attempt: 1, open_ms: 0 });
  const second = (s: number) => clock(Math.floor((LOAD_START + s * 1000) / 1000) * 1000).slice(0, 19);
  return {
    totals: [{ origin: "primary", answers: 40, edge_fallback_triggered: 10, lkg_served: 10, no_lkg: 0, lookups: 10, lookup_misses: 0, cache_miss_rate: 0, breaker_trips: 1 }],
    edge_fallback_triggered: [0, 20].map((s) => ({ t: second(s), origin: "primary", fallback_answers: s ? 10 : 0, fallback_misses: 0, breaker_trips: s ? 1 : 0 })),
    cache_miss_rate: [{ t: second(20), origin: "primary", lookups: 10, misses: 0 }],
    answers: [0, 20].map((s) => ({ t: second(s), origin: "primary", answers: 20, origin_ok: s ? 10 : 20, lkg_served: s ? 10 : 0, no_lkg: 0, origin_error: 0, rejected: 0, fallback_share: s ? 0.5 : 0 })),
    latency: [0, 20].map((s) => ({ t: second(s), origin: "primary", p50_ms: 2, p95_ms: 5, p99_ms: 9 })),
    stale_age: [{ t: second(20), origin: "primary", p50_s: 3, p95_s: 8, max_s: 9 }],
    errors: [{ t: second(20), origin: "primary", timeout: 10, connection: 0, http_5xx: 0, slow: 0, breaker_open: 0, no_lkg: 0 }],
    breaker_transitions: [
      transition(15_300, "closed", "open", "failure"),
      transition(25_300, "open", "half-open", "probe-granted"),
      transition(25_349, "half-open", "closed", "probe-success"),
    ],
    failing_routes: [{ origin: "primary", routes: "/err /report", failures: 30, checks: 3, last_seen: second(40) }],
  };
}

const window: Window = { dataset: "edge_fallback", from: LOAD_START - 770, to: LOAD_START + 60_000, stepS: 1 };
const report = {
  startedAt: new Date(LOAD_START - 770).toISOString(),
  loadStartedAtEpochMs: LOAD_START,
  phaseWindows: [
    { name: "baseline", fromS: 0, toS: 20, fault: false },
    { name: "blackhole", fromS: 20, toS: 40, fault: true },
    { name: "recovery", fromS: 40, toS: 60, fault: false },
  ],
};

function panel(html: string, name: string): string {
  const m = new RegExp(`<div class="panel" data-panel="${name}" data-rows="\\d+">([\\s\\S]*?)</div>`).exec(html);
  expect(m, name).not.toBeNull();
  return m![1]!;
}

describe("dashboard page", () => {
  const drill: PageInput = { title: "Drill", source: "test", window, rows: rows(), ...drillTimeAxis(report) };

  it("puts a drill's data on the report's axis: seconds since the drill's start", () => {
    const html = renderPage(drill);
    for (const name of ["answers", "latency", "breaker_transitions"]) expect(panel(html, name)).toContain(">time since drill start (s)</text>");
    expect(html).not.toContain("time (UTC)");
    const breaker = panel(html, "breaker_transitions");
    const x = xScale(breaker);
    const rects = stateRects(breaker, "primary");
    expect(rects.map((r) => r.state)).toEqual(["closed", "open", "half-open", "closed"]);
    // The opening at 15.3 s since the drill's start, as in the report (not at the clock second).
    expect(Math.abs(rects[1]!.x - x(15.3))).toBeLessThan(0.1);
    expect(Math.abs(rects[2]!.width - (x(25.349) - x(25.3)))).toBeLessThan(0.02);
    expect(html).toContain("<tr><td>15.300</td><td>2026-11-22 12:00:16.140</td><td>primary</td><td>closed</td><td>open</td>");
    // The fault phase is shaded from 20 s to 40 s of the drill.
    const band = /<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="#fde7e4"\/>/.exec(breaker)!;
    expect(Math.abs(Number(band[1]) - x(20))).toBeLessThan(0.15);
    expect(Math.abs(Number(band[1]) + Number(band[2]) - x(40))).toBeLessThan(0.2);
  });

  it("draws a breaker opening at the same x in the report's chart and the dashboard's panel", () => {
    const input = {
      ...outageInput(),
      breakerTransitions: rows().breaker_transitions.map((r) => ({ at: Date.parse(`${String(r["t"]).replace(" ", "T")}Z`) - LOAD_START, to: String(r["to_state"]), from: String(r["from_state"]) })),
    };
    const inReport = stateRects(renderCharts(input).breaker, "breaker");
    const reportX = xScale(renderCharts(input).breaker);
    const dashboard = panel(renderPage(drill), "breaker_transitions");
    const dashX = xScale(dashboard);
    const inDashboard = stateRects(dashboard, "primary");
    // Same seconds on both axes (the charts' widths and margins may differ).
    const reportS = (px: number) => (15.3 * (px - reportX(0))) / (reportX(15.3) - reportX(0));
    const dashS = (px: number) => (15.3 * (px - dashX(0))) / (dashX(15.3) - dashX(0));
    expect(Math.abs(reportS(inReport[1]!.x) - dashS(inDashboard[1]!.x))).toBeLessThan(0.01);
  });

  it("colours each outcome as the drill report does", () => {
    const html = renderPage(drill);
    const report = renderCharts(outageInput()).status;
    for (const [color, reportLabel] of [
      [OUTCOME_COLORS.lkg_served, "fallback (LKG)"],
      [OUTCOME_COLORS.origin_ok, "2xx from origin"],
    ] as const) {
      expect(panel(html, "answers")).toContain(`fill="${color}"`);
      expect(report).toMatch(new RegExp(`<rect [^>]*fill="${color}"/><text [^>]*>${reportLabel.replace(/[()]/g, "\\$&")}</text>`));
    }
  });

  it("lists failing routes (failures a passing health check dismissed, by route class) apart from the breaker", () => {
    const html = renderPage(drill);
    const section = html.slice(html.indexOf("<h2>Failing routes</h2>"));
    expect(section).toContain("<tr><td>primary</td><td>/err /report</td><td>30</td><td>3</td>");
    const none = renderPage({ ...drill, rows: { ...rows(), failing_routes: [] } });
    expect(none).toContain("No failing routes in this window");
  });

  it("keeps clock time (UTC) for production, with no drill", () => {
    const html = renderPage({ title: "prod", source: "test", window, rows: rows() });
    const latency = panel(html, "latency");
    expect(latency).toContain(">time (UTC)</text>");
    expect(latency).toContain(">12:00:10</text>");
    expect(html).not.toContain("since drill start");
  });
});
