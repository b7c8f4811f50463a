/**
 * The panel SQL on a real ClickHouse (chdb) over points in Analytics Engine's layout, with
 * numbers known in advance. Needs chdb: `npm run dashboard:install`, then `npm run test:dashboard`.
 */
import { describe, expect, it } from "vitest";
import { localEngine, type CapturedPoint } from "./engines/local.ts";
import { panelSql, type Window } from "./queries.ts";
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
