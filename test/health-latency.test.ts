import { describe, expect, it } from "vitest";
import { HEALTH_LEARN_INTERVAL_MS, HealthLatency } from "../src/origin/health-check.ts";

describe("the health check's deadline, learned from the health path itself", () => {
  it("is the full timeout until a check has passed, then 3 x the slowest of the last 8 passing checks, at least 100 ms, at most the timeout", () => {
    const h = new HealthLatency();
    expect(h.deadline(1000)).toBe(1000);
    h.record({ ok: false, why: "x", ms: 5 });
    expect(h.deadline(1000)).toBe(1000);
    h.record({ ok: true, status: 200, ms: 10 });
    expect(h.deadline(1000)).toBe(100);
    // A rendered / that takes 200 ms gets 600 ms, whatever the fast routes beside it do.
    h.record({ ok: true, status: 200, ms: 200 });
    expect(h.deadline(1000)).toBe(600);
    expect(h.deadline(500)).toBe(500);
    // Only the last 8 passing checks count.
    for (let i = 0; i < 8; i++) h.record({ ok: true, status: 200, ms: 20 });
    expect(h.slowestMs()).toBe(20);
    expect(h.deadline(1000)).toBe(100);
  });

  it("learns at most once per interval", () => {
    const h = new HealthLatency();
    expect(h.shouldLearn(0)).toBe(true);
    expect(h.shouldLearn(HEALTH_LEARN_INTERVAL_MS - 1)).toBe(false);
    expect(h.shouldLearn(HEALTH_LEARN_INTERVAL_MS)).toBe(true);
  });
});
