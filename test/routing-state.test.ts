import { describe, expect, it } from "vitest";
import { routingPoint } from "../src/routing/point.ts";
import { apply, DEFAULT_CONTROL, EMPTY_SNAPSHOT, eventProblem, nextRampDeadline, rampPosition, type RoutingEvent, type RoutingRules } from "../src/routing/state.ts";
import type { RoutingSnapshot } from "../src/routing/types.ts";

const RULES: RoutingRules = { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 };
const T = 1_000_000;
const CONFIGURED = ["east", "west"];

const evacuate = (region: string, force = false): RoutingEvent => ({ type: "evacuate", region, configured: CONFIGURED, force });
const drain = (region: string, force = false): RoutingEvent => ({ type: "drain", region, configured: CONFIGURED, force });
const shed = (region: string, percent: number, force = false): RoutingEvent => ({ type: "shed", region, percent, configured: CONFIGURED, force });
const restore = (region: string): RoutingEvent => ({ type: "restore", region });

/** Applies events in order at the given times, failing on any refusal. */
function run(steps: [RoutingEvent, number][], from: RoutingSnapshot = EMPTY_SNAPSHOT): RoutingSnapshot {
  return steps.reduce((snapshot, [event, now]) => {
    const result = apply(snapshot, event, now, RULES);
    expect(result.refused).toBeUndefined();
    return result.snapshot;
  }, from);
}

describe("routing reducer: admin actions", () => {
  it("evacuate sets weight 0 with a point, and a second evacuate changes nothing (same generation, no point)", () => {
    const first = apply(EMPTY_SNAPSHOT, evacuate("east"), T, RULES);
    expect(first.changed).toBe(true);
    expect(first.snapshot).toEqual({
      generation: 1,
      regions: { east: { admin: "evacuated", shedPercent: 0, rampStartedAt: undefined, rampStep: undefined, reason: "admin:evacuate", changedAt: T } },
    });
    expect(first.point).toEqual({ region: "east", action: "evacuate", reason: "admin", source: "admin", percent: 0, step: 0, generation: 1 });
    const again = apply(first.snapshot, evacuate("east"), T + 5, RULES);
    expect(again).toEqual({ snapshot: first.snapshot, changed: false });
  });

  it("refuses (409 reason) to evacuate or drain the last active region, counting unseen configured regions as active; ?force does it", () => {
    // west has never been touched: it is active, so east may go.
    const east = run([[evacuate("east"), T]]);
    const refused = apply(east, evacuate("west"), T + 1, RULES);
    expect(refused.changed).toBe(false);
    expect(refused.snapshot).toBe(east);
    expect(refused.refused).toBe('evacuating "west" would leave no active region (east is evacuated); add ?force=1 to do it anyway');
    expect(apply(east, drain("west"), T + 1, RULES).refused).toBe('draining "west" would leave no active region (east is evacuated); add ?force=1 to do it anyway');
    expect(apply(east, shed("west", 100), T + 1, RULES).refused).toBe('shedding all traffic of "west" would leave no active region (east is evacuated); add ?force=1 to do it anyway');
    // Shedding less than all of it leaves west taking traffic.
    expect(apply(east, shed("west", 99), T + 1, RULES).changed).toBe(true);
    const forced = apply(east, evacuate("west", true), T + 1, RULES);
    expect(forced.snapshot.regions["west"]!.admin).toBe("evacuated");
    expect(forced.point).toMatchObject({ action: "evacuate", reason: "admin (forced)" });
    // A single configured region is the only one.
    expect(apply(EMPTY_SNAPSHOT, { type: "evacuate", region: "solo", configured: ["solo"], force: false }, T, RULES).refused).toBe(
      'evacuating "solo" would leave no active region (it is the only region); add ?force=1 to do it anyway',
    );
  });

  it("a region held dark does not count as active for the last-region check", () => {
    const dark = run([[{ type: "left", region: "west", why: "3 failures in a row" }, T]]);
    expect(apply(dark, evacuate("east"), T + 1, RULES).refused).toBe('evacuating "east" would leave no active region (west is held at 0 (dark)); add ?force=1 to do it anyway');
  });

  it("shed records the percent with a point; the same percent again changes nothing; shedding an evacuated region is refused", () => {
    const shedding = apply(EMPTY_SNAPSHOT, shed("east", 30), T, RULES);
    expect(shedding.snapshot.regions["east"]).toMatchObject({ admin: "active", shedPercent: 30, reason: "admin:shed 30%" });
    expect(shedding.point).toEqual({ region: "east", action: "shed", reason: "admin", source: "admin", percent: 30, step: 0, generation: 1 });
    expect(apply(shedding.snapshot, shed("east", 30), T + 1, RULES).changed).toBe(false);
    const evacuated = run([[evacuate("east"), T]]);
    const refused = apply(evacuated, shed("east", 10), T + 1, RULES);
    expect(refused.changed).toBe(false);
    expect(refused.refused).toBe('region "east" is evacuated: restore it before shedding a share of its traffic');
  });

  it("restore of an evacuated region makes it active with a ramp starting now; a second restore changes nothing", () => {
    const evacuated = run([[evacuate("east"), T]]);
    const restored = apply(evacuated, restore("east"), T + 60_000, RULES);
    expect(restored.snapshot.regions["east"]).toEqual({ admin: "active", shedPercent: 0, held: false, rampStartedAt: T + 60_000, rampStep: 0, reason: "admin:restore", changedAt: T + 60_000 });
    expect(restored.point).toEqual({ region: "east", action: "restore", reason: "admin", source: "admin", percent: 10, step: 0, generation: 2 });
    expect(apply(restored.snapshot, restore("east"), T + 61_000, RULES)).toEqual({ snapshot: restored.snapshot, changed: false });
  });

  it("restore of a region at full weight changes nothing: it never ramps a healthy region down", () => {
    expect(apply(EMPTY_SNAPSHOT, restore("east"), T, RULES)).toEqual({ snapshot: EMPTY_SNAPSHOT, changed: false });
  });

  it("restore after a partial shed lifts the shed at once (the region stayed warm); after shedding 100 % it ramps", () => {
    const partial = apply(run([[shed("east", 40), T]]), restore("east"), T + 1000, RULES);
    expect(partial.snapshot.regions["east"]).toMatchObject({ admin: "active", shedPercent: 0, rampStartedAt: undefined });
    expect(partial.point).toMatchObject({ action: "restore", percent: 100, step: 0 });
    const all = apply(run([[shed("east", 100), T]]), restore("east"), T + 1000, RULES);
    expect(all.snapshot.regions["east"]).toMatchObject({ admin: "active", shedPercent: 0, rampStartedAt: T + 1000, rampStep: 0 });
  });

  it("drain then restore ramps; restore ends a hold", () => {
    const drained = run([[drain("east"), T]]);
    expect(drained.regions["east"]!.admin).toBe("draining");
    expect(run([[restore("east"), T + 1]], drained).regions["east"]).toMatchObject({ admin: "active", rampStartedAt: T + 1 });
    const dark = run([[{ type: "left", region: "east", why: "down" }, T]]);
    expect(run([[restore("east"), T + 1]], dark).regions["east"]).toMatchObject({ held: false, rampStartedAt: T + 1, reason: "admin:restore" });
  });

  it("regions the snapshot has never seen read as active at full weight", () => {
    expect(rampPosition(DEFAULT_CONTROL, RULES, T)).toEqual({ step: 0, percent: 100 });
    expect(DEFAULT_CONTROL).toMatchObject({ admin: "active", shedPercent: 0 });
  });
});

describe("routing reducer: isolate reports and the ramp", () => {
  const left: RoutingEvent = { type: "left", region: "east", why: "3 failures in a row" };
  const returned: RoutingEvent = { type: "returned", region: "east", why: "2 successes" };

  it("left holds the ramp at 0; a second left changes nothing", () => {
    const dark = apply(EMPTY_SNAPSHOT, left, T, RULES);
    expect(dark.snapshot.regions["east"]).toMatchObject({ admin: "active", held: true, rampStartedAt: undefined, reason: "left:3 failures in a row", changedAt: T });
    expect(dark.point).toEqual({ region: "east", action: "left", reason: "3 failures in a row", source: "isolate", percent: 0, step: 0, generation: 1 });
    expect(rampPosition(dark.snapshot.regions["east"]!, RULES, T + 1_000_000)).toEqual({ step: 0, percent: 0 });
    expect(apply(dark.snapshot, left, T + 1, RULES).changed).toBe(false);
  });

  it("returned after the dwell starts the ramp now; returned again changes nothing", () => {
    const dark = run([[left, T]]);
    const back = apply(dark, returned, T + 30_000, RULES);
    expect(back.snapshot.regions["east"]).toMatchObject({ held: false, rampStartedAt: T + 30_000, rampStep: 0, reason: "returned:2 successes" });
    expect(back.point).toEqual({ region: "east", action: "returned", reason: "2 successes", source: "isolate", percent: 10, step: 0, generation: 2 });
    expect(apply(back.snapshot, returned, T + 31_000, RULES).changed).toBe(false);
  });

  it("returned within hysteresis_s of leaving is kept, but its ramp starts only when the dwell ends (0 % until then)", () => {
    const back = apply(run([[left, T]]), returned, T + 5000, RULES);
    const control = back.snapshot.regions["east"]!;
    expect(control).toMatchObject({ held: false, rampStartedAt: T + 30_000 });
    expect(back.point?.reason).toBe("2 successes; ramp starts in 25 s (hysteresis)");
    expect(rampPosition(control, RULES, T + 29_999)).toEqual({ step: 0, percent: 0 });
    expect(rampPosition(control, RULES, T + 30_000)).toEqual({ step: 0, percent: 10 });
  });

  it("returned for a region the fleet never saw leave ramps it (never a jump); while ramping it changes nothing", () => {
    const back = apply(EMPTY_SNAPSHOT, returned, T, RULES);
    expect(back.snapshot.regions["east"]).toMatchObject({ rampStartedAt: T, rampStep: 0 });
    expect(apply(back.snapshot, returned, T + 1, RULES).changed).toBe(false);
  });

  it("the ramp follows gradual_weights with a dwell per step, 100 after the last step", () => {
    const control = run([[left, T], [returned, T + 30_000]]).regions["east"]!;
    const at = (ms: number) => rampPosition(control, RULES, T + 30_000 + ms);
    expect([at(0), at(9_999), at(10_000), at(20_000), at(30_000), at(39_999), at(40_000), at(1e9)]).toEqual([
      { step: 0, percent: 10 },
      { step: 0, percent: 10 },
      { step: 1, percent: 30 },
      { step: 2, percent: 60 },
      { step: 3, percent: 100 },
      { step: 3, percent: 100 },
      { step: 3, percent: 100 },
      { step: 3, percent: 100 },
    ]);
  });

  it("ramp ticks record each step once (ramp_step points from the object), then end the ramp (ramp_done)", () => {
    const start = T + 30_000;
    let snapshot = run([[left, T], [returned, start]]);
    const tick = (ms: number) => {
      const result = apply(snapshot, { type: "ramp_tick", region: "east" }, start + ms, RULES);
      snapshot = result.snapshot;
      return result.point ? [result.point.action, result.point.percent, result.point.step, result.point.source] : null;
    };
    expect(nextRampDeadline(snapshot.regions["east"]!, RULES)).toBe(start + 10_000);
    expect(tick(9_999)).toBeNull();
    expect(tick(10_000)).toEqual(["ramp_step", 30, 1, "object"]);
    expect(tick(15_000)).toBeNull(); // an alarm running twice moves nothing
    expect(nextRampDeadline(snapshot.regions["east"]!, RULES)).toBe(start + 20_000);
    // A late alarm skips to the step its clock says, once.
    expect(tick(31_000)).toEqual(["ramp_step", 100, 3, "object"]);
    expect(nextRampDeadline(snapshot.regions["east"]!, RULES)).toBe(start + 40_000);
    expect(tick(40_000)).toEqual(["ramp_done", 100, 3, "object"]);
    expect(snapshot.regions["east"]).toMatchObject({ rampStartedAt: undefined, rampStep: undefined, reason: "ramp:done" });
    expect(nextRampDeadline(snapshot.regions["east"]!, RULES)).toBeUndefined();
    expect(tick(50_000)).toBeNull();
  });

  it("ramp_abort drops a ramping region back to held at 0 and says why; a later returned after the dwell restarts the ramp", () => {
    const start = T + 30_000;
    const ramping = run([[left, T], [returned, start]]);
    const reason = "error rate 12% > 5% at step 30%";
    const aborted = apply(ramping, { type: "ramp_abort", region: "east", reason, rampStartedAt: start }, start + 12_000, RULES);
    expect(aborted.snapshot.regions["east"]).toMatchObject({ held: true, rampStartedAt: undefined, reason: `ramp:abort ${reason}`, changedAt: start + 12_000 });
    expect(aborted.point).toEqual({ region: "east", action: "ramp_abort", reason, source: "isolate", percent: 0, step: 1, generation: 3 });
    expect(apply(aborted.snapshot, { type: "ramp_abort", region: "east", reason }, start + 13_000, RULES).changed).toBe(false);
    const again = apply(aborted.snapshot, returned, start + 12_000 + 30_000, RULES);
    expect(again.snapshot.regions["east"]).toMatchObject({ held: false, rampStartedAt: start + 42_000 });
  });

  it("an abort judged on an earlier ramp does not end a newer one; an abort of a region not ramping changes nothing", () => {
    const ramping = run([[left, T], [returned, T + 30_000]]);
    expect(apply(ramping, { type: "ramp_abort", region: "east", reason: "late", rampStartedAt: T }, T + 31_000, RULES).changed).toBe(false);
    expect(apply(EMPTY_SNAPSHOT, { type: "ramp_abort", region: "east", reason: "x" }, T, RULES).changed).toBe(false);
  });

  it("evacuating a ramping region ends its ramp; restoring starts a fresh one", () => {
    const ramping = run([[left, T], [returned, T + 30_000]]);
    const evacuated = run([[evacuate("east"), T + 35_000]], ramping);
    expect(evacuated.regions["east"]).toMatchObject({ admin: "evacuated", held: false, rampStartedAt: undefined });
    expect(run([[restore("east"), T + 50_000]], evacuated).regions["east"]).toMatchObject({ rampStartedAt: T + 50_000, rampStep: 0 });
  });
});

describe("routing events: shape checks the object applies before its reducer", () => {
  it("names the problem", () => {
    expect(eventProblem({ type: "evacuate", region: "../x", configured: [], force: false }, EMPTY_SNAPSHOT)).toBe(`region must be 1-63 letters, digits, '-' or '_', got "../x"`);
    expect(eventProblem({ type: "shed", region: "east", percent: 101, configured: [], force: false }, EMPTY_SNAPSHOT)).toBe("percent must be an integer 0..100, got 101");
    expect(eventProblem({ type: "shed", region: "east", percent: 2.5, configured: [], force: false }, EMPTY_SNAPSHOT)).toBe("percent must be an integer 0..100, got 2.5");
    expect(eventProblem({ type: "bogus", region: "east" } as unknown as RoutingEvent, EMPTY_SNAPSHOT)).toBe('unknown event type "bogus"');
    expect(eventProblem({ type: "left", region: "east", why: "x".repeat(201) }, EMPTY_SNAPSHOT)).toBe("why must be a string of at most 200 characters");
    expect(eventProblem(restore("east"), EMPTY_SNAPSHOT)).toBeUndefined();
    const full: RoutingSnapshot = { generation: 64, regions: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`r${i}`, DEFAULT_CONTROL])) };
    expect(eventProblem(restore("another"), full)).toBe("the snapshot already holds 64 regions");
    expect(eventProblem(restore("r1"), full)).toBeUndefined();
  });
});

describe("routing data point", () => {
  it("has the contract's columns: blob1 routing, blob2 action, blob3 reason, blob4 source; double1 percent, double2 step, double3 generation; index1 region", () => {
    expect(routingPoint({ region: "east", action: "ramp_abort", reason: "error rate 12% > 5% at step 30%", source: "isolate", percent: 0, step: 1, generation: 7 })).toEqual({
      indexes: ["east"],
      blobs: ["routing", "ramp_abort", "error rate 12% > 5% at step 30%", "isolate"],
      doubles: [0, 1, 7],
    });
  });
});
