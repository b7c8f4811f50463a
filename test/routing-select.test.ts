/** choose() on its own: who goes first and why, the order after it, assignments, and the exact shares over 100k seeded draws. */
import { describe, expect, it } from "vitest";
import { choose } from "../src/routing/select.ts";
import type { RegionInput, RoutingPolicy } from "../src/routing/types.ts";
import { policy, region } from "./routing-inputs.ts";

/** mulberry32: a small seeded generator, so the share tests are exact and repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const never = () => {
  throw new Error("random() was called");
};

const DRAWS = 100_000;

/** Percent of DRAWS that each region was first, and that each reason was given. */
function shares(regions: RegionInput[], p: RoutingPolicy, leader?: string) {
  const random = seeded(20261202);
  const first: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  for (let i = 0; i < DRAWS; i++) {
    const c = choose(regions, p, undefined, leader, random);
    first[c.order[0]!] = (first[c.order[0]!] ?? 0) + 100 / DRAWS;
    reasons[c.reason] = (reasons[c.reason] ?? 0) + 100 / DRAWS;
  }
  return { first, reasons };
}

describe("choose: shares over 100k seeded draws (within 1 point)", () => {
  it("weighted 1:3 gives 25 % / 75 %", () => {
    const { first, reasons } = shares([region("a"), region("b", { weight: 3 })], policy("weighted"));
    expect(Math.abs(first["a"]! - 25)).toBeLessThanOrEqual(1);
    expect(Math.abs(first["b"]! - 75)).toBeLessThanOrEqual(1);
    expect(Object.keys(reasons)).toEqual(["weighted"]);
  });

  it("a region shedding 40 % keeps exactly 60 % of its share (25 -> 15), the shed part goes to the other", () => {
    const { first, reasons } = shares([region("a", { control: { shedPercent: 40 } }), region("b", { weight: 3 })], policy("weighted"));
    expect(Math.abs(first["a"]! - 15)).toBeLessThanOrEqual(1);
    expect(Math.abs(first["b"]! - 85)).toBeLessThanOrEqual(1);
    expect(Math.abs(reasons["shed"]! - 10)).toBeLessThanOrEqual(1);
  });

  it("a region ramping at 30 % gets 30 % of its weighted share (50 -> 15); the others split the rest by weight", () => {
    const { first, reasons } = shares([region("a"), region("b"), region("c", { weight: 2, rampPercent: 30 })], policy("weighted"));
    expect(Math.abs(first["c"]! - 15)).toBeLessThanOrEqual(1);
    expect(Math.abs(first["a"]! - 42.5)).toBeLessThanOrEqual(1);
    expect(Math.abs(first["b"]! - 42.5)).toBeLessThanOrEqual(1);
    expect(Math.abs(reasons["ramp"]! - 35)).toBeLessThanOrEqual(1);
  });

  it("failover: the home ramping back at 10 % takes 10 %, the survivor 90 % (reason ramp)", () => {
    const regions = [region("home", { home: true, rampPercent: 10 }, 0), region("survivor", {}, 1)];
    const { first, reasons } = shares(regions, policy("failover"));
    expect(Math.abs(first["home"]! - 10)).toBeLessThanOrEqual(1);
    expect(Math.abs(first["survivor"]! - 90)).toBeLessThanOrEqual(1);
    expect(Math.abs(reasons["ramp"]! - 90)).toBeLessThanOrEqual(1);
    expect(Math.abs(reasons["failover"]! - 10)).toBeLessThanOrEqual(1);
  });

  it("failover: shedding 25 % and ramping at 60 % together keep (1 - 0.25) x 60 % = 45 %", () => {
    const regions = [region("home", { home: true, rampPercent: 60, control: { shedPercent: 25 } }, 0), region("survivor", {}, 1)];
    const { first, reasons } = shares(regions, policy("failover"));
    expect(Math.abs(first["home"]! - 45)).toBeLessThanOrEqual(1);
    expect(Math.abs(reasons["shed"]! - 25)).toBeLessThanOrEqual(1);
    expect(Math.abs(reasons["ramp"]! - 30)).toBeLessThanOrEqual(1);
  });

  it("latency: the leader shedding 50 % keeps half the traffic, the next fastest takes the rest", () => {
    const regions = [region("slow", { latencyMs: 90 }), region("fast", { latencyMs: 20, control: { shedPercent: 50 } }), region("mid", { latencyMs: 40 })];
    const { first } = shares(regions, policy("latency"), "fast");
    expect(Math.abs(first["fast"]! - 50)).toBeLessThanOrEqual(1);
    expect(Math.abs(first["mid"]! - 50)).toBeLessThanOrEqual(1);
    expect(first["slow"]).toBeUndefined();
  });

  it("each ramp step of [10, 30, 60, 100] gives the returning home region that share", () => {
    for (const step of [10, 30, 60, 100]) {
      const { first } = shares([region("home", { home: true, rampPercent: step }, 0), region("survivor", {}, 1)], policy("failover"));
      expect(Math.abs(first["home"]! - step), `step ${step}`).toBeLessThanOrEqual(1);
    }
  });
});

describe("choose: who goes first", () => {
  const failover = policy("failover");

  it("a single region: one precomputed Choice, the same object every time, no random draw", () => {
    const only = [region("primary", { usable: false })];
    const a = choose(only, failover, undefined, undefined, never);
    const b = choose(only, failover, "other", undefined, never);
    expect(a).toEqual({ order: ["primary"], reason: "single", assign: undefined });
    expect(b).toBe(a);
    expect(Object.isFrozen(a.order)).toBe(true);
  });

  it("failover: the lowest priority first, the home winning a tie, then ORIGINS order", () => {
    const regions = [region("a", { priority: 2 }), region("b", { priority: 1 }), region("c", { priority: 1, home: true }), region("d", { priority: 1 })];
    expect(choose(regions, failover, undefined, undefined, never)).toEqual({ order: ["c", "b", "d", "a"], reason: "failover", assign: "c" });
  });

  it("a sticky client stays on its usable region, even a draining one, with no new assignment and no draw", () => {
    const regions = [region("home", { home: true }, 0), region("other", {}, 1)];
    expect(choose(regions, failover, "other", undefined, never)).toEqual({ order: ["other", "home"], reason: "sticky", assign: undefined });
    const draining = [region("home", { home: true }, 0), region("other", { control: { admin: "draining" } }, 1)];
    expect(choose(draining, failover, "other", undefined, never)).toEqual({ order: ["other", "home"], reason: "sticky", assign: undefined });
    // Shedding and ramping move new sessions only.
    const shedding = [region("home", { home: true }, 0), region("other", { rampPercent: 10, control: { shedPercent: 100 } }, 1)];
    expect(choose(shedding, failover, "other", undefined, never).reason).toBe("sticky");
  });

  it("a sticky client whose region is evacuated or unusable moves, and is assigned the new region", () => {
    const evacuated = [region("home", { home: true, control: { admin: "evacuated" } }, 0), region("other", {}, 1)];
    expect(choose(evacuated, failover, "home", undefined, never)).toEqual({ order: ["other", "home"], reason: "failover", assign: "other" });
    const unusable = [region("home", { home: true, usable: false }, 0), region("other", {}, 1)];
    expect(choose(unusable, failover, "home", undefined, never)).toEqual({ order: ["other", "home"], reason: "failover", assign: "other" });
    // An assignment to a region configuration no longer has is simply no assignment.
    expect(choose(unusable, failover, "gone", undefined, never)).toEqual({ order: ["other", "home"], reason: "failover", assign: "other" });
  });

  it("a draining region takes no new session: every draw goes to the others, the draining one is second", () => {
    const regions = [region("a", { weight: 9, control: { admin: "draining" } }), region("b"), region("c", { usable: false })];
    const random = seeded(7);
    for (let i = 0; i < 1000; i++) {
      const c = choose(regions, policy("weighted"), undefined, undefined, random);
      expect(c).toEqual({ order: ["b", "a", "c"], reason: "weighted", assign: "b" });
    }
  });

  it("unusable and evacuated regions are never first while another is usable; evacuated ones come after the unusable", () => {
    const regions = [region("a", { weight: 100, control: { admin: "evacuated" } }, 0), region("b", { weight: 50, usable: false }, 1), region("c", {}, 2), region("d", {}, 3)];
    const random = seeded(11);
    const firsts = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const c = choose(regions, policy("weighted"), undefined, undefined, random);
      firsts.add(c.order[0]!);
      expect(c.order.slice(2)).toEqual(["b", "a"]);
    }
    expect([...firsts].sort()).toEqual(["c", "d"]);
  });

  it("no usable region: the ordinary order (so the stored copy still gets its try), reason no-usable-region, no assignment", () => {
    const regions = [region("a", { usable: false, priority: 1 }), region("b", { usable: false, priority: 0, control: { admin: "evacuated" } }), region("c", { usable: false, priority: 2 })];
    expect(choose(regions, failover, undefined, undefined, never)).toEqual({ order: ["a", "c", "b"], reason: "no-usable-region", assign: undefined });
    expect(choose(regions, failover, "a", undefined, never)).toEqual({ order: ["a", "c", "b"], reason: "no-usable-region", assign: undefined });
  });

  it("when only a draining region is usable it answers new clients too, without assigning them to it", () => {
    const regions = [region("a", { usable: false }, 0), region("b", { control: { admin: "draining" } }, 1)];
    expect(choose(regions, failover, undefined, undefined, never)).toEqual({ order: ["b", "a"], reason: "failover", assign: undefined });
  });

  it("a region shedding 100 % with no other active region keeps its traffic", () => {
    const regions = [region("a", { control: { shedPercent: 100 } }, 0), region("b", { usable: false }, 1)];
    expect(choose(regions, failover, undefined, undefined, () => 0)).toEqual({ order: ["a", "b"], reason: "failover", assign: "a" });
  });

  it("latency: the leader first, then the others by smoothed latency (unmeasured last), then the unusable", () => {
    const regions = [
      region("unmeasured", {}, 0),
      region("slow", { latencyMs: 80 }, 1),
      region("leader", { latencyMs: 30 }, 2),
      region("fast", { latencyMs: 20 }, 3),
      region("down", { latencyMs: 1, usable: false }, 4),
    ];
    expect(choose(regions, policy("latency"), undefined, "leader", never)).toEqual({ order: ["leader", "fast", "slow", "unmeasured", "down"], reason: "latency", assign: "leader" });
    // A leader that is unusable gives way to the fastest usable region at once.
    const leaderDown = regions.map((r) => (r.name === "leader" ? { ...r, usable: false } : r));
    expect(choose(leaderDown, policy("latency"), undefined, "leader", never).order).toEqual(["fast", "slow", "unmeasured", "leader", "down"]);
  });

  it("weighted: the failover candidates after the first are the other usable regions by weight after the dials", () => {
    const regions = [region("a", { weight: 1 }, 0), region("b", { weight: 3, rampPercent: 10 }, 1), region("c", { weight: 2 }, 2), region("d", { weight: 5, usable: false }, 3)];
    // Weight after the dials: c 2, a 1, b 3 x 10 % = 0.3. random 0 draws the first of them (c);
    // then a before b, and d, unusable, last.
    expect(choose(regions, policy("weighted"), undefined, undefined, () => 0)).toEqual({ order: ["c", "a", "b", "d"], reason: "weighted", assign: "c" });
  });

  it("assigns nothing when stickiness is off (stick_seconds 0)", () => {
    const regions = [region("a", {}, 0), region("b", {}, 1)];
    expect(choose(regions, policy("failover", { stick_seconds: 0 }), undefined, undefined, never)).toEqual({ order: ["a", "b"], reason: "failover", assign: undefined });
  });

  it("no regions at all: an empty order", () => {
    expect(choose([], failover, undefined, undefined, never)).toEqual({ order: [], reason: "no-usable-region", assign: undefined });
  });
});
