/** The dashboard page on known rows: the drill report's time axis and palette, and the breaker state at its transitions' real times. */
import { describe, expect, it } from "vitest";
import { OUTCOME_COLORS } from "../lib/palette.ts";
import { renderCharts } from "../drill/report.ts";
import { outageInput } from "../drill/report-check.ts";
import { stateRects, xScale } from "../drill/svg-geometry.ts";
import type { Window } from "./queries.ts";
import { CHART_PANELS, drillTimeAxis, renderPage, type PageInput, type PanelRows } from "./render.ts";
import { NO_REGION, regionShares } from "./render-regions.ts";
import { WRITE_CHART_PANELS, epochLines } from "./render-writes.ts";
import { epochMs } from "./time.ts";

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
    // Two regions: eu answers most until it leaves at 20 s (us and the copies take over), then
    // returns through a 10 % and a 30 % step to 100 %.
    region_share: [
      { t: second(0), region: "eu", answers: 3 },
      { t: second(0), region: "us", answers: 1 },
      { t: second(20), region: NO_REGION, answers: 2 },
      { t: second(20), region: "us", answers: 6 },
      ...[30, 40, 50].flatMap((s) => [
        { t: second(s), region: "eu", answers: s === 30 ? 1 : s === 40 ? 3 : 5 },
        { t: second(s), region: "us", answers: s === 30 ? 9 : s === 40 ? 7 : 5 },
      ]),
    ],
    // eu at 100 %, away from 20 s (only us answers), back at 30 s: 10 % for two seconds, 30 % for two, then 100 %.
    ramp: [
      { t: second(0), region: "eu", answers: 3, ramp_percent: 100 },
      ...[0, ...Array.from({ length: 15 }, (_, i) => 20 + i)].map((s) => ({ t: second(s), region: "us", answers: 9, ramp_percent: 100 })),
      ...[30, 31, 32, 33, 34].map((s) => ({ t: second(s), region: "eu", answers: 1, ramp_percent: s < 32 ? 10 : s < 34 ? 30 : 100 })),
    ],
    failovers: [
      { from_region: "eu", to_region: "us", routing_reason: "sticky", failovers: 4, last_seen: clock(LOAD_START + 21_000) },
      { from_region: "eu", to_region: "us", routing_reason: "weighted", failovers: 1, last_seen: clock(LOAD_START + 20_500) },
    ],
    routing_changes: [
      { t: clock(LOAD_START + 20_100), region: "eu", action: "left", reason: "3 failures in a row", source: "isolate", percent: 0, step: 0, generation: 4 },
      { t: clock(LOAD_START + 29_000), region: "eu", action: "returned", reason: "3 successes in a row", source: "isolate", percent: 10, step: 0, generation: 5 },
      { t: clock(LOAD_START + 39_000), region: "eu", action: "ramp_step", reason: "step 1: 30%", source: "object", percent: 30, step: 1, generation: 6 },
    ],
    // Writes go to eu until it leaves at 20 s: queued while eu-to-us promotes, delivered by us after.
    write_outcomes: [0, 20, 25].map((s) => ({
      t: second(s), passed: s === 0 ? 8 : 0, queued: s === 20 ? 5 : 0, replayed: s === 25 ? 1 : 0, in_flight: 0, mismatch: s === 0 ? 1 : 0, missing_key: 0, too_large: 0,
      delivered: s === 25 ? 5 : 0, duplicate_dropped: s === 25 ? 1 : 0, retry: s === 20 ? 2 : 0, dead_lettered: 0, replayed_dead: 0,
    })),
    backlog: [20, 25].map((s) => ({ t: second(s), queued_writes: s === 20 ? 5 : 0, oldest_age_s: s === 20 ? 4.2 : 0, dead_letters: 0 })),
    writer: [
      { t: clock(LOAD_START + 20_200), region: "us", action: "promote", reason: "writer eu down", source: "isolate", epoch: 1 },
      { t: clock(LOAD_START + 24_000), region: "us", action: "promote_done", reason: "writer eu down", source: "object", epoch: 2 },
    ],
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

  it("draws every chart panel it names, and only those: the browser check wants data in each", () => {
    const html = renderPage(drill);
    const drawn = [...html.matchAll(/<div class="panel" data-panel="(\w+)" data-rows="(\d+)">/g)].map((m) => m[1]!);
    expect(new Set(drawn)).toEqual(new Set([...CHART_PANELS, ...WRITE_CHART_PANELS]));
    // The write charts once, for the fleet, and only with data.
    expect(drawn.filter((p) => (WRITE_CHART_PANELS as readonly string[]).includes(p))).toEqual([...WRITE_CHART_PANELS]);
    const noWrites = renderPage({ ...drill, rows: { ...rows(), write_outcomes: [], backlog: [], writer: [] } });
    expect(new Set([...noWrites.matchAll(/<div class="panel" data-panel="(\w+)"/g)].map((m) => m[1]!))).toEqual(new Set(CHART_PANELS));
    // The region panels once, for the fleet (the per-origin charts once per origin).
    expect(drawn.filter((p) => p === "region_share" || p === "ramp")).toEqual(["region_share", "ramp"]);
    expect(html).toContain('<div class="panel" data-panel="region_share" data-rows="10">');
    expect(html).toContain('<div class="panel" data-panel="ramp" data-rows="22">');
  });

  it("shows answers by the region that answered, a copy or edge error as its own, each with its share of the step", () => {
    const html = renderPage(drill);
    const share = panel(html, "region_share");
    expect(share).toMatch(/^<p class="caption">Which region answered, and what share of all answers did each get\? /);
    expect(share).toContain("&quot;(copy or edge error)&quot; is an answer no region gave");
    // Stacked answers per step (the bars' tooltips), regions by name and the copies last.
    expect(share).toContain("<title>-0.84: eu 3, us 1, (copy or edge error) 0 (total 4)</title>");
    expect(share).toContain("<title>19.2: eu 0, us 6, (copy or edge error) 2 (total 8)</title>");
    expect(share).toContain(">Share of all answers by region</text>");
    const shares = regionShares(rows().region_share, (t) => (epochMs(t) - LOAD_START) / 1000);
    expect([...shares.values()]).toEqual([
      { eu: 75, us: 25 },
      { [NO_REGION]: 25, us: 75 },
      { eu: 10, us: 90 },
      { eu: 30, us: 70 },
      { eu: 50, us: 50 },
    ]);
  });

  it("draws each region's ramp percent as a staircase, with a gap (not a slope) while it answered nothing", () => {
    const ramp = panel(renderPage(drill), "ramp");
    expect(ramp).toContain("<p class=\"caption\">How far back is each region?");
    // eu (the first region's colour): 100 % in its first second, nothing while away, then 10, 30 and 100 %.
    const eu = [...ramp.matchAll(/<polyline points="([^"]+)" fill="none" stroke="#4c78a8"/g)].map((m) => m[1]!.split(" ").map((p) => p.split(",").map(Number) as [number, number]));
    const x = xScale(ramp);
    const near = (a: number, b: number) => Math.abs(a - b) < 0.2;
    // Two runs: the gap while away is not bridged by a slope.
    expect(eu).toHaveLength(2);
    const [before, back] = eu as [[number, number][], [number, number][]];
    expect(before).toHaveLength(2);
    expect(near(before[0]![0], x(-0.84)) && near(before[1]![0], x(0.16))).toBe(true);
    const top = before[0]![1];
    expect(before[1]![1]).toBe(top);
    // Back: each step's value held flat across its second, then a vertical rise at the step's end.
    expect(near(back[0]![0], x(29.16))).toBe(true);
    const rises = back.filter((p, i) => i > 0 && p[0] === back[i - 1]![0] && p[1] < back[i - 1]![1]).map((p) => p[0]);
    expect(rises).toHaveLength(2);
    expect(near(rises[0]!, x(31.16)) && near(rises[1]!, x(33.16))).toBe(true);
    expect(back[back.length - 1]![1]).toBe(top);
    expect(back.every((p, i) => i === 0 || p[1] <= back[i - 1]![1])).toBe(true);
  });

  it("lists failovers and routing changes, a drill's with seconds since its start", () => {
    const html = renderPage(drill);
    const failovers = html.slice(html.indexOf("<h2>Failovers</h2>"), html.indexOf("<h2>Routing changes</h2>"));
    expect(failovers).toContain("<tr><th>from_region</th><th>to_region</th><th>routing_reason</th><th>failovers</th><th>last_seen</th><th>last seen (s)</th></tr>");
    expect(failovers).toContain("<tr><td>eu</td><td>us</td><td>sticky</td><td>4</td><td>2026-11-22 12:00:21.840</td><td>21.000</td></tr>");
    const changes = html.slice(html.indexOf("<h2>Routing changes</h2>"));
    expect(changes).toContain("<tr><td>20.100</td><td>2026-11-22 12:00:20.940</td><td>eu</td><td>left</td><td>3 failures in a row</td><td>isolate</td><td>0</td><td>0</td><td>4</td></tr>");
    expect(changes.indexOf("<td>left</td>")).toBeLessThan(changes.indexOf("<td>returned</td>"));
    expect(changes.indexOf("<td>returned</td>")).toBeLessThan(changes.indexOf("<td>ramp_step</td>"));
    const none = renderPage({ ...drill, rows: { ...rows(), failovers: [], routing_changes: [] } });
    expect(none).toContain("No failovers in this window");
    expect(none).toContain("No routing changes in this window");
  });

  it("shows the writes once for the fleet: outcomes at the edge and in the queue, the backlog, and the lease changes with seconds since the drill's start", () => {
    const html = renderPage(drill);
    const writes = html.slice(html.indexOf('<h2 id="writes">Writes</h2>'));
    const outcomes = panel(writes, "write_outcomes");
    expect(outcomes).toMatch(/^<p class="caption">What happened to the writes\? /);
    expect(outcomes).toContain("<title>-0.84: passed 8, queued 0, replayed 0, in_flight 0, mismatch 1, missing_key 0, too_large 0 (total 9)</title>");
    expect(outcomes).toContain(">Queued writes: what the consumer did</text>");
    expect(panel(writes, "backlog")).toContain(">Age of the oldest queued write</text>");
    expect(writes).toContain("<tr><th>at (s)</th><th>t</th><th>region</th><th>action</th><th>reason</th><th>source</th><th>epoch</th></tr>");
    expect(writes).toContain("<tr><td>24.000</td><td>2026-11-22 12:00:24.840</td><td>us</td><td>promote_done</td><td>writer eu down</td><td>object</td><td>2</td></tr>");
  });

  it("holds each lease change's epoch in its region's line until the next change, and breaks a region's line where another's change takes over", () => {
    const xOf = (t: string | number) => (epochMs(t) - LOAD_START) / 1000;
    const changes = [
      { t: clock(LOAD_START + 1_000), region: "eu", epoch: 1 },
      { t: clock(LOAD_START + 5_000), region: "us", epoch: 1 },
      { t: clock(LOAD_START + 9_000), region: "us", epoch: 2 },
      { t: clock(LOAD_START + 30_000), region: "eu", epoch: 3 },
    ];
    const [eu, us] = epochLines(changes, xOf, 60, ["eu", "us"], { eu: "#1", us: "#2" });
    expect(eu).toEqual({ name: "eu", color: "#1", points: [[1, 1], [5, 1], [5, Number.NaN], [30, 3], [60, 3]] });
    expect(us).toEqual({ name: "us", color: "#2", points: [[5, 1], [9, 1], [9, 2], [30, 2], [30, Number.NaN]] });
  });

  it("keeps clock time (UTC) for production, with no drill", () => {
    const html = renderPage({ title: "prod", source: "test", window, rows: rows() });
    const latency = panel(html, "latency");
    expect(latency).toContain(">time (UTC)</text>");
    expect(latency).toContain(">12:00:10</text>");
    expect(html).not.toContain("since drill start");
  });
});
