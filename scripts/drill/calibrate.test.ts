import { describe, expect, it } from "vitest";
import { chooseRate, oursVsBareTarget, type Calibration } from "./calibrate.ts";
import { verdictOf } from "./report.ts";
import type { TargetResult } from "./types.ts";

const ladder = (sustained: number) => ({ sustained, rungs: [] });

describe("calibration: the rate a drill runs at", () => {
  it("keeps the plan's rate when 60 % of what ours sustained covers it", () => {
    expect(chooseRate(400, 700)).toMatchObject({ rateUsed: 400, mode: "calibrated" });
    expect(chooseRate(400, 667)).toMatchObject({ rateUsed: 400, mode: "calibrated" });
  });

  it("lowers it to 60 % of what ours sustained, in whole tens, and says why", () => {
    const c = chooseRate(400, 300);
    expect(c.rateUsed).toBe(180);
    expect(c.reason).toBe("lowered from the plan's 400 req/s: our worker sustained 300 req/s of healthy load on this machine, and a drill runs at no more than 60 % of that so it measures the fallback, not queueing");
    expect(chooseRate(400, 89).rateUsed).toBe(50);
  });

  it("calls a machine where ours did not sustain 50 req/s too slow to drill, in one sentence", () => {
    const c = chooseRate(400, 0);
    expect(c.mode).toBe("too-slow");
    expect(c.rateUsed).toBe(0);
    expect(c.reason).toMatch(/^this machine is too slow to drill: our worker did not sustain even 50 req\/s/);
  });
});

describe("calibration's own target: ours >= 0.8 x bare", () => {
  const base: Calibration = { planRate: 400, rateUsed: 180, reason: "", mode: "calibrated", cap: 667, durationS: 40 };

  it("fails when ours sustained less than 0.8 x the bare worker in the same run", () => {
    const t = oursVsBareTarget({ ...base, ours: ladder(300), bare: ladder(400) })!;
    expect(t.pass).toBe(false);
    expect(t.measured).toBe("ours 300 req/s, bare 400 req/s (0.75 x)");
    expect(oursVsBareTarget({ ...base, ours: ladder(320), bare: ladder(400) })!.pass).toBe(true);
  });

  it("passes when ours reached the top of the ladder, whatever bare did", () => {
    expect(oursVsBareTarget({ ...base, ours: ladder(667), bare: ladder(667) })!.pass).toBe(true);
  });

  it("is absent when the rate was forced and nothing was measured", () => {
    expect(oursVsBareTarget({ ...base, mode: "forced" })).toBeUndefined();
  });
});

describe("a drill's verdict", () => {
  const target = (name: string, pass: boolean): TargetResult => ({ name, target: "", measured: name === "load delivered on schedule" ? "0 unsent, 40 late of 1000 (4.00 %)" : "", pass });

  it("is inconclusive when the load generator missed its schedule, naming what else failed", () => {
    const v = verdictOf([target("load delivered on schedule", false), target("p99 during fault phases", false), target("no answer older than 30 s", true)]);
    expect(v.verdict).toBe("inconclusive");
    expect(v.reason).toBe("the load generator missed its schedule (0 unsent, 40 late of 1000 (4.00 %)), so this run cannot judge the product; also failed: p99 during fault phases");
  });

  it("fails on a product target when the schedule was kept, and passes when all are met", () => {
    expect(verdictOf([target("load delivered on schedule", true), target("p99 during fault phases", false)])).toEqual({ verdict: "fail", reason: "p99 during fault phases" });
    expect(verdictOf([target("load delivered on schedule", true)]).verdict).toBe("pass");
  });
});
