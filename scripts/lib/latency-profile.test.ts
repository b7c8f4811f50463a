import { describe, expect, it } from "vitest";
import { xorshift32 } from "../drill/stats.ts";
import { profileProblems, sampleDelay } from "./latency-profile.ts";

/** The q-quantile of n draws from the profile, with a fixed seed. */
function quantileOf(medianMs: number, p99Ms: number, q: number, n = 20_000): number {
  const random = xorshift32(0x9e3779b9);
  const draws = Array.from({ length: n }, () => sampleDelay({ medianMs, p99Ms }, random)).sort((a, b) => a - b);
  return draws[Math.floor(q * n)]!;
}

describe("an origin's latency profile", () => {
  it("draws delays whose median and p99 are the profile's, within 5 %", () => {
    expect(quantileOf(8, 24, 0.5)).toBeGreaterThan(8 * 0.95);
    expect(quantileOf(8, 24, 0.5)).toBeLessThan(8 * 1.05);
    expect(quantileOf(8, 24, 0.99)).toBeGreaterThan(24 * 0.95);
    expect(quantileOf(8, 24, 0.99)).toBeLessThan(24 * 1.05);
  });

  it("never draws beyond three times the p99, and nothing for a zero median", () => {
    const random = xorshift32(7);
    const max = Math.max(...Array.from({ length: 50_000 }, () => sampleDelay({ medianMs: 10, p99Ms: 40 }, random)));
    expect(max).toBeLessThanOrEqual(120);
    expect(sampleDelay({ medianMs: 0, p99Ms: 0 })).toBe(0);
  });

  it("names every problem of a bad profile with its field", () => {
    expect(profileProblems("latency.us-east", { medianMs: 30, p99Ms: 20, spread: 1 })).toEqual([
      "latency.us-east.p99Ms must be from medianMs to 5000 ms, got 20",
      "latency.us-east.spread is not a profile field (medianMs, p99Ms)",
    ]);
    expect(profileProblems("latency.x", "fast")).toEqual(['latency.x must be {medianMs, p99Ms}, got "fast"']);
    expect(profileProblems("latency.x", { medianMs: 8, p99Ms: 24 })).toEqual([]);
  });
});
