import { describe, expect, it } from "vitest";
import type { TargetResult } from "../types.ts";
import { rowMark, SCHEDULE_TARGET, verdictOf } from "./verdict.ts";

const schedule = (pass: boolean): TargetResult => ({ name: SCHEDULE_TARGET, target: "", measured: "0 unsent, 40 late of 1000 (4.00 %)", pass, disturbs: true });
const correctness = (name: string, pass: boolean): TargetResult => ({ name, target: "", measured: "", pass });
const timing = (name: string, pass: boolean): TargetResult => ({ name, target: "", measured: "61.0 ms", pass, latency: true });

describe("a drill's verdict", () => {
  it("fails on a leak in a run whose schedule slipped: correctness is judged in every run", () => {
    const v = verdictOf([schedule(false), correctness("no user's answer seen by another user", false), timing("p99 from send", false)]);
    expect(v.verdict).toBe("fail");
    expect(v.reason).toBe("no user's answer seen by another user; besides, load delivered on schedule: 0 unsent, 40 late of 1000 (4.00 %), so latency targets are unverified");
  });

  it("is inconclusive when the schedule slipped and only latency targets missed, naming them as unverified", () => {
    const v = verdictOf([schedule(false), timing("p99 from send", false), correctness("no answer older than 30 s", true)]);
    expect(v.verdict).toBe("inconclusive");
    expect(v.reason).toBe(
      "every correctness target passed, but load delivered on schedule (0 unsent, 40 late of 1000 (4.00 %)): this run cannot verify its latency targets; latency targets not met, unverified: p99 from send",
    );
  });

  it("passes a run whose schedule slipped when every target was met anyway: late sends only add to latency timed from the send", () => {
    const v = verdictOf([schedule(false), timing("p99 from send", true), correctness("no answer older than 30 s", true)]);
    expect(v).toEqual({ verdict: "pass", reason: "every target met, although load delivered on schedule was missed (0 unsent, 40 late of 1000 (4.00 %)): late sends only add to latency timed from the intended send" });
    expect(rowMark(schedule(false), true)).toBe("⚠️ missed: latency misses unverified");
  });

  it("leaves a relative target unverified in a disturbed run even when it passed: late sends may have inflated its baseline", () => {
    const relative: TargetResult = { ...timing("p95 of served requests vs baseline, per region", true), relative: true };
    const v = verdictOf([schedule(false), relative, timing("p99 from send", true)]);
    expect(v.verdict).toBe("inconclusive");
    expect(v.reason).toMatch(/met against a baseline the late sends may have inflated, unverified: p95 of served requests vs baseline, per region$/);
    expect(rowMark(relative, true)).toBe("⚠️ unverified (baseline disturbed)");
    expect(verdictOf([schedule(true), relative]).verdict).toBe("pass");
  });

  it("fails on a latency target when the schedule was kept, and passes when all are met", () => {
    expect(verdictOf([schedule(true), timing("p99 from send", false)])).toEqual({ verdict: "fail", reason: "p99 from send" });
    expect(verdictOf([schedule(true), timing("p99 from send", true)]).verdict).toBe("pass");
  });

  it("marks rows: a missed latency target in a disturbed run is unverified, a missed correctness target always fails", () => {
    expect(rowMark(timing("p99", false), true)).toBe("⚠️ unverified");
    expect(rowMark(timing("p99", false), false)).toBe("❌ fail");
    expect(rowMark(correctness("leaks", false), true)).toBe("❌ fail");
    expect(rowMark(correctness("leaks", true), true)).toBe("✅ pass");
  });

  it("never makes a correctness target inconclusive, even when it carries the flag", () => {
    expect(verdictOf([{ ...correctness("zero write loss", false), inconclusive: true }]).verdict).toBe("fail");
  });
});
