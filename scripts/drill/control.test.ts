/** The in-run control of the multi-region drills (control.ts): its schedule and its clock. */
import { describe, expect, it } from "vitest";
import { alignControl, controlPhases } from "./control.ts";
import type { RequestResult } from "./types.ts";

function answer(intendedAt: number, latencyMs: number, status = 200, error?: string): RequestResult {
  return { intendedAt, sendDelayMs: 0, latencyMs, status, phase: 0, key: "/hot/0", method: "GET", user: "anonymous", cacheStatus: "", age: -1, originUser: "", originServedAt: 0, region: "", fakeRegion: "", ...(error ? { error } : {}) };
}

describe("the in-run control", () => {
  it("runs each phase at a tenth of its rate, never below 20 req/s, for the same durations", () => {
    expect(controlPhases([{ rate: 200, durationS: 12 }, { rate: 1000, durationS: 20 }, { rate: 50, durationS: 4 }])).toEqual([
      { rate: 20, durationS: 12 },
      { rate: 100, durationS: 20 },
      { rate: 20, durationS: 4 },
    ]);
  });

  it("puts its answers on the plan load's clock and leaves out what it never sent; a failed answer stays (status 0)", () => {
    const run = { startedAtEpochMs: 1_000_250, durationMs: 2000, results: [answer(0, 3), answer(50, 4, 0, "client-timeout"), answer(100, 9, 0, "unsent")] };
    expect(alignControl(run, 1_000_000)).toEqual([
      { intendedAt: 250, latencyMs: 3, status: 200 },
      { intendedAt: 300, latencyMs: 4, status: 0 },
    ]);
  });
});
