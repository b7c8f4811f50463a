/**
 * The multi-region targets are only worth something if a bad run fails them: a synthetic
 * three-region run (A: us-east evacuated; B: eu-west partitioned, ap-south survives; E: us-east
 * restored through 10/30/60/100) passes every target, and each test below gives it exactly one
 * defect and checks that exactly the target about it fails.
 */
import { describe, expect, it } from "vitest";
import type { ActionRecord, CounterSample, DataPoint, DrillData } from "./judge/data.ts";
import { evaluate } from "./judge/index.ts";
import { cutoverDelay, rampWindows } from "./region-checks.ts";
import { routingChanges } from "./region-points.ts";
import { drillRouting } from "./regions.ts";
import type { Plan, RequestResult } from "./types.ts";

const T0 = Date.parse("2026-12-01T12:00:00Z");
const ROUTING = { mode: "failover", hysteresis_s: 5, step_dwell_s: 4, gradual_weights: [10, 30, 60, 100] };

const plan: Plan = {
  name: "unit-regions",
  description: "A, B and E on three regions",
  regions: [{ name: "us-east", home: true }, { name: "eu-west" }, { name: "ap-south" }],
  routing: ROUTING,
  mix: { hotKeys: 1, coldKeys: 1, hotShare: 1, credentialedShare: 0, users: 1, writeShare: 0, sticky: { clients: 5, share: 0.2 } },
  phases: [
    { name: "baseline", durationS: 10, rate: 100, fault: false, baseline: true, origins: { "us-east": { mode: "healthy" }, "eu-west": { mode: "healthy" }, "ap-south": { mode: "healthy" } } },
    { name: "evacuate", durationS: 10, rate: 100, fault: true, origins: {}, admin: [{ region: "us-east", action: "evacuate" }] },
    { name: "partition", durationS: 10, rate: 100, fault: true, origins: { "eu-west": { mode: "partition" } } },
    { name: "restore", durationS: 16, rate: 100, fault: true, origins: {}, admin: [{ region: "us-east", action: "restore" }] },
  ],
};

interface Options {
  /** Until when new requests still reach us-east after its evacuation at 10 s. */
  evacuatedAt: number;
  /** Until when requests go to eu-west first and fail over, after its partition at 20 s. */
  failoverUntil: number;
  /** When the ramp's steps (10, 30, 60) and its end (100) began, as the routing points say. */
  steps: number[];
  /** The share (percent) of new sessions us-east really got in each step. */
  actualPercents: number[];
}

const GOOD: Options = { evacuatedAt: 10_100, failoverUntil: 20_300, steps: [30_000, 34_000, 38_000, 42_000], actualPercents: [10, 30, 60, 100] };

function base(at: number, over: Partial<RequestResult>): RequestResult {
  const phase = at < 10_000 ? 0 : at < 20_000 ? 1 : at < 30_000 ? 2 : 3;
  return {
    intendedAt: at,
    sendDelayMs: 0,
    latencyMs: 5,
    status: 200,
    phase,
    key: "/hot/0",
    method: "GET",
    user: "anonymous",
    cacheStatus: "edge-fallback; fwd=bypass; fwd-status=200; stored",
    age: -1,
    originUser: "anonymous",
    originServedAt: T0 + at,
    region: "",
    fakeRegion: "",
    ...over,
  };
}

function requestPoint(r: RequestResult, failedOverFrom: string): DataPoint {
  return {
    timestamp: T0 + r.intendedAt + r.latencyMs,
    indexes: [r.region],
    blobs: ["request", "origin_ok", "", "closed", "", "none", "", "GET", "/", "", "0", "", "success", r.region, failedOverFrom, failedOverFrom ? "failover" : "failover"],
    doubles: [r.latencyMs, 200, 0, r.latencyMs, 200, 0, 100, failedOverFrom ? 2 : 1],
  };
}

function routingPoint(at: number, region: string, action: string, source: string, percent = 0, step = 0, reason = "admin"): DataPoint {
  return { timestamp: T0 + at, indexes: [region], blobs: ["routing", action, reason, source], doubles: [percent, step, 1] };
}

function counters(at: number, requests: number, routingCalls: number): CounterSample {
  return { at: T0 + at, counters: { requests, doCalls: 0, doErrors: 0, kvReads: 0, kvWrites: 0, cacheWrites: 0, routingCalls, routingErrors: 0 } };
}

/** The region a new session goes to at `at`; `n` counts new sessions, for the ramp's exact shares. */
function freshRegion(at: number, n: number, o: Options): string {
  if (at < o.evacuatedAt) return "us-east";
  if (at < 20_000) return "eu-west";
  if (at < o.steps[0]!) return "ap-south";
  let step = 0;
  while (step + 1 < o.steps.length && at >= o.steps[step + 1]!) step++;
  // Spread evenly: the n-th new session goes home when the running count of home sessions steps up.
  const p = o.actualPercents[step]!;
  return Math.floor(((n + 1) * p) / 100) > Math.floor((n * p) / 100) ? "us-east" : "ap-south";
}

/** Whether a sticky client of `region` is answered there at `at` (what a correct worker does). */
function keeps(region: string, at: number, o: Options): boolean {
  if (region === "us-east") return at < o.evacuatedAt || at >= o.steps[0]!;
  if (region === "eu-west") return at < 20_000;
  return true;
}

function regionRun(o: Options = GOOD): DrillData {
  const results: RequestResult[] = [];
  const points: DataPoint[] = [];
  const jar = new Map<string, string>();
  let fresh = 0;
  for (let i = 0, at = 0; at < 46_000; i++, at += 10) {
    if (i % 5 === 0) {
      const client = `sticky-${(i / 5) % 5}`;
      const stuckTo = jar.get(client);
      const region = stuckTo !== undefined && keeps(stuckTo, at, o) ? stuckTo : freshRegion(at, fresh, o);
      const r = base(at, { client, region, fakeRegion: region, ...(stuckTo !== undefined ? { stuckTo } : {}) });
      jar.set(client, region);
      results.push(r);
      points.push(requestPoint(r, ""));
      continue;
    }
    // The drill's baseline pins: every region serves a baseline of its own.
    if (at < 10_000 && i % 5 !== 0 && (i % 10 === 1 || i % 10 === 3)) {
      const pinned = i % 10 === 1 ? "eu-west" : "ap-south";
      const r = base(at, { client: `pin-${pinned}`, stuckTo: pinned, region: pinned, fakeRegion: pinned });
      results.push(r);
      points.push(requestPoint(r, ""));
      continue;
    }
    const region = freshRegion(at, fresh++, o);
    const failedOver = at >= 20_000 && at < o.failoverUntil;
    const r = base(at, { region, fakeRegion: region, latencyMs: failedOver ? 300 : 5 });
    results.push(r);
    points.push(requestPoint(r, failedOver ? "eu-west" : ""));
  }
  const [s0, s1, s2, done] = o.steps;
  points.push(
    routingPoint(10_002, "us-east", "evacuate", "admin"),
    routingPoint(20_250, "eu-west", "left", "isolate", 0, 0, "3 failures in a row"),
    routingPoint(30_002, "us-east", "restore", "admin"),
    routingPoint(s0!, "us-east", "ramp_step", "isolate", 10, 0, "ramp"),
    routingPoint(s1!, "us-east", "ramp_step", "isolate", 30, 1, "ramp"),
    routingPoint(s2!, "us-east", "ramp_step", "isolate", 60, 2, "ramp"),
    routingPoint(done!, "us-east", "ramp_done", "isolate", 100, 3, "ramp"),
  );
  const actions: ActionRecord[] = [
    { phase: 1, region: "us-east", action: "evacuate", sentAt: T0 + 10_000, answeredAt: T0 + 10_005, status: 200, decidedAt: T0 + 10_002, detail: "" },
    { phase: 3, region: "us-east", action: "restore", sentAt: T0 + 30_000, answeredAt: T0 + 30_005, status: 200, decidedAt: T0 + 30_002, detail: "" },
  ];
  const samples: CounterSample[] = [];
  for (let s = 0; s <= 46; s++) samples.push(counters(s * 1000, s * 100, s));
  return {
    plan,
    startedAt: T0,
    bounds: [0, 10_000, 20_000, 30_000, 46_000],
    results,
    points,
    counters: samples,
    originPerSecond: {},
    settings: { maxAgeS: 30, threshold: 5, openMaxMs: 1500, timeoutMs: 5000 },
    regionRun: { routing: drillRouting(ROUTING), syncMs: 1000, actions, faults: [{ phase: 2, region: "eu-west", setting: { mode: "partition" }, appliedAt: T0 + 20_000 }] },
  };
}

function failing(d: DrillData): string[] {
  return evaluate(d).targets.filter((t) => !t.pass).map((t) => t.name);
}

function target(d: DrillData, name: string) {
  const t = evaluate(d).targets.find((x) => x.name === name);
  if (!t) throw new Error(`no target ${name}`);
  return t;
}

describe("multi-region drill targets", () => {
  it("a clean A-B-E run passes every target, with the region targets and without the single-origin breaker timings", () => {
    const d = regionRun();
    expect(failing(d)).toEqual([]);
    const names = evaluate(d).targets.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "evacuation: decision to < 1 % of new requests on the region",
        "blackhole: partition onset to traffic on the survivor",
        "zero failed reads while a region is healthy",
        "no read answered 5xx",
        "p95 of served requests vs baseline, per region",
        "no flapping",
        "sticky clients stay on their region",
        "return-to-home: each step's share of new sessions",
        "return-to-home: each step's dwell",
        "routing object calls while healthy",
      ]),
    );
    expect(names).not.toContain("breaker opens within 5 failures + 1 s");
    expect(names).not.toContain("p99 during fault phases");
    expect(target(d, "evacuation: decision to < 1 % of new requests on the region").measured).toBe("us-east at 10.0 s: 98 ms (it carried 100.0 % of requests in the second before)");
    expect(target(d, "blackhole: partition onset to traffic on the survivor").measured).toBe("eu-west at 20.0 s -> ap-south: 300 ms (24 requests failed over from it)");
    expect(target(d, "return-to-home: each step's dwell").measured).toBe("us-east 10 %: 4.0 s; us-east 30 %: 4.0 s; us-east 60 %: 4.0 s");
  });

  it("privacy and age hold for every region: the measured text counts per answering region", () => {
    const d = regionRun();
    expect(target(d, "no user's answer seen by another user").measured).toMatch(/^0 leaks in 4600 marked answers \(per answering region: ap-south 0\/\d+, eu-west 0\/\d+, us-east 0\/\d+\)$/);
    d.results[2000] = { ...d.results[2000]!, user: "auth:user-2", originUser: "auth:user-1" };
    expect(failing(d)).toEqual(["no user's answer seen by another user"]);
  });

  it("new requests reaching the evacuated region for 2.4 s after the decision fail the evacuation target alone", () => {
    const d = regionRun({ ...GOOD, evacuatedAt: 12_500 });
    expect(failing(d)).toEqual(["evacuation: decision to < 1 % of new requests on the region"]);
  });

  it("requests still sent to the partitioned region first for 1.5 s fail the blackhole target alone", () => {
    const d = regionRun();
    d.points = d.points.map((p) => {
      const start = p.timestamp - (p.doubles?.[0] ?? 0) - T0;
      return p.blobs?.[0] === "request" && start >= 20_000 && start < 21_500 && p.blobs[13] === "ap-south" ? { ...p, blobs: p.blobs.map((b, i) => (i === 14 ? "eu-west" : b)) } : p;
    });
    expect(failing(d)).toEqual(["blackhole: partition onset to traffic on the survivor"]);
  });

  it("a read with no answer while a region is healthy fails the failed-reads target; a read 5xx fails the 5xx target too", () => {
    const timedOut = regionRun();
    timedOut.results[500] = { ...timedOut.results[501]!, intendedAt: 5_000, status: 0, error: "client-timeout", region: "" };
    expect(failing(timedOut)).toEqual(["every request answered", "zero failed reads while a region is healthy"]);
    const fiveXx = regionRun();
    fiveXx.results[500] = { ...fiveXx.results[501]!, intendedAt: 5_000, status: 503, region: "", cacheStatus: "edge-fallback; fwd=uri-miss; detail=no-lkg" };
    expect(failing(fiveXx)).toEqual(["zero failed reads while a region is healthy", "no read answered 5xx"]);
  });

  it("a 4xx the origin sent is a served read; one the worker made up is not", () => {
    const d = regionRun();
    d.results[500] = { ...d.results[501]!, intendedAt: 5_000, status: 404, cacheStatus: "edge-fallback; fwd=bypass; fwd-status=404" };
    expect(failing(d)).toEqual([]);
    d.results[500] = { ...d.results[501]!, intendedAt: 5_000, status: 404, cacheStatus: "" };
    expect(failing(d)).toEqual(["zero failed reads while a region is healthy"]);
  });

  it("a survivor serving 40 % slower than the baseline fails the per-region p95 target alone", () => {
    const d = regionRun();
    d.results = d.results.map((r) => (r.phase === 3 && r.region === "ap-south" ? { ...r, latencyMs: 7 } : r));
    expect(failing(d)).toEqual(["p95 of served requests vs baseline, per region"]);
  });

  it("reads a survivor answered in another region's cutover are judged by their p99 from send, not the survivor's p95; as many slow reads later fail the p95", () => {
    // The cutover takes most of the detection bound: the reads sent then waited 300 ms for the failed region.
    const slowCutover = regionRun({ ...GOOD, failoverUntil: 20_290 });
    expect(target(slowCutover, "blackhole: partition onset to traffic on the survivor").pass).toBe(true);
    const t = target(slowCutover, "p95 of served requests vs baseline, per region");
    expect(t.pass).toBe(true);
    expect(t.measured).toContain("ap-south: 5.0 ms vs 5.0 ms (x1.00) over 1931 reads, baseline 80; 29 sent in another region's cutover, judged by their p99 from send");
    expect(target(slowCutover, "p99 from send of reads in the faults").measured).toBe("5.0 ms over 3600 reads; the 54 sent in a cutover: p99 300.0 ms, max 300.0 ms");
    // The same 300 ms answers a second later are the survivor's own: more than 5 % of them, so its p95 is 300 ms.
    const slowLater = regionRun();
    slowLater.results = slowLater.results.map((r) => (r.region === "ap-south" && r.intendedAt >= 21_000 && r.intendedAt < 22_100 ? { ...r, latencyMs: 300 } : r));
    expect(target(slowLater, "p95 of served requests vs baseline, per region").measured).toContain("ap-south: 300.0 ms vs 5.0 ms (x60.00)");
    expect(failing(slowLater)).toEqual(["p95 of served requests vs baseline, per region"]);
  });

  it("a survivor 1.4 x its baseline fails even in a run whose seconds were all slow: nothing is widened or set aside", () => {
    const d = regionRun();
    const phase3 = d.results.filter((r) => r.phase === 3).map((r) => r.intendedAt);
    const start = Math.min(...phase3);
    // Three seconds of stall: 3 of 16 s of the phase is more than 5 % of its answers.
    const stall = { ...d, results: d.results.map((r) => (r.phase === 3 && r.intendedAt < start + 3000 ? { ...r, latencyMs: 120 } : r)) };
    expect(failing(stall)).toEqual(["p95 of served requests vs baseline, per region"]);
    expect(target(stall, "p95 of served requests vs baseline, per region").latency).toBe(true);
  });

  it("a region that served reads without a baseline of its own fails the per-region p95: the home region's baseline is not its distance", () => {
    const d = regionRun();
    d.results = d.results.filter((r) => !(r.client === "pin-ap-south"));
    expect(target(d, "p95 of served requests vs baseline, per region").measured).toContain("ap-south: 1930 reads served but only 0 in the baseline (fewer than 50): no baseline to judge them by");
    expect(failing(d)).toEqual(["p95 of served requests vs baseline, per region"]);
  });

  it("reads in the faults slower than the detection bound at p99 fail their latency target alone", () => {
    const d = regionRun();
    d.results = d.results.map((r) => (r.phase === 2 && r.region === "ap-south" && r.intendedAt < 20_600 ? { ...r, latencyMs: 400 } : r));
    // Those reads are the survivor's in its first 600 ms; the p95 judges the rest of the phase with them.
    const failed = failing(d);
    expect(failed).toContain("p99 from send of reads in the faults");
    expect(target(d, "p99 from send of reads in the faults").measured).toMatch(/^400\.0 ms over \d+ reads/);
  });

  it("the open budget is each open region's own object's: another object still syncing after its trouble is not counted against it", () => {
    const d = regionRun();
    const transition = (at: number, from: string, to: string): DataPoint => ({ timestamp: T0 + at, indexes: ["eu-west"], blobs: ["breaker", from, to, "failure", "object"], doubles: [] });
    d.points.push(transition(20_200, "closed", "open"), transition(29_000, "half-open", "closed"));
    // 100 requests a second; eu-west's object 0.8 calls a second while open, us-east's 2 (its own trouble window).
    d.counters = d.counters.map((c) => {
      const s = (c.at - T0) / 1000;
      return { ...c, counters: { ...c.counters, "doCalls:eu-west": Math.round(Math.max(0, s - 20) * 0.8), "doCalls:us-east": 2 * s } };
    });
    const open = () => evaluate(d).targets.find((t) => t.name === "breaker object calls per 1,000 requests, open")!;
    expect(open()).toMatchObject({ pass: true, measured: "eu-west: 7.50 over 800 requests" });
    d.counters = d.counters.map((c) => ({ ...c, counters: { ...c.counters, "doCalls:eu-west": 2 * Math.max(0, (c.at - T0) / 1000 - 20) } }));
    expect(open()).toMatchObject({ pass: false, measured: "eu-west: 20.00 over 800 requests" });
  });

  it("a region that leaves, returns and leaves again within hysteresis_s fails the flapping target alone", () => {
    const d = regionRun();
    d.points.push(routingPoint(22_000, "eu-west", "returned", "isolate", 0, 0, "2 successes"), routingPoint(23_000, "eu-west", "left", "isolate", 0, 0, "3 failures in a row"));
    expect(failing(d)).toEqual(["no flapping"]);
    expect(target(d, "no flapping").measured).toMatch(/^2 flaps: eu-west \(isolate\): left then returned 1750 ms apart/);
  });

  it("changes by different deciders (an isolate, the object) are judged apart: one change each is no flap", () => {
    const d = regionRun();
    d.points.push(routingPoint(20_260, "eu-west", "left", "object", 0, 0, "isolate report"));
    expect(failing(d)).toEqual([]);
  });

  it("sticky clients moved off their usable region fail the stickiness target alone", () => {
    const d = regionRun();
    // During the ramp, clients stuck to ap-south are sent home with new sessions.
    d.results = d.results.map((r, i) => (r.client && r.stuckTo === "ap-south" && r.phase === 3 && i % 3 === 0 ? { ...r, region: "us-east" } : r));
    expect(failing(d)).toEqual(["sticky clients stay on their region"]);
  });

  it("a sticky client's copy served at the copy budget is left out of stickiness and counted; a copy for any other cause counts as moved", () => {
    const d = regionRun();
    const copy = (detail: string) => (r: RequestResult, i: number) => (r.client?.startsWith("sticky") && r.stuckTo === "ap-south" && r.phase === 3 && i % 3 === 0 ? { ...r, region: "", cacheStatus: `edge-fallback; hit; ${detail}`, age: 1 } : r);
    const budget = { ...d, results: d.results.map(copy("detail=stale-origin-over-budget")) };
    expect(failing(budget)).toEqual([]);
    expect(target(budget, "sticky clients stay on their region").measured).toMatch(/^100\.00 % \(\d+ of \d+; [1-9]\d* answered from a copy at the budget\)$/);
    const open = { ...d, results: d.results.map(copy("detail=stale-breaker-open")) };
    expect(failing(open)).toEqual(["sticky clients stay on their region"]);
  });

  it("a sticky client failed over from a region that fails a share of requests has not lost its affinity", () => {
    const d = regionRun();
    d.plan = { ...plan, phases: plan.phases.map((p, i) => (i === 3 ? { ...p, origins: { "ap-south": { mode: "flaky", failRate: 0.05, status: 503 } } } : p)) };
    d.results = d.results.map((r, i) => (r.client && r.stuckTo === "ap-south" && r.phase === 3 && i % 20 === 0 ? { ...r, region: "us-east" } : r));
    expect(failing(d)).toEqual([]);
  });

  it("a ramp step whose share is 10 points over its weight fails the share target alone", () => {
    const d = regionRun({ ...GOOD, actualPercents: [10, 40, 60, 100] });
    expect(failing(d)).toEqual(["return-to-home: each step's share of new sessions"]);
    expect(target(d, "return-to-home: each step's share of new sessions").measured).toContain("us-east 30 % at 34.0 s: 40.0 % vs 30.0 %");
  });

  it("a ramp step that dwells 5 s instead of 4 s fails the dwell target alone", () => {
    const d = regionRun({ ...GOOD, steps: [30_000, 34_000, 39_000, 42_000] });
    expect(failing(d)).toEqual(["return-to-home: each step's dwell"]);
  });

  it("a ramp that aborts fails the share target, with the worker's reason", () => {
    const d = regionRun();
    d.points.push(routingPoint(36_000, "us-east", "ramp_abort", "isolate", 30, 1, "error rate 12% > 5% at step 30%"));
    const t = target(d, "return-to-home: each step's share of new sessions");
    expect(t.pass).toBe(false);
    expect(t.measured).toContain('us-east aborted at 36.0 s: "error rate 12% > 5% at step 30%"');
  });

  it("a restore the worker never ramped fails the share target; an action it refused fails the admin target alone", () => {
    const unramped = regionRun();
    unramped.points = unramped.points.filter((p) => !(p.blobs?.[0] === "routing" && (String(p.blobs[1]).startsWith("ramp") || p.blobs[1] === "restore")));
    expect(failing(unramped)).toContain("return-to-home: each step's share of new sessions");
    expect(target(unramped, "return-to-home: each step's share of new sessions").measured).toBe("us-east: restored at 30.0 s but no ramp step followed");
    const refused = regionRun();
    refused.regionRun!.actions.push({ phase: 2, region: "ap-south", action: "drain", sentAt: T0 + 20_000, answeredAt: T0 + 20_004, status: 409, detail: '{"error":"would leave no active region"}' });
    expect(failing(refused)).toEqual(["admin region actions answered 200"]);
  });

  it("the routing object called on every request while healthy fails its target alone", () => {
    const d = regionRun();
    d.counters = d.counters.map((c) => ({ ...c, counters: { ...c.counters, routingCalls: c.counters["requests"]! } }));
    expect(failing(d)).toEqual(["routing object calls while healthy"]);
  });

  it("a region's origin receiving more than probes while its breaker is open fails that target alone", () => {
    const d = regionRun();
    const breaker = (at: number, from: string, to: string): DataPoint => ({ timestamp: T0 + at, indexes: ["eu-west"], blobs: ["breaker", from, to, "failure", "object"], doubles: [] });
    d.points.push(breaker(20_400, "closed", "open"), breaker(29_000, "open", "closed"));
    expect(failing(d)).toEqual([]);
    d.originPerSecond = { "eu-west": { [String(Math.floor((T0 + 25_000) / 1000))]: 40 } };
    expect(failing(d)).toEqual(["while a region's breaker is open, its origin gets only probes"]);
  });
});

describe("cutover and ramp windows", () => {
  const events = (bad: (t: number) => boolean) => Array.from({ length: 500 }, (_, i) => ({ t: i * 10, bad: bad(i * 10) }));

  it("cutoverDelay is the start of the first clean 1 s window after the last dirty one", () => {
    expect(cutoverDelay(events(() => false), 0, 5000)).toBe(0);
    expect(cutoverDelay(events((t) => t < 730), 0, 5000)).toBe(730);
    // One straggler at 3 s makes every window over it dirty (1 of 100 is not below 1 %).
    expect(cutoverDelay(events((t) => t < 500 || t === 3000), 0, 5000)).toBe(3010);
    expect(cutoverDelay(events((t) => t > 4500), 0, 5000)).toBe(Infinity);
    expect(cutoverDelay(events(() => true), 0, 800)).toBeUndefined();
  });

  it("rampWindows reads steps once, whoever reports them, and closes a ramp on an evacuation", () => {
    const points = [
      routingPoint(1_000, "us-east", "restore", "admin"),
      routingPoint(1_001, "us-east", "ramp_step", "isolate", 10, 0),
      routingPoint(5_000, "us-east", "ramp_step", "isolate", 30, 1),
      routingPoint(5_010, "us-east", "ramp_step", "object", 30, 1),
      routingPoint(7_000, "us-east", "evacuate", "admin"),
    ];
    const { windows } = rampWindows(routingChanges(points), T0, 10_000, [10, 30, 60, 100], 4_000);
    expect(windows.map((w) => [w.percent, w.from, w.to, w.endedBy])).toEqual([
      [10, 1_000, 5_000, "step"],
      [30, 5_000, 7_000, "change"],
    ]);
  });

  it("a new latency leader ends every open window: the full share it judged against has changed", () => {
    const points = [
      routingPoint(1_000, "us-east", "restore", "admin"),
      routingPoint(5_000, "us-east", "ramp_done", "object", 100, 3),
      routingPoint(8_000, "eu-west", "leader", "isolate", 100, 0),
    ];
    const { windows } = rampWindows(routingChanges(points), T0, 20_000, [10, 100], 4_000);
    expect(windows.map((w) => [w.region, w.percent, w.from, w.to, w.endedBy])).toEqual([
      ["us-east", 10, 1_000, 5_000, "step"],
      ["us-east", 100, 5_000, 8_000, "change"],
    ]);
  });

  it("a return within hysteresis_s starts its ramp later: its first step is judged over its last dwell, its dwell not at all", () => {
    const points = [
      routingPoint(1_000, "eu-west", "returned", "isolate", 10, 0, "2 successes; ramp starts in 3 s (hysteresis)"),
      routingPoint(8_000, "eu-west", "ramp_step", "object", 30, 1),
    ];
    const { windows } = rampWindows(routingChanges(points), T0, 20_000, [10, 30, 60, 100], 4_000);
    expect(windows[0]).toMatchObject({ percent: 10, from: 4_000, to: 8_000, delayed: true });
  });
});

