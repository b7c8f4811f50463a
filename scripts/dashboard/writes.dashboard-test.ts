/**
 * The write panels' SQL on chdb over points made by the worker's own builders (requestPoint,
 * writePoint, backlogPoint, routingPoint), with numbers known in advance; and the page drawn from
 * their rows. Needs chdb: `npm run dashboard:install`, then `npm run test:dashboard`.
 */
import { describe, expect, it } from "vitest";
import { requestPoint, type RequestRecord, type WriteOutcome } from "../../src/metrics/schema.ts";
import { backlogPoint, writePoint, type WriteRecord } from "../../src/metrics/write-points.ts";
import { routingPoint } from "../../src/routing/point.ts";
import type { RoutingPoint } from "../../src/routing/state.ts";
import { localEngine, type CapturedPoint } from "./engines/local.ts";
import { panelSql, type Window } from "./queries.ts";
import { CHART_PANELS, renderPage } from "./render.ts";
import { WRITE_CHART_PANELS } from "./render-writes.ts";
import { runPanels, summary } from "./run.ts";

const T0 = Date.parse("2026-11-22T12:00:00Z");
const at = (s: number) => `2026-11-22 12:00:0${s}`;

/** A point as the drill's tap captures it: the builder's point and when it was written. */
function captured(ms: number, point: AnalyticsEngineDataPoint): CapturedPoint {
  return { ...(point as Omit<CapturedPoint, "timestamp">), timestamp: T0 + ms };
}

/** A request point of a write (or, with write "", of any request), answered by `region`. */
function request(ms: number, write: WriteOutcome, status: number, region = "us-east"): CapturedPoint {
  const record: RequestRecord = {
    origin: region,
    outcome: status === 202 || status >= 400 ? "rejected" : "origin_ok",
    failure: undefined,
    breaker: "closed",
    tier: undefined,
    lookup: "none",
    store: write === "" ? "stored" : "skip:method",
    method: write === "" ? "GET" : "POST",
    route: "/api/",
    colo: "",
    version: "0.1.0",
    probe: false,
    breakerHeard: "",
    breakerHeardMs: 0,
    latencyMs: 4,
    originStatus: 0,
    staleAgeSeconds: 0,
    originMs: 0,
    status,
    answeredBy: status === 202 || status >= 400 ? "" : region,
    failedOverFrom: "",
    routingReason: "single",
    rampPercent: 100,
    regionsTried: 1,
    write,
  };
  return captured(ms, requestPoint(record));
}

function consumer(ms: number, w: Partial<WriteRecord> & Pick<WriteRecord, "action">): CapturedPoint {
  return captured(ms, writePoint({ region: "eu-west", epoch: 2, kind: "write", queueDelayMs: 1_500, attempt: 1, status: 201, ...w }));
}

function backlog(ms: number, length: number, oldestAgeMs: number, dead: number): CapturedPoint {
  return captured(ms, backlogPoint({ length, oldestAgeMs, dead }));
}

/** A routing point; the lease actions are W2's additions to RoutingAction (percent = the epoch). */
function routing(ms: number, region: string, action: string, reason: string, source: RoutingPoint["source"], percent: number, generation: number): CapturedPoint {
  return captured(ms, routingPoint({ region, action: action as RoutingPoint["action"], reason, source, percent, step: 0, generation }));
}

/**
 * One failover of the writer. Second 0: us-east writes; three pass, a GET is no write, one key is
 * reused with another body (422), one write has no key (400). Second 1: us-east fails: two writes
 * are queued, the backlog counts them; eu-west's promotion starts (epoch 1, draining). Second 2:
 * eu-west holds the lease under epoch 2; the consumer retries one (us-east's 503 under epoch 1),
 * delivers two and drops a redelivered one; a client's retry is replayed; the backlog drains.
 * Second 3: one write runs out of retries and is dead-lettered, then replayed by an operator;
 * an operator freezes and unfreezes writes; a webhook is still in flight (409).
 */
const points: CapturedPoint[] = [
  ...[0, 10, 20].map((ms) => request(ms, "passed", 201)),
  request(30, "", 200),
  request(40, "mismatch", 422),
  request(50, "missing-key", 400),
  request(1_000, "queued", 202),
  request(1_010, "queued", 202),
  backlog(1_020, 2, 800, 0),
  routing(1_100, "us-east", "left", "3 failures in a row", "isolate", 0, 4),
  routing(1_200, "eu-west", "promote", "writer us-east down", "isolate", 1, 5),
  routing(2_000, "eu-west", "promote_done", "writer us-east down", "object", 2, 6),
  consumer(2_100, { action: "retry", region: "us-east", epoch: 1, status: 503, queueDelayMs: 1_090 }),
  consumer(2_200, { action: "delivered" }),
  consumer(2_300, { action: "delivered", kind: "webhook", attempt: 2 }),
  consumer(2_400, { action: "duplicate_dropped", status: 0 }),
  request(2_500, "replayed", 201),
  backlog(2_600, 1, 1_500, 0),
  backlog(2_700, 0, 0, 0),
  consumer(3_000, { action: "dead_lettered", attempt: 100, status: 0 }),
  backlog(3_010, 0, 0, 1),
  consumer(3_100, { action: "replayed_dead", attempt: 100, status: 0 }),
  routing(3_200, "eu-west", "freeze", "admin", "admin", 2, 7),
  routing(3_300, "eu-west", "unfreeze", "admin", "admin", 2, 8),
  request(3_400, "in-flight", 409),
];

const zero = { passed: 0, queued: 0, replayed: 0, in_flight: 0, mismatch: 0, missing_key: 0, too_large: 0, delivered: 0, duplicate_dropped: 0, retry: 0, dead_lettered: 0, replayed_dead: 0 };

describe("write panels on chdb", () => {
  const w: Window = { dataset: "edge_fallback", from: T0, to: T0 + 4_000, stepS: 1 };

  it("counts writes by outcome at the edge and by action in the queue, the backlog's largest counts per step, and every lease change in order", async () => {
    const engine = await localEngine("edge_fallback", points);
    try {
      const rows = await runPanels(engine, w);
      expect(rows.write_outcomes).toEqual([
        // The GET (write outcome "") is not a write.
        { t: at(0), ...zero, passed: 3, mismatch: 1, missing_key: 1 },
        { t: at(1), ...zero, queued: 2 },
        { t: at(2), ...zero, replayed: 1, delivered: 2, duplicate_dropped: 1, retry: 1 },
        { t: at(3), ...zero, in_flight: 1, dead_lettered: 1, replayed_dead: 1 },
      ]);
      expect(rows.backlog).toEqual([
        { t: at(1), queued_writes: 2, oldest_age_s: 0.8, dead_letters: 0 },
        { t: at(2), queued_writes: 1, oldest_age_s: 1.5, dead_letters: 0 },
        { t: at(3), queued_writes: 0, oldest_age_s: 0, dead_letters: 1 },
      ]);
      // Lease changes only: the region leaving is a routing change, not a lease change.
      expect(rows.writer).toEqual([
        { t: "2026-11-22 12:00:01.200", region: "eu-west", action: "promote", reason: "writer us-east down", source: "isolate", epoch: 1 },
        { t: "2026-11-22 12:00:02.000", region: "eu-west", action: "promote_done", reason: "writer us-east down", source: "object", epoch: 2 },
        { t: "2026-11-22 12:00:03.200", region: "eu-west", action: "freeze", reason: "admin", source: "admin", epoch: 2 },
        { t: "2026-11-22 12:00:03.300", region: "eu-west", action: "unfreeze", reason: "admin", source: "admin", epoch: 2 },
      ]);
      expect(rows.routing_changes.map((r) => r["action"])).toEqual(["left", "promote", "promote_done", "freeze", "unfreeze"]);
      // The write requests count as answers; the write and backlog points (indexed by region, or
      // 'writes') and the routing points make no origin of their own.
      expect(rows.totals.map((r) => [r["origin"], r["answers"]])).toEqual([["us-east", 10]]);

      expect(summary(rows).at(-1)).toBe(
        "writes: 3 passed, 2 queued, 1 replayed, 3 refused; queue: 2 delivered, 1 duplicates dropped, 1 retries, 1 dead-lettered; backlog peak 2 (oldest 1.5 s), 1 dead letters; 4 lease changes (last epoch 2)",
      );

      // The page from these rows: the three write charts with data, and the lease changes listed.
      const html = renderPage({ title: "writes", source: engine.describe(), window: w, rows });
      expect(html).toContain('<div class="panel" data-panel="write_outcomes" data-rows="4">');
      expect(html).toContain('<div class="panel" data-panel="backlog" data-rows="3">');
      expect(html).toContain('<div class="panel" data-panel="writer" data-rows="4">');
      const writes = html.slice(html.indexOf('<h2 id="writes">Writes</h2>'));
      expect(writes).toContain("<tr><td>2026-11-22 12:00:02.000</td><td>eu-west</td><td>promote_done</td><td>writer us-east down</td><td>object</td><td>2</td></tr>");
      // Stacked edge outcomes per step (the bars' tooltips).
      expect(writes).toContain("<title>12:00:00: passed 3, queued 0, replayed 0, in_flight 0, mismatch 1, missing_key 1, too_large 0 (total 5)</title>");
    } finally {
      await engine.close();
    }
  });

  it("draws no write chart and says why when the window has no writes (WRITES unset): the browser check asks data only of the charts drawn", async () => {
    const engine = await localEngine("edge_fallback", [request(0, "", 200), request(10, "", 200), routing(20, "us-east", "drain", "admin", "admin", 0, 2)]);
    try {
      const rows = await runPanels(engine, w);
      expect([rows.write_outcomes, rows.backlog, rows.writer]).toEqual([[], [], []]);
      const html = renderPage({ title: "no writes", source: engine.describe(), window: w, rows });
      const drawn = [...html.matchAll(/<div class="panel" data-panel="(\w+)"/g)].map((m) => m[1]!);
      expect(new Set(drawn)).toEqual(new Set(CHART_PANELS));
      for (const panel of WRITE_CHART_PANELS) expect(drawn).not.toContain(panel);
      expect(html).toContain("<p>No writes in this window: WRITES is unset, or no write, webhook, queue delivery or lease change happened.</p>");
      expect(summary(rows).some((line) => line.startsWith("writes:"))).toBe(false);
    } finally {
      await engine.close();
    }
  });

  it("draws the writes it has and says which panel has none: writes queued and delivered, no lease change", async () => {
    const engine = await localEngine("edge_fallback", [request(0, "queued", 202), consumer(500, { action: "delivered" })]);
    try {
      const rows = await runPanels(engine, w);
      const html = renderPage({ title: "no lease change", source: engine.describe(), window: w, rows });
      expect(html).toContain('<div class="panel" data-panel="write_outcomes" data-rows="1">');
      expect(html).not.toContain('data-panel="backlog"');
      expect(html).not.toContain('data-panel="writer"');
      expect(html).toContain("<p>No backlog counts in this window.</p>");
      expect(html).toContain("<p>No writer lease changes in this window: no promotion, freeze or unfreeze.</p>");
      expect(summary(rows).at(-1)).toBe(
        "writes: 0 passed, 1 queued, 0 replayed, 0 refused; queue: 1 delivered, 0 duplicates dropped, 0 retries, 0 dead-lettered; backlog peak 0 (oldest 0.0 s), 0 dead letters; no lease changes",
      );
    } finally {
      await engine.close();
    }
  });

  it("weights write counts by _sample_interval, and takes the backlog's largest count unweighted (a gauge)", async () => {
    const engine = await localEngine("edge_fallback", []);
    try {
      const outcomes = panelSql("write_outcomes", { dataset: "edge_fallback", from: T0, to: T0 + 1000, stepS: 1 }).replace(
        "FROM edge_fallback",
        "FROM (SELECT * FROM values('timestamp DateTime, blob1 String, blob2 String, blob17 String, _sample_interval UInt32', (toDateTime('2026-11-22 12:00:00'), 'request', 'origin_ok', 'passed', 9), (toDateTime('2026-11-22 12:00:00'), 'request', 'origin_ok', '', 50), (toDateTime('2026-11-22 12:00:00'), 'write', 'delivered', '', 4)))",
      );
      expect(await engine.run(outcomes)).toEqual([{ t: at(0), ...zero, passed: 9, delivered: 4 }]);
      const gauge = panelSql("backlog", { dataset: "edge_fallback", from: T0, to: T0 + 1000, stepS: 1 }).replace(
        "FROM edge_fallback",
        "FROM (SELECT * FROM values('timestamp DateTime, blob1 String, double1 Float64, double2 Float64, double3 Float64, _sample_interval UInt32', (toDateTime('2026-11-22 12:00:00'), 'backlog', 7, 2500, 1, 10), (toDateTime('2026-11-22 12:00:00'), 'backlog', 3, 4000, 0, 1)))",
      );
      expect(await engine.run(gauge)).toEqual([{ t: at(0), queued_writes: 7, oldest_age_s: 4, dead_letters: 1 }]);
    } finally {
      await engine.close();
    }
  });
});
