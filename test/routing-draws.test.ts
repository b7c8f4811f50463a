/** The choice's evenly spread draws: a ramp step's share is its weight over any few hundred sessions, not over a hundred thousand. */
import { describe, expect, it } from "vitest";
import { Draws } from "../src/routing/draws.ts";
import { choose } from "../src/routing/select.ts";
import type { RegionInput, RoutingPolicy } from "../src/routing/types.ts";
import { policy, region } from "./routing-inputs.ts";

/** The share (percent) each region was first, in each consecutive window of `size` choices. */
function windowShares(regions: RegionInput[], p: RoutingPolicy, draws: Draws, windows: number, size: number, name: string): number[] {
  const out: number[] = [];
  for (let w = 0; w < windows; w++) {
    let hits = 0;
    for (let i = 0; i < size; i++) if (choose(regions, p, undefined, undefined, draws.forChoice()).order[0] === name) hits++;
    out.push((100 * hits) / size);
  }
  return out;
}

describe("the choice's draws", () => {
  it("a 30 % ramp step gets 30 % of every window of 700 new sessions, within half a point, from any start", () => {
    const regions = [region("home", { home: true, rampPercent: 30 }, 0), region("survivor", {}, 1)];
    for (const start of [0, 0.25, 0.999]) {
      const shares = windowShares(regions, policy("failover"), new Draws(() => start), 20, 700, "home");
      for (const s of shares) expect(Math.abs(s - 30)).toBeLessThan(0.5);
    }
  });

  it("a 10 % step gets 10 % of every window of 100 sessions, within 2 points (Math.random: about 3 points either way, one window in three)", () => {
    const regions = [region("home", { home: true, rampPercent: 10 }, 0), region("survivor", {}, 1)];
    const shares = windowShares(regions, policy("failover"), new Draws(), 50, 100, "home");
    for (const s of shares) expect(Math.abs(s - 10)).toBeLessThanOrEqual(2);
  });

  it("a shed and a weight draw of one choice are independent: shed 50 % of a region at weight 2 of 4 leaves it a quarter, the others three eighths each", () => {
    const regions = [region("a", { weight: 2, control: { shedPercent: 50 } }), region("b", {}, 1), region("c", {}, 2)];
    const p = policy("weighted");
    const draws = new Draws(() => 0.5);
    const first: Record<string, number> = {};
    const n = 8000;
    for (let i = 0; i < n; i++) {
      const name = choose(regions, p, undefined, undefined, draws.forChoice()).order[0]!;
      first[name] = (first[name] ?? 0) + 100 / n;
    }
    expect(first["a"]).toBeCloseTo(25, 0);
    expect(first["b"]).toBeCloseTo(37.5, 0);
    expect(first["c"]).toBeCloseTo(37.5, 0);
  });

  it("every draw is in [0, 1), and each choice starts again at its first sequence", () => {
    const draws = new Draws(() => 0.9);
    const first = draws.forChoice();
    const a = first();
    const b = first();
    const second = draws.forChoice();
    const c = second();
    for (const x of [a, b, c]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    // The first sequence moved on by one step between the two choices; the second sequence is untouched by the second choice's first draw.
    expect(c).toBeCloseTo((a + 0.6180339887498949) % 1, 12);
    expect(b).toBeCloseTo((0.9 + 0.41421356237309515) % 1, 12);
  });
});
