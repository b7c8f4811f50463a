import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, FakeClock, requestPoints, type Harness } from "./helpers.ts";
import { fleetOn, FUTURE, lastRouted, pair, routed, routingPoints, twoRegions } from "./regions-helpers.ts";

// Restore after an evacuation: home's share of its weight follows gradual_weights [10, 30, 60,
// 100], one step_dwell_s (10 s) per step, computed by every isolate from the ramp's start. In
// failover mode that is home's share of new requests; the rest go away, recorded as `ramp`. Shares are drawn with
// Math.random: each bound below is about 4 standard deviations from its weight over 400 requests.

const REGIONS = "https://edge.example.com/__edge/admin/regions";
const RULES = { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 };

/** `n` new requests; the share home answered and the routing columns of each. */
async function share(h: Harness, url: string, home: string, n: number) {
  const before = requestPoints(h.metrics).length;
  for (let i = 0; i < n; i++) await (await h.fetch(url)).arrayBuffer();
  const points = requestPoints(h.metrics).slice(before).map(routed);
  return { home: points.filter((p) => p.answered === home).length / n, points };
}

describe("restore", () => {
  it("starts the ramp at the first gradual weight (double7 10), and each step_dwell_s moves it: 30, 60, then full weight", async () => {
    const clock = new FakeClock(FUTURE);
    await fleetOn(clock, RULES);
    const { h, home, away } = twoRegions({ clock, routing: { stick_seconds: 0, gradual_weights: RULES.gradualWeights, step_dwell_s: 10 } });
    const s = pair("rs-ramp");
    expect((await h.fetch(`${REGIONS}/${home}/evacuate`, { method: "POST", headers: ADMIN_HEADERS })).status).toBe(200);
    clock.advance(60_000);
    const restored = await h.fetch(`${REGIONS}/${home}/restore`, { method: "POST", headers: ADMIN_HEADERS });
    expect(restored.status).toBe(200);
    expect(await restored.json()).toMatchObject({ control: { admin: "active", rampStartedAt: clock.t, rampStep: 0, held: false } });
    expect(routingPoints(h.metrics)).toEqual([
      [home, "evacuate", "admin", "admin", 0, 0],
      [home, "restore", "admin", "admin", 10, 0],
    ]);

    const first = await share(h, s.url("/r"), home, 400);
    expect(first.home).toBeGreaterThan(0.04);
    expect(first.home).toBeLessThan(0.17);
    expect(new Set(first.points.filter((p) => p.answered === home).map((p) => `${p.reason} ${p.ramp}`))).toEqual(new Set(["failover 10"]));
    expect(new Set(first.points.filter((p) => p.answered === away).map((p) => `${p.reason} ${p.ramp}`))).toEqual(new Set(["ramp 100"]));

    clock.advance(10_000);
    const second = await share(h, s.url("/r"), home, 400);
    expect(second.home).toBeGreaterThan(0.2);
    expect(second.home).toBeLessThan(0.4);
    expect(new Set(second.points.filter((p) => p.answered === home).map((p) => p.ramp))).toEqual(new Set([30]));

    clock.advance(10_000);
    const third = await share(h, s.url("/r"), home, 400);
    expect(third.home).toBeGreaterThan(0.5);
    expect(third.home).toBeLessThan(0.7);
    expect(new Set(third.points.filter((p) => p.answered === home).map((p) => p.ramp))).toEqual(new Set([60]));

    // Step 3 is 100 %, and past the last step the region is not ramping: all new requests home.
    clock.advance(10_000);
    const done = await share(h, s.url("/r"), home, 20);
    expect(done.home).toBe(1);
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "failover", ramp: 100, tried: 1 });
  });
});
