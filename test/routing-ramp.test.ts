/** Return-to-home on its own: the step from rampStartedAt, never 0 -> 100 in one step, and RampJudge's abort on a step over its error budget. */
import { describe, expect, it } from "vitest";
import { readRouting } from "../src/config/routing.ts";
import { RampJudge, rampPercent, rampStep } from "../src/routing/ramp.ts";
import type { RegionControl, RoutingPolicy } from "../src/routing/types.ts";

const POLICY: RoutingPolicy = readRouting({}, []); // [10, 30, 60, 100], 10 s a step, 5 %, 20 requests
const T0 = 1_000_000;

function control(rampStartedAt: number | undefined): RegionControl {
  return { admin: "active", shedPercent: 0, rampStartedAt, reason: "admin:restore", changedAt: T0 };
}

describe("rampPercent", () => {
  it("follows [10, 30, 60, 100], 10 s a step, from the fleet's rampStartedAt; 100 when not ramping", () => {
    const c = control(T0);
    const at = (ms: number) => [rampStep(c, POLICY, T0 + ms), rampPercent(c, POLICY, T0 + ms)];
    expect(at(0)).toEqual([0, 10]);
    expect(at(9_999)).toEqual([0, 10]);
    expect(at(10_000)).toEqual([1, 30]);
    expect(at(20_000)).toEqual([2, 60]);
    expect(at(30_000)).toEqual([3, 100]);
    expect(at(40_000)).toEqual([-1, 100]);
    expect(rampPercent(control(undefined), POLICY, T0)).toBe(100);
    expect(rampStep(control(undefined), POLICY, T0)).toBe(-1);
  });

  it("an isolate whose clock is behind the fleet's sees the first step, not 100 %", () => {
    expect(rampPercent(control(T0), POLICY, T0 - 5_000)).toBe(10);
  });

  it("never goes from 0 to 100 in one step: every step of every valid ramp rises by less than 100", () => {
    for (const weights of [[10, 30, 60, 100], [1, 100], [99, 100], [50, 100]]) {
      const problems: string[] = [];
      const p = readRouting({ gradual_weights: weights }, problems);
      expect(problems).toEqual([]);
      const c = control(T0);
      let previous = 0;
      for (let ms = 0; ms <= weights.length * p.stepDwellMs; ms += 500) {
        const now = rampPercent(c, p, T0 + ms);
        expect(now - previous, `${weights.join(",")} at ${ms} ms`).toBeLessThan(100);
        previous = now;
      }
    }
  });
});

describe("RampJudge", () => {
  it("says abort with a reason once failures / attempts exceed 5 % after 20 attempts in the step, once per step", () => {
    const judge = new RampJudge(POLICY);
    const c = control(T0);
    const at = T0 + 10_000; // the 30 % step
    // 2 failures in the first 19 attempts: 10.5 %, but under the 20-attempt minimum.
    for (let i = 0; i < 19; i++) expect(judge.record("home", c, at, i < 2)).toBeUndefined();
    // The 20th: 2 / 20 = 10 % > 5 %.
    expect(judge.record("home", c, at, false)).toEqual({ reason: "error rate 10% > 5% at step 30%", step: 1, percent: 30 });
    expect(judge.record("home", c, at, true)).toBeUndefined();
  });

  it("a step at the budget or under it passes; each step is judged on its own attempts", () => {
    const judge = new RampJudge(POLICY);
    const c = control(T0);
    // Step 0: 1 failure in 20 = 5 %, not over.
    for (let i = 0; i < 20; i++) expect(judge.record("home", c, T0 + 100, i === 0)).toBeUndefined();
    // Step 1 starts from zero: 1 failure in 19 would be 5.3 %, but 19 is under the minimum.
    for (let i = 0; i < 19; i++) expect(judge.record("home", c, T0 + 10_100, i === 0)).toBeUndefined();
    expect(judge.record("home", c, T0 + 10_100, true)).toEqual({ reason: "error rate 10% > 5% at step 30%", step: 1, percent: 30 });
  });

  it("a new ramp (another rampStartedAt) starts counting again, and a region not ramping is not judged", () => {
    const judge = new RampJudge(POLICY);
    for (let i = 0; i < 19; i++) judge.record("home", control(T0), T0, true);
    expect(judge.record("home", control(T0 + 1), T0 + 1, true)).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(judge.record("home", control(undefined), T0, true)).toBeUndefined();
    expect(judge.record("home", control(T0), T0 + 40_000, true)).toBeUndefined();
  });

  it("regions are judged apart, and the reason shows a fraction of a percent", () => {
    const judge = new RampJudge({ ...POLICY, stepErrorBudget: 0.05, stepMinRequests: 40 });
    const c = control(T0);
    for (let i = 0; i < 40; i++) judge.record("other", c, T0, false);
    let verdict;
    for (let i = 0; i < 40; i++) verdict = judge.record("home", c, T0, i < 3);
    expect(verdict).toEqual({ reason: "error rate 7.5% > 5% at step 10%", step: 0, percent: 10 });
  });
});
