import { describe, expect, it } from "vitest";
import { FakeClock, ORIGIN_URL, ORIGIN_URL_B, requestPoints, unreachableBreaker, type Harness } from "./helpers.ts";
import { fleetOn, FUTURE, isolateRegion, lastRouted, routed, routingPoints, type Side, twoRegions } from "./regions-helpers.ts";

// Home goes dark and comes back. Each region's URL carries its own scenario as a path prefix, so
// the health path the isolate checks ("/": ORIGIN_HEALTH_PATH is off) fails and heals with it.
// The breaker object reads the pool's threshold, not these vars: it is out of reach, and the
// isolate's own breaker (threshold 3, open 5 s) decides.

const RULES = { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 };
const ROUTING = { stick_seconds: 0, down: 3, up: 2, hysteresis_s: 30, gradual_weights: RULES.gradualWeights, step_dwell_s: 10 };

function side(originUrl: string, id: string): Side {
  return {
    async set(setting) {
      const res = await fetch(`${originUrl}/__control/${id}`, { method: "POST", body: JSON.stringify(setting) });
      if (res.status !== 200) throw new Error(await res.text());
    },
    async log() {
      return (await fetch(`${originUrl}/__control/${id}`)).json();
    },
  };
}

async function setup(routing: Record<string, unknown> = {}) {
  const clock = new FakeClock(FUTURE);
  await fleetOn(clock, RULES);
  const id = `rh-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const regions = twoRegions({
    clock,
    homeUrl: `${ORIGIN_URL}/s/${id}`,
    awayUrl: `${ORIGIN_URL_B}/s/${id}`,
    routing: { ...ROUTING, ...routing },
    vars: { BREAKER: unreachableBreaker(), BREAKER_FAILURE_THRESHOLD: "3" },
  });
  return { ...regions, clock, homeSide: side(ORIGIN_URL, id), awaySide: side(ORIGIN_URL_B, id), url: "https://edge.example.com/page" };
}

/** `n` requests one second apart (each runs the background checks of regions out of the choice). */
async function seconds(h: Harness, url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    h.clock.advance(1000);
    await (await h.fetch(url)).arrayBuffer();
  }
}

/** Home fails until its breaker opens and it leaves; then it heals and is checked back in, `hysteresis_s` after it left. */
async function darkThenBack(t: Awaited<ReturnType<typeof setup>>) {
  const { h, home, away, url } = t;
  expect((await h.fetch(url)).headers.get("x-edge-region")).toBe(home);
  await t.homeSide.set({ mode: "status", status: 502 });
  for (let i = 0; i < 3; i++) {
    const res = await h.fetch(url);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
  }
  const leftAt = t.clock.t;
  expect(routingPoints(h.metrics)).toEqual([[home, "left", "breaker open", "isolate", 0, 0]]);
  // The regions page says so at once, before any other request has been routed.
  expect(await isolateRegion(h, home)).toMatchObject({ usable: false, rampPercent: 0, control: { admin: "active", held: true } });
  // Out of the choice: straight to away, home not tried.
  const direct = await h.fetch(url);
  expect(direct.headers.get("x-edge-region")).toBe(away);
  expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "failover", ramp: 100, tried: 1 });

  await t.homeSide.set({ mode: "healthy" });
  // The checks pass from the end of the open period on, but home stays out until 30 s after it left.
  await seconds(h, url, 29);
  expect(routingPoints(h.metrics)).toHaveLength(1);
  expect(requestPoints(h.metrics).at(-1)!.blobs?.[13]).toBe(away);
  await seconds(h, url, 1);
  expect(t.clock.t - leftAt).toBe(30_000);
  const points = routingPoints(h.metrics);
  expect(points).toHaveLength(2);
  expect(points[1]).toEqual([home, "returned", expect.stringMatching(/^\d+ successes in a row$/), "isolate", 10, 0]);
}

/** `n` new requests at the current time: home's share and the routing columns of each. */
async function share(h: Harness, url: string, home: string, n: number) {
  const before = requestPoints(h.metrics).length;
  for (let i = 0; i < n; i++) await (await h.fetch(url)).arrayBuffer();
  const points = requestPoints(h.metrics).slice(before).map(routed);
  return { home: points.filter((p) => p.answered === home).length / n, points };
}

describe("return to home", () => {
  it("home leaves when its breaker opens, is checked back in after up successes and hysteresis_s, and its share then follows gradual_weights", async () => {
    const t = await setup();
    const { h, home, url } = t;
    await darkThenBack(t);
    // Shares drawn with Math.random: bounds about 4 standard deviations wide over 400 requests.
    const first = await share(h, url, home, 400);
    expect(first.home).toBeGreaterThan(0.04);
    expect(first.home).toBeLessThan(0.17);
    expect(new Set(first.points.filter((p) => p.answered === home).map((p) => p.ramp))).toEqual(new Set([10]));
    expect(new Set(first.points.filter((p) => p.answered !== home).map((p) => p.reason))).toEqual(new Set(["ramp"]));
    t.clock.advance(10_000);
    const second = await share(h, url, home, 400);
    expect(second.home).toBeGreaterThan(0.2);
    expect(second.home).toBeLessThan(0.4);
    expect(new Set(second.points.filter((p) => p.answered === home).map((p) => p.ramp))).toEqual(new Set([30]));
    t.clock.advance(20_000);
    const done = await share(h, url, home, 20);
    expect(done.points.filter((p) => p.answered !== home)).toEqual([]);
    expect(done.home).toBe(1);
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "failover", ramp: 100, tried: 1 });
  });

  it("a ramp step whose error rate is over step_error_budget aborts (ramp_abort) and holds home at 0", async () => {
    const t = await setup({ step_min_requests: 2, step_error_budget: 0.05 });
    const { h, home, away, url } = t;
    await darkThenBack(t);
    await t.homeSide.set({ mode: "status", status: 502 });
    for (let i = 0; i < 500 && !routingPoints(h.metrics).some((p) => p[1] === "ramp_abort"); i++) await (await h.fetch(url)).arrayBuffer();
    expect(routingPoints(h.metrics).slice(2)).toEqual([[home, "ramp_abort", "error rate 100% > 5% at step 10%", "isolate", 0, 0]]);
    expect(await isolateRegion(h, home)).toMatchObject({ usable: false, rampPercent: 0, control: { admin: "active", held: true, rampStartedAt: null } });
    // Held at 0: every new request goes to away without trying home.
    const after = await share(h, url, home, 50);
    expect(after.home).toBe(0);
    expect(new Set(after.points.map((p) => `${p.answered} ${p.tried}`))).toEqual(new Set([`${away} 1`]));
  });
});
