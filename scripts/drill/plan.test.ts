import { describe, expect, it } from "vitest";
import { requestMaker } from "./mix.ts";
import { listPlans, loadPlan, validatePlan } from "./plan.ts";
import { HOSTILE_USER } from "./types.ts";

describe("drill plans", () => {
  it("every shipped plan is valid and has exactly one baseline and at least one fault phase, or hostile clients", async () => {
    const names = await listPlans();
    expect(names).toEqual(["broken-route", "brownout", "deploy-blip", "flapping", "long-outage", "partition", "smoke"]);
    for (const name of names) {
      const plan = await loadPlan(name);
      expect(plan.name).toBe(name);
      expect(plan.phases.filter((p) => p.baseline)).toHaveLength(1);
      expect(plan.phases.some((p) => p.fault) || plan.phases.some((p) => p.hostile)).toBe(true);
    }
  });

  it("broken-route: hostile clients send only in their phases, each to a new URL of its own route", async () => {
    const plan = await loadPlan("broken-route");
    let on = false;
    const make = requestMaker(plan.mix, () => on);
    const off = Array.from({ length: 2000 }, (_, i) => make(i));
    expect(off.filter((r) => r.user === HOSTILE_USER)).toHaveLength(0);
    on = true;
    const during = Array.from({ length: 2000 }, (_, i) => make(i));
    const hostile = during.filter((r) => r.user === HOSTILE_USER);
    // Shares 0.3 and 0.1 of 2,000 requests, within sampling noise.
    const broken = hostile.filter((r) => r.path.startsWith("/s/hostile-broken/"));
    const slow = hostile.filter((r) => r.path.startsWith("/s/hostile-slow/"));
    expect(broken.length).toBeGreaterThan(500);
    expect(broken.length).toBeLessThan(700);
    expect(slow.length).toBeGreaterThan(140);
    expect(slow.length).toBeLessThan(260);
    expect(new Set(hostile.map((r) => r.path)).size).toBe(hostile.length);
    expect(hostile.every((r) => r.method === "GET" && Object.keys(r.headers).length === 0)).toBe(true);
  });

  it("names every problem of hostile clients at once", () => {
    const base = { name: "x", description: "", phases: [{ name: "a", durationS: 1, rate: 10, fault: false, baseline: true, hostile: true, origins: {} }] };
    const problems = validatePlan({
      ...base,
      mix: { hotKeys: 1, coldKeys: 1, hotShare: 0.5, credentialedShare: 0, users: 1, writeShare: 0, hostile: [{ name: "Bad Name", share: 0.4, setting: { mode: "status", status: 500 } }, { name: "b", share: 0.3, setting: { mode: "nope" } }] },
    });
    expect(problems).toEqual([
      'mix.hostile[0].name must be 1-32 of a-z, 0-9, -, got "Bad Name"',
      'mix.hostile[1].setting.mode must be one of healthy, status, blackhole, partition, reset, truncate, stall-body, flaky, got "nope"',
      "mix.hostile shares add up to 0.7; at most 0.5, so most of the mix stays the users the targets are about",
    ]);
    expect(validatePlan({ ...base, mix: { hotKeys: 1, coldKeys: 1, hotShare: 0.5, credentialedShare: 0, users: 1, writeShare: 0 } })).toEqual([
      "phases[0].hostile is true but mix.hostile names no hostile client",
    ]);
  });

  it("names every problem of a bad plan at once", () => {
    const problems = validatePlan({
      name: "",
      mix: { hotKeys: 0, coldKeys: 10, hotShare: 2, credentialedShare: 0, users: 1, writeShare: 0 },
      phases: [
        { name: "a", durationS: 0, rate: 50_000, fault: "yes", origins: { primary: { mode: "explode" } } },
        { name: "b", durationS: 400, rate: 10, fault: true, origins: { primary: { mode: "flaky", failRate: 3 } } },
      ],
    });
    expect(problems).toEqual([
      'name must be a non-empty string, got ""',
      "description must be a string, got undefined",
      "mix.hotKeys must be a whole number >= 1, got 0",
      "mix.hotShare must be a share from 0 to 1, got 2",
      "phases[0].durationS must be > 0, got 0",
      "phases[0].rate must be from 1 to 20000 req/s, got 50000",
      'phases[0].fault must be true or false, got "yes"',
      'phases[0].origins.primary.mode must be one of healthy, status, blackhole, partition, reset, truncate, stall-body, flaky, got "explode"',
      "phases[1].origins.primary.failRate must be 0..1, got 3",
      "phases last 400 s in all; at most 300 s",
      'exactly one phase must be the baseline ("baseline": true), found 0',
    ]);
  });

  it("refuses an unknown plan by listing the known ones", async () => {
    await expect(loadPlan("nope")).rejects.toThrow('no plan "nope": known plans are broken-route, brownout, deploy-blip, flapping, long-outage, partition, smoke, or give a path to a .json file');
  });
});
