/**
 * The drill's verdicts are only worth something if a bad run fails them: each test below feeds
 * evaluate() a run with exactly one defect and checks that exactly that target fails.
 */
import { describe, expect, it } from "vitest";
import { fallbackCounts } from "./judge/dashboard.ts";
import type { CounterSample, DataPoint, DrillData } from "./judge/data.ts";
import { evaluate } from "./judge/index.ts";
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

  it("a breaker that opens 400 ms after the fault's onset fails detection (300 ms), a latency target", () => {
    const d = cleanRun();
    d.points = d.points.map((p) => (p.blobs?.[2] === "open" && p.blobs?.[1] === "closed" ? transition(10_400, "closed", "open") : p));
    expect(failing(d)).toEqual(["detection: fault onset to breaker open"]);
    expect(evaluate(d).targets.find((t) => t.name.startsWith("detection"))).toMatchObject({ measured: "fault: 400 ms", latency: true });
  });

  it("detection is timed from the onset as the origin applied it, not from the phase's scheduled start", () => {
    const d = cleanRun();
    d.points = d.points.map((p) => (p.blobs?.[2] === "open" && p.blobs?.[1] === "closed" ? transition(10_400, "closed", "open") : p));
    d.faults = [{ phase: 1, region: "primary", setting: { mode: "blackhole" }, appliedAt: T0 + 10_120 }];
    expect(failing(d)).toEqual([]);
    expect(evaluate(d).targets.find((t) => t.name.startsWith("detection"))!.measured).toBe("fault: 280 ms");
  });

  it("a breaker that never opens fails detection, and the open-calls target has nothing to show", () => {
    const d = cleanRun();
    d.points = d.points.filter((p) => p.blobs?.[0] !== "breaker");
    expect(failing(d)).toEqual(["detection: fault onset to breaker open", "breaker object calls per 1,000 requests, open"]);
    expect(evaluate(d).targets.find((t) => t.name.startsWith("detection"))!.measured).toBe("fault: never opened");
  });

  it("a request with a copy answered 60 ms after its send fails the copy p99: it is timed from the send, whatever the breaker did", () => {
    const d = cleanRun();
    const p99 = () => evaluate(d).targets.find((t) => t.name === "p99 from send in fault phases, requests with a copy")!;
    // The copy was stored at 9.905 s: every fault request from 10.1 s on holds one (100 ms later), the one at 10.0 s is the no-copy target's.
    expect(p99()).toMatchObject({ pass: true, measured: "1.0 ms over 99 answers (99 from the copy, the rest from the origin); max 1.0 ms", latency: true });
    for (const i of [120, 121]) d.results[i] = result(i * 100, { latencyMs: 60 });
    expect(failing(d)).toEqual(["p99 from send in fault phases, requests with a copy"]);
  });

  it("a request without a copy answered 900 ms after its send fails the detection-bound p99, however soon after the opening it was released", () => {
    const d = cleanRun();
    const open = d.points.find((p) => p.blobs?.[0] === "breaker")!;
    open.timestamp = T0 + 10_200;
    const noCopy = { status: 503, cacheStatus: "edge-fallback; fwd=uri-miss; detail=breaker-open-no-lkg" };
    // Cold keys never stored, sent at 10.1-10.9 s; answered as the breaker opened, or 900 ms later.
    for (let i = 101; i < 110; i++) d.results[i] = result(i * 100, { ...noCopy, key: `/cold/${i}`, latencyMs: 250 });
    const bare = () => evaluate(d).targets.find((t) => t.name === "p99 from send in fault phases, requests without a copy")!;
    expect(bare()).toMatchObject({ pass: true, measured: "250.0 ms over 10 answers: 1 answered below 500, 9 clean 5xx, 0 without an answer" });
    for (let i = 101; i < 110; i++) d.results[i] = result(i * 100, { ...noCopy, key: `/cold/${i}`, latencyMs: 900 });
    expect(failing(d)).toEqual(["p99 from send in fault phases, requests without a copy"]);
  });

  it("a request left without an HTTP answer fails the every-request target: the worker never hangs", () => {
    const d = cleanRun();
    d.results[250] = result(25_000, { status: 0, error: "client-timeout", latencyMs: 10_000, cacheStatus: "" });
    expect(failing(d)).toEqual(["every request answered"]);
    expect(evaluate(d).targets.find((t) => t.name === "every request answered")!.measured).toBe("1 of 300 (first at 25.0 s, GET /hot/0: client-timeout)");
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

  it("late sends above 1 % fail the load target, which marks the run's timing unmeasured", () => {
    const d = cleanRun();
    for (let i = 0; i < 4; i++) d.results[i] = result(i * 100, { sendDelayMs: 12 });
    expect(failing(d)).toEqual(["load delivered on schedule"]);
  });
});

describe("hostile clients beside the users (broken-route)", () => {
  const hostilePlan: Plan = {
    ...plan,
    mix: { ...plan.mix, hostile: [{ name: "broken", share: 0.3, setting: { mode: "status", status: 500 } }] },
    phases: [
      { name: "baseline", durationS: 10, rate: 10, fault: false, baseline: true, origins: { primary: { mode: "healthy" } } },
      { name: "hostile", durationS: 20, rate: 10, fault: false, hostile: true, origins: { primary: { mode: "healthy" } } },
    ],
  };
  function hostileRun(): DrillData {
    const results: RequestResult[] = [];
    for (let at = 0; at < 30_000; at += 100) {
      const phase = at < 10_000 ? 0 : 1;
      results.push({ ...result(at), phase, latencyMs: 5, cacheStatus: "edge-fallback; fwd=bypass; fwd-status=200; stored", age: -1, originServedAt: T0 + at });
      if (phase === 1) results.push({ ...result(at + 50), phase, key: `/s/hostile-broken/${at}`, user: HOSTILE_USER, status: 500, cacheStatus: "edge-fallback; fwd=uri-miss; fwd-status=500; detail=no-lkg", originUser: "" });
    }
    return { ...cleanRun(), plan: hostilePlan, bounds: [0, 10_000, 30_000], results, points: [], counters: [counters(0, 0, 0), counters(30_000, 500, 0)] };
  }
  const usersTarget = (d: DrillData) => evaluate(d).targets.find((t) => t.name === "every user's request answered by the origin beside them")!;

  it("a user's copy served because the origin was over the copy budget is counted, not failed; one from the open breaker fails", () => {
    const d = hostileRun();
    const i = d.results.findIndex((r) => r.phase === 1 && r.user === "anonymous");
    d.results[i] = { ...d.results[i]!, cacheStatus: "edge-fallback; hit; detail=stale-origin-over-budget", age: 1 };
    expect(usersTarget(d)).toMatchObject({ pass: true, measured: "200 of 200 (1 from a copy over budget)" });
    d.results[i] = { ...d.results[i]!, cacheStatus: "edge-fallback; hit; detail=stale-breaker-open", age: 1 };
    expect(usersTarget(d)).toMatchObject({ pass: false, measured: '199 of 200 (0 from a copy over budget); first other: 200 "edge-fallback; hit; detail=stale-breaker-open"' });
  });
});

describe("the dashboard agreement counts", () => {
  it("counts a hostile client's anonymous GETs with no copy as lookups, as the SQL over the worker's points does", () => {
    const miss = (user: string) => result(0, { user, status: 500, cacheStatus: "edge-fallback; fwd=uri-miss; fwd-status=500; detail=no-lkg" });
    const counts = fallbackCounts([miss("anonymous"), miss(HOSTILE_USER), miss("auth:user-1"), result(15_000)]);
    expect(counts).toEqual({ served: 1, lookups: 3, misses: 2, missRate: 2 / 3 });
  });
});
