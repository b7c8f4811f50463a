/**
 * The drill's verdicts are only worth something if a bad run fails them: each test below feeds
 * evaluate() a run with exactly one defect and checks that exactly that target fails.
 */
import { describe, expect, it } from "vitest";
import { evaluate, fallbackCounts, type CounterSample, type DataPoint, type DrillData } from "./checks.ts";
import { HOSTILE_USER, type Plan, type RequestResult } from "./types.ts";

const T0 = Date.parse("2026-11-22T12:00:00Z");

const plan: Plan = {
  name: "unit",
  description: "baseline 10 s, fault 10 s, healed 10 s",
  mix: { hotKeys: 1, coldKeys: 1, hotShare: 1, credentialedShare: 0, users: 1, writeShare: 0 },
  phases: [
    { name: "baseline", durationS: 10, rate: 10, fault: false, baseline: true, origins: { primary: { mode: "healthy" } } },
    { name: "fault", durationS: 10, rate: 10, fault: true, origins: { primary: { mode: "blackhole" } } },
    { name: "healed", durationS: 10, rate: 10, fault: false, origins: { primary: { mode: "healthy" } } },
  ],
};

function result(at: number, over: Partial<RequestResult> = {}): RequestResult {
  const phase = at < 10_000 ? 0 : at < 20_000 ? 1 : 2;
  const inFault = phase === 1;
  return {
    intendedAt: at,
    sendDelayMs: 0,
    latencyMs: inFault ? 1 : 5,
    status: 200,
    phase,
    key: "/hot/0",
    method: "GET",
    user: "anonymous",
    cacheStatus: inFault ? "edge-fallback; hit; detail=stale-breaker-open" : "edge-fallback; fwd=bypass; fwd-status=200; stored",
    age: inFault ? Math.ceil((at - 9_900) / 1000) : -1,
    originUser: "anonymous",
    originServedAt: inFault ? T0 + 9_900 : T0 + at,
    region: "",
    fakeRegion: "",
    ...over,
  };
}

function requestPoint(at: number, heard: "failure" | "success" | ""): DataPoint {
  return { timestamp: T0 + at, indexes: ["primary"], blobs: ["request", "lkg_served", "slow", "closed", "memory", "hit", "", "GET", "/", "", "0", "", heard], doubles: [] };
}

function transition(at: number, from: string, to: string): DataPoint {
  return { timestamp: T0 + at, indexes: ["primary"], blobs: ["breaker", from, to, "failure", "object"], doubles: [] };
}

function counters(at: number, requests: number, doCalls: number, doErrors = 0): CounterSample {
  return { at: T0 + at, counters: { requests, doCalls, doErrors, kvReads: 0, kvWrites: 0 } };
}

/** A clean run: healthy, then the fault served from the copy, the breaker open 10-21 s. */
function cleanRun(): DrillData {
  const results: RequestResult[] = [];
  for (let at = 0; at < 30_000; at += 100) results.push(result(at));
  const failures = [10_010, 10_040, 10_070, 10_100, 10_130].map((at) => requestPoint(at, "failure"));
  return {
    plan,
    startedAt: T0,
    bounds: [0, 10_000, 20_000, 30_000],
    results,
    points: [...failures, transition(10_131, "closed", "open"), transition(21_000, "open", "half-open"), transition(21_010, "half-open", "closed")],
    counters: [counters(0, 0, 0), counters(9_900, 99, 0), counters(10_500, 105, 2), counters(20_900, 209, 3), counters(30_000, 300, 4)],
    originPerSecond: {},
    settings: { maxAgeS: 30, threshold: 5, openMaxMs: 10_000, timeoutMs: 5_000 },
  };
}

function failing(d: DrillData): string[] {
  return evaluate(d).targets.filter((t) => !t.pass).map((t) => t.name);
}

describe("drill targets", () => {
  it("a clean run passes every target", () => {
    expect(failing(cleanRun())).toEqual([]);
  });

  it("KV writes over 10 per 1,000 healthy requests after the warm-up fail that target alone; the budget scales with the rate used", () => {
    const d = cleanRun();
    // 294 healthy requests after the 2 s warm-up (2-10 s and 20-30 s); 4 KV writes = 13.6 per 1,000.
    d.counters = d.counters.map((c) => ({ at: c.at, counters: { ...c.counters, kvWrites: c.at - T0 >= 25_000 ? 4 : 0, cacheWrites: 0 } }));
    expect(failing(d)).toEqual(["KV writes per 1,000 healthy requests"]);
    expect(evaluate(d).targets.find((t) => t.name === "KV writes per 1,000 healthy requests")!.measured).toBe("13.61 (4 writes over 294 healthy requests) (per phase: baseline 0/99, healed 4/195)");
    // Calibration ran the plan at half its rate: writes are per key and second, the budget is 20.
    d.settings = { ...d.settings, rateScale: 0.5 };
    expect(failing(d)).toEqual([]);
  });

  it("with a write budget, the first fill of the hot keys (hot keys / budget seconds) is left out of the write targets", () => {
    const d = cleanRun();
    // 4 writes between 2 s and 5 s: counted after a 2 s warm-up, not after a 5 s first fill.
    d.counters = [...d.counters, { at: T0 + 5_000, counters: { requests: 50, doCalls: 0, doErrors: 0, kvWrites: 4 } }]
      .sort((a, b) => a.at - b.at)
      .map((c) => ({ at: c.at, counters: { ...c.counters, kvWrites: c.at - T0 >= 5_000 ? 4 : 0 } }));
    expect(failing(d)).toEqual(["KV writes per 1,000 healthy requests"]);
    d.plan = { ...d.plan, mix: { ...d.plan.mix, hotKeys: 50 } };
    d.settings = { ...d.settings, sharedWritesPerSecond: 10 };
    expect(failing(d)).toEqual([]);
  });

  it("Cache API writes over 50 per 1,000 healthy requests fail that target; writes in the warm-up do not count", () => {
    const d = cleanRun();
    d.counters = [{ at: T0 + 1_000, counters: { requests: 10, doCalls: 0, doErrors: 0, cacheWrites: 100 } }, ...d.counters.map((c) => ({ at: c.at, counters: { ...c.counters, cacheWrites: c.at - T0 >= 1_000 ? 100 : 0 } }))];
    d.counters.sort((a, b) => a.at - b.at);
    expect(failing(d)).toEqual([]);
    d.counters = d.counters.map((c) => ({ at: c.at, counters: { ...c.counters, cacheWrites: c.at - T0 >= 25_000 ? 130 : (c.counters["cacheWrites"] ?? 0) } }));
    expect(failing(d)).toEqual(["Cache API writes per 1,000 healthy requests"]);
  });

  it("a credentialed user's marker in another user's answer is a leak", () => {
    const d = cleanRun();
    d.results[150] = result(15_000, { user: "auth:user-2", originUser: "auth:user-1" });
    expect(failing(d)).toEqual(["no user's answer seen by another user"]);
    expect(evaluate(d).targets.find((t) => t.name.startsWith("no user's"))!.measured).toBe("1 leaks in 300 marked answers");
  });

  it("an answer with Age over 30 s fails, and so does one whose origin stamp is over 31 s old", () => {
    const byAge = cleanRun();
    byAge.results[150] = result(15_000, { age: 31 });
    expect(failing(byAge)).toEqual(["no answer older than 30 s"]);
    const byStamp = cleanRun();
    // The header says 5 s, but the origin produced this body 40 s before the client got it.
    byStamp.results[150] = result(15_000, { age: 5, originServedAt: T0 + 15_000 - 40_000 });
    expect(failing(byStamp)).toEqual(["no answer older than 30 s"]);
  });

  it("a 503 for a key that had a fresh copy when the fault began fails the coverage target", () => {
    const d = cleanRun();
    d.results[150] = result(15_000, { status: 503, cacheStatus: "" });
    const failed = failing(d);
    expect(failed).toContain("no failed answer for keys with a copy <= 30 s old");
    expect(evaluate(d).targets.find((t) => t.name.startsWith("no failed answer"))!.measured).toMatch(/^1 failed of \d+ covered requests \(\/hot\/0 at 15\.0 s: 503\)$/);
  });

  it("a breaker that opens more than 1 s after the threshold-th counted failure fails", () => {
    const d = cleanRun();
    d.points = d.points.map((p) => (p.blobs?.[2] === "open" && p.blobs?.[1] === "closed" ? transition(11_200, "closed", "open") : p));
    expect(failing(d)).toEqual(["breaker opens within 5 failures + 1 s"]);
  });

  it("uncounted slow answers (one stall) do not start the clock", () => {
    const d = cleanRun();
    // Forty answers slow in the same stall, none of them counted: the opening is still timely.
    for (let i = 0; i < 40; i++) d.points.push(requestPoint(10_005 + i, ""));
    expect(failing(d)).toEqual([]);
  });

  it("failures interrupted by successes are not a run: the clock starts at the threshold-th failure in a row", () => {
    const d = cleanRun();
    // Intermittent errors from 10 s (10 % 5xx, say), then five in a row from 14 s; open at 14.5 s.
    const intermittent = [10_010, 10_500, 11_000, 12_000].flatMap((at) => [requestPoint(at, "failure"), requestPoint(at + 100, "success")]);
    const run = [14_000, 14_030, 14_060, 14_090, 14_120].map((at) => requestPoint(at, "failure"));
    d.points = [...intermittent, ...run, transition(14_500, "closed", "open"), transition(21_000, "open", "half-open"), transition(21_010, "half-open", "closed")];
    const opening = evaluate(d).targets.find((t) => t.name.startsWith("breaker opens"))!;
    expect(opening).toMatchObject({ pass: true, measured: "fault: 380 ms (4500 ms after the fault began)" });
  });

  it("orders failures by when the breaker heard them, not by when their answers were ready", () => {
    const d = cleanRun();
    // Three slow failures heard at 10.01-10.07 s; two more heard at 10.10 and 10.13 s but answered
    // (released by the opening) only at 10.20 s: point time 10.20 s, latency 150 ms, heard after 50 and 80 ms.
    const early = [10_010, 10_040, 10_070].map((at) => requestPoint(at, "failure"));
    const released = [50, 80].map((heardAfter) => ({ ...requestPoint(10_200, "failure"), doubles: [150, 0, 0, 0, 503, heardAfter] }));
    d.points = [...early, ...released, transition(10_131, "closed", "open"), transition(21_000, "open", "half-open"), transition(21_010, "half-open", "closed")];
    expect(evaluate(d).targets.find((t) => t.name.startsWith("breaker opens"))!).toMatchObject({ pass: true, measured: "fault: 1 ms (131 ms after the fault began)" });
  });

  it("a breaker that opened without a run of failures the drill can see fails: the drill cannot explain it", () => {
    const d = cleanRun();
    d.points = d.points.filter((p) => p.blobs?.[0] !== "request");
    expect(failing(d)).toEqual(["breaker opens within 5 failures + 1 s"]);
  });

  it("answers the origin produced are reported apart from the edge's own latency", () => {
    const d = cleanRun();
    // A slow origin still answering during the fault: 80 ms, passed through.
    for (let i = 100; i < 110; i++) d.results[i] = result(i * 100, { latencyMs: 80, cacheStatus: "edge-fallback; fwd=bypass; fwd-status=200; stored" });
    const p99 = evaluate(d).targets.find((t) => t.name === "p99 during fault phases")!;
    expect(p99).toEqual({
      name: "p99 during fault phases",
      target: "< 50 ms for answers the edge produced, a request sent before the breaker opened counted from the opening",
      measured: "1.0 ms over 90 answers; 10 answers the origin produced, p99 80.0 ms, not counted",
      pass: true,
    });
    // The edge's own slow answers count: a 503 of its own after 900 ms fails the target.
    d.results[111] = result(11_100, { status: 503, latencyMs: 900, cacheStatus: "edge-fallback; fwd=uri-miss; detail=origin-unreachable-no-lkg" });
    d.results[112] = result(11_200, { status: 503, latencyMs: 900, cacheStatus: "edge-fallback; fwd=uri-miss; detail=origin-unreachable-no-lkg" });
    expect(failing(d)).toContain("p99 during fault phases");
  });

  it("a request sent before the breaker opened is judged by how long it waited after the opening", () => {
    const d = cleanRun();
    // The breaker opens 131 ms into the fault; until then requests without a copy wait on the origin.
    const open = d.points.find((p) => p.blobs?.[0] === "breaker")!;
    open.timestamp = T0 + 10_900;
    const noCopy = { status: 503, cacheStatus: "edge-fallback; fwd=uri-miss; detail=breaker-open-no-lkg" };
    // Sent at 10.0-10.8 s, released 20 ms after the opening: 120-920 ms of latency, 20 ms of it after the edge knew.
    for (let i = 100; i < 109; i++) d.results[i] = result(i * 100, { ...noCopy, latencyMs: 10_920 - i * 100 });
    const p99 = () => evaluate(d).targets.find((t) => t.name === "p99 during fault phases")!;
    expect(p99()).toMatchObject({ pass: true, measured: "20.0 ms over 100 answers; 9 sent before the breaker opened (the wait judged from the opening; their latency p99 920.0 ms, max 920.0 ms)" });
    // The steady state after the opening is what the p95 compares with the healthy baseline.
    expect(evaluate(d).targets.find((t) => t.name === "p95 during faults vs healthy baseline")).toMatchObject({ pass: true, measured: "1.0 ms (0.20 x) over 91 answers" });
    // Kept waiting 200 ms past the opening: the edge knew and still did not answer.
    for (let i = 100; i < 109; i++) d.results[i] = result(i * 100, { ...noCopy, latencyMs: 11_100 - i * 100 });
    expect(p99()).toMatchObject({ pass: false, measured: "200.0 ms over 100 answers; 9 sent before the breaker opened (the wait judged from the opening; their latency p99 1100.0 ms, max 1100.0 ms)" });
  });

  it("the origin receiving more than the probes while the breaker is open fails", () => {
    const d = cleanRun();
    d.originPerSecond = { primary: { [String(Math.floor((T0 + 15_000) / 1000))]: 12 } };
    expect(failing(d)).toEqual(["while open, the origin gets only probes"]);
  });

  it("a breaker still open at the end of the run fails the recovery target", () => {
    const d = cleanRun();
    d.points = d.points.filter((p) => p.blobs?.[2] !== "closed");
    expect(failing(d)).toContain("breaker closes after the origin heals");
  });

  it("calls to the breaker object during the healthy baseline fail the scale target; failed calls fail theirs", () => {
    const chatty = cleanRun();
    chatty.counters[1] = counters(9_900, 99, 3);
    chatty.counters = chatty.counters.map((c, i) => (i >= 2 ? { ...c, counters: { ...c.counters, doCalls: c.counters["doCalls"]! + 3 } } : c));
    expect(failing(chatty)).toEqual(["breaker object calls per 1,000 requests, healthy"]);
    const broken = cleanRun();
    broken.counters[4] = counters(30_000, 300, 4, 2);
    expect(failing(broken)).toEqual(["breaker object answered every call"]);
  });

  it("late sends above 1 % fail the load target: a drill that missed its schedule proves nothing", () => {
    const d = cleanRun();
    for (let i = 0; i < 4; i++) d.results[i] = result(i * 100, { sendDelayMs: 12 });
    expect(failing(d)).toEqual(["load delivered on schedule"]);
  });
});

describe("the dashboard agreement counts", () => {
  it("counts a hostile client's anonymous GETs with no copy as lookups, as the SQL over the worker's points does", () => {
    const miss = (user: string) => result(0, { user, status: 500, cacheStatus: "edge-fallback; fwd=uri-miss; fwd-status=500; detail=no-lkg" });
    const counts = fallbackCounts([miss("anonymous"), miss(HOSTILE_USER), miss("auth:user-1"), result(15_000)]);
    expect(counts).toEqual({ served: 1, lookups: 3, misses: 2, missRate: 2 / 3 });
  });
});
