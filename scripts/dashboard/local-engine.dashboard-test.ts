/**
 * The panel SQL on a real ClickHouse (chdb) over points in Analytics Engine's layout, with
 * numbers known in advance. Needs chdb: `npm run dashboard:install`, then `npm run test:dashboard`.
 */
import { describe, expect, it } from "vitest";
import { localEngine, type CapturedPoint } from "./engines/local.ts";
import { panelSql, type Window } from "./queries.ts";
import { CHART_PANELS, renderPage } from "./render.ts";
import { runPanels } from "./run.ts";

const T0 = Date.parse("2026-11-22T12:00:00Z");

function request(at: number, outcome: string, failure: string, lookup: string, latencyMs: number, ageS = 0, origin = "primary"): CapturedPoint {
  return {
    timestamp: T0 + at,
    indexes: [origin],
    blobs: ["request", outcome, failure, "closed", outcome === "lkg_served" ? "memory" : "", lookup, "", "GET", "/", "", "0.1.0", "", ""],
    doubles: [latencyMs, 0, ageS, 0, outcome === "lkg_served" ? 200 : 503, 0],
  };
}

const points: CapturedPoint[] = [
  // Second 0: healthy.
  ...Array.from({ length: 10 }, (_, i) => request(i * 10, "origin_ok", "", "none", 5)),
  // Second 1: the origin fails. 6 served from copies, 2 misses, 1 expired copy, 1 credentialed refusal (no lookup).
  ...Array.from({ length: 6 }, (_, i) => request(1000 + i * 10, "lkg_served", "http_5xx", "hit", 2, 4 + i)),
  request(1100, "no_lkg", "http_5xx", "miss", 30),
  request(1110, "no_lkg", "http_5xx", "miss", 30),
  request(1120, "no_lkg", "http_5xx", "expired", 30),
  request(1130, "no_lkg", "breaker_open", "none", 1),
  { timestamp: T0 + 1050, indexes: ["primary"], blobs: ["breaker", "closed", "open", "failure", "object"], doubles: [1, 5, 5000] },
  // Another origin, healthy throughout.
  request(500, "origin_ok", "", "none", 7, 0, "secondary"),
];

describe("panel SQL on chdb", () => {
  it("counts fallback answers, misses and trips exactly, per origin, and the miss rate over lookups while falling back", async () => {
    const engine = await localEngine("edge_fallback", points);
    try {
      const w: Window = { dataset: "edge_fallback", from: T0, to: T0 + 2000, stepS: 1 };
      const rows = await runPanels(engine, w);
      expect(rows.totals).toEqual([
        { origin: "primary", answers: 20, edge_fallback_triggered: 10, lkg_served: 6, no_lkg: 4, lookups: 9, lookup_misses: 3, cache_miss_rate: 3 / 9, breaker_trips: 1 },
        { origin: "secondary", answers: 1, edge_fallback_triggered: 0, lkg_served: 0, no_lkg: 0, lookups: 0, lookup_misses: 0, cache_miss_rate: 0, breaker_trips: 0 },
      ]);
      const second1 = rows.cache_miss_rate.find((r) => r["origin"] === "primary" && String(r["t"]).startsWith("2026-11-22 12:00:01"));
      expect(second1).toMatchObject({ lookups: 9, misses: 3 });
      expect(rows.edge_fallback_triggered.filter((r) => r["origin"] === "primary").map((r) => [r["fallback_answers"], r["fallback_misses"], r["breaker_trips"]])).toEqual([
        [0, 0, 0],
        [6, 4, 1],
      ]);
      // Weighted quantiles: second 1 of primary has latencies 2 (x6), 30 (x3), 1 (x1).
      const latency = rows.latency.find((r) => r["origin"] === "primary" && String(r["t"]).startsWith("2026-11-22 12:00:01"))!;
      expect([latency["p50_ms"], latency["p99_ms"]]).toEqual([2, 30]);
      expect(rows.stale_age.find((r) => r["origin"] === "primary")).toMatchObject({ p50_s: 6, max_s: 9 });
      expect(rows.breaker_transitions).toEqual([{ t: "2026-11-22 12:00:01.050", origin: "primary", from_state: "closed", to_state: "open", cause: "failure", source: "object", attempt: 1, open_ms: 5000 }]);
    } finally {
      await engine.close();
    }
  });

  it("weights every count and quantile by _sample_interval, as Analytics Engine's sampling requires", async () => {
    // Two points, one standing for 9 requests (a sampled row) and one for 1.
    const engine = await localEngine("edge_fallback", []);
    try {
      const sql = panelSql("latency", { dataset: "edge_fallback", from: T0, to: T0 + 1000, stepS: 1 }).replace("FROM edge_fallback", "FROM (SELECT * FROM values('timestamp DateTime, index1 String, blob1 String, double1 Float64, _sample_interval UInt32', (toDateTime('2026-11-22 12:00:00'), 'o', 'request', 10, 9), (toDateTime('2026-11-22 12:00:00'), 'o', 'request', 100, 1)))");
      expect(await engine.run(sql)).toEqual([{ t: "2026-11-22 12:00:00", origin: "o", p50_ms: 10, p95_ms: 100, p99_ms: 100 }]);
    } finally {
      await engine.close();
    }
  });
});

interface Answer {
  region: string;
  /** The region tried first, when another one answered. */
  from?: string;
  reason?: string;
  ramp?: number;
  outcome?: string;
}

/** A request point as requestPoint() writes it, with the region columns (blob14-16, double7-8). */
function answer(at: number, a: Answer): CapturedPoint {
  const outcome = a.outcome ?? (a.region === "" ? "lkg_served" : "origin_ok");
  const copy = outcome === "lkg_served";
  return {
    timestamp: T0 + at,
    // index1: the region tried last (the first one when nothing answered).
    indexes: [a.region || a.from || "eu"],
    blobs: ["request", outcome, copy ? "http_5xx" : "", "closed", copy ? "memory" : "", copy ? "hit" : "none", "", "GET", "/", "", "0.1.0", "", "", a.region, a.from ?? "", a.reason ?? "weighted"],
    doubles: [5, copy ? 502 : 200, copy ? 3 : 0, 4, 200, 0, a.region === "" ? 0 : (a.ramp ?? 100), a.from ? 2 : 1],
  };
}

function routing(at: number, region: string, action: string, reason: string, source: string, percent: number, step: number, generation: number): CapturedPoint {
  return { timestamp: T0 + at, indexes: [region], blobs: ["routing", action, reason, source], doubles: [percent, step, generation] };
}

/**
 * Two regions, eu and us. Second 0: both healthy (eu 3, us 1). Second 1: eu fails: three requests
 * fail over to us (two sticky, one weighted), one is served from a copy, eu leaves. Seconds 2 and
 * 3: eu is back, ramping at 10 % then 30 % (its answers carry double7 10 and 30). Second 4: the
 * ramp aborts; us answers everything.
 */
const regionPoints: CapturedPoint[] = [
  ...[0, 10, 20].map((at) => answer(at, { region: "eu" })),
  answer(30, { region: "us" }),
  answer(1000, { region: "us", from: "eu", reason: "sticky" }),
  answer(1010, { region: "us", from: "eu", reason: "sticky" }),
  answer(1020, { region: "us", from: "eu", reason: "weighted" }),
  answer(1030, { region: "" }),
  routing(1040, "eu", "left", "3 failures in a row", "isolate", 0, 0, 4),
  routing(1990, "eu", "returned", "3 successes in a row", "isolate", 10, 0, 5),
  routing(2000, "eu", "ramp_step", "step 0: 10%", "object", 10, 0, 6),
  answer(2100, { region: "eu", ramp: 10 }),
  ...[2200, 2300, 2400].map((at) => answer(at, { region: "us" })),
  routing(3000, "eu", "ramp_step", "step 1: 30%", "object", 30, 1, 7),
  ...[3100, 3200].map((at) => answer(at, { region: "eu", ramp: 30 })),
  ...[3300, 3400].map((at) => answer(at, { region: "us" })),
  routing(3900, "eu", "ramp_abort", "error rate 12% > 5% at step 30%", "isolate", 0, 0, 8),
  ...[4000, 4100, 4200, 4300].map((at) => answer(at, { region: "us" })),
];

describe("region panels on chdb", () => {
  const w: Window = { dataset: "edge_fallback", from: T0, to: T0 + 5000, stepS: 1 };
  const at = (s: number) => `2026-11-22 12:00:0${s}`;

  it("counts answers by the region that answered per step, a copy as (copy or edge error), the failovers per pair and reason, every routing change in order, and each region's ramp percent", async () => {
    const engine = await localEngine("edge_fallback", regionPoints);
    try {
      const rows = await runPanels(engine, w);
      expect(rows.region_share).toEqual([
        { t: at(0), region: "eu", answers: 3 },
        { t: at(0), region: "us", answers: 1 },
        { t: at(1), region: "(copy or edge error)", answers: 1 },
        { t: at(1), region: "us", answers: 3 },
        { t: at(2), region: "eu", answers: 1 },
        { t: at(2), region: "us", answers: 3 },
        { t: at(3), region: "eu", answers: 2 },
        { t: at(3), region: "us", answers: 2 },
        { t: at(4), region: "us", answers: 4 },
      ]);
      expect(rows.failovers).toEqual([
        { from_region: "eu", to_region: "us", routing_reason: "sticky", failovers: 2, last_seen: "2026-11-22 12:00:01.010" },
        { from_region: "eu", to_region: "us", routing_reason: "weighted", failovers: 1, last_seen: "2026-11-22 12:00:01.020" },
      ]);
      expect(rows.routing_changes.map((r) => [r["t"], r["region"], r["action"], r["reason"], r["source"], r["percent"], r["step"], r["generation"]])).toEqual([
        ["2026-11-22 12:00:01.040", "eu", "left", "3 failures in a row", "isolate", 0, 0, 4],
        ["2026-11-22 12:00:01.990", "eu", "returned", "3 successes in a row", "isolate", 10, 0, 5],
        ["2026-11-22 12:00:02.000", "eu", "ramp_step", "step 0: 10%", "object", 10, 0, 6],
        ["2026-11-22 12:00:03.000", "eu", "ramp_step", "step 1: 30%", "object", 30, 1, 7],
        ["2026-11-22 12:00:03.900", "eu", "ramp_abort", "error rate 12% > 5% at step 30%", "isolate", 0, 0, 8],
      ]);
      // The staircase: eu at 100 %, away, 10 %, 30 %, away again; us at 100 % throughout.
      expect(rows.ramp.map((r) => [r["t"], r["region"], r["answers"], r["ramp_percent"]])).toEqual([
        [at(0), "eu", 3, 100],
        [at(0), "us", 1, 100],
        [at(1), "us", 3, 100],
        [at(2), "eu", 1, 10],
        [at(2), "us", 3, 100],
        [at(3), "eu", 2, 30],
        [at(3), "us", 2, 100],
        [at(4), "us", 4, 100],
      ]);
      // The page from these rows: every chart has data, and both region tables list their rows.
      const html = renderPage({ title: "regions", source: engine.describe(), window: w, rows });
      for (const panel of CHART_PANELS.filter((p) => p !== "breaker_transitions")) {
        expect(html, panel).toMatch(new RegExp(`<div class="panel" data-panel="${panel}" data-rows="[1-9]\\d*">`));
      }
      expect(html).toContain("<tr><td>eu</td><td>us</td><td>sticky</td><td>2</td><td>2026-11-22 12:00:01.010</td></tr>");
      expect(html).toContain("<td>ramp_abort</td><td>error rate 12% &gt; 5% at step 30%</td><td>isolate</td>");
    } finally {
      await engine.close();
    }
  });

  it("has data in the region share and ramp panels for one region with no routing at all (the smoke drill)", async () => {
    // One region: every origin answer carries blob14 and double7 = 100 (and routing reason single).
    const one = [0, 10, 1000, 1010].map((at) => answer(at, { region: "primary", reason: "single" }));
    const engine = await localEngine("edge_fallback", [...one, answer(1020, { region: "" })]);
    try {
      const rows = await runPanels(engine, w);
      expect(rows.region_share).toEqual([
        { t: at(0), region: "primary", answers: 2 },
        { t: at(1), region: "(copy or edge error)", answers: 1 },
        { t: at(1), region: "primary", answers: 2 },
      ]);
      expect(rows.ramp.map((r) => [r["region"], r["ramp_percent"]])).toEqual([
        ["primary", 100],
        ["primary", 100],
      ]);
      expect([rows.failovers, rows.routing_changes]).toEqual([[], []]);
    } finally {
      await engine.close();
    }
  });

  it("weights the ramp percent by _sample_interval: a sampled row stands for many answers", async () => {
    const engine = await localEngine("edge_fallback", []);
    try {
      const sql = panelSql("ramp", { dataset: "edge_fallback", from: T0, to: T0 + 1000, stepS: 1 }).replace(
        "FROM edge_fallback",
        "FROM (SELECT * FROM values('timestamp DateTime, blob1 String, blob14 String, double7 Float64, _sample_interval UInt32', (toDateTime('2026-11-22 12:00:00'), 'request', 'eu', 10, 9), (toDateTime('2026-11-22 12:00:00'), 'request', 'eu', 100, 1), (toDateTime('2026-11-22 12:00:00'), 'request', '', 0, 5)))",
      );
      expect(await engine.run(sql)).toEqual([{ t: "2026-11-22 12:00:00", region: "eu", answers: 10, ramp_percent: 19 }]);
    } finally {
      await engine.close();
    }
  });
});
