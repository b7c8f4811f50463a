import { describe, expect, it } from "vitest";
import { listPlans, loadPlan, validatePlan } from "./plan.ts";

describe("drill plans", () => {
  it("every shipped plan is valid and has exactly one baseline and at least one fault phase", async () => {
    const names = await listPlans();
    expect(names).toEqual(["brownout", "deploy-blip", "flapping", "long-outage", "partition", "smoke"]);
    for (const name of names) {
      const plan = await loadPlan(name);
      expect(plan.name).toBe(name);
      expect(plan.phases.filter((p) => p.baseline)).toHaveLength(1);
      expect(plan.phases.some((p) => p.fault)).toBe(true);
    }
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
    await expect(loadPlan("nope")).rejects.toThrow('no plan "nope": known plans are brownout, deploy-blip, flapping, long-outage, partition, smoke, or give a path to a .json file');
  });
});
