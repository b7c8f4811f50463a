import { describe, expect, it } from "vitest";
import { requestMaker } from "./mix.ts";
import { listPlans, loadPlan, validatePlan } from "./plan.ts";
import { hardDown, isMultiRegion, normalShares, phaseRegions } from "./regions.ts";
import { StickyJar } from "./sticky.ts";
import { HOSTILE_USER, type Plan, type RequestResult } from "./types.ts";

describe("drill plans", () => {
  it("every shipped plan is valid and has exactly one baseline and at least one fault phase, or hostile clients", async () => {
    const names = await listPlans();
    expect(names).toEqual(["broken-route", "brownout", "deploy-blip", "evacuation", "flapping", "long-outage", "partition", "region-blackhole", "regions", "return-to-home", "smoke", "webhook-reroute", "write-failover"]);
    for (const name of names) {
      const plan = await loadPlan(name);
      expect(plan.name).toBe(name);
      expect(plan.phases.filter((p) => p.baseline)).toHaveLength(1);
      expect(plan.phases.some((p) => p.fault) || plan.phases.some((p) => p.hostile)).toBe(true);
    }
  });

  it("every shipped plan gives each of its origins a real distance: near the edge for one origin, tens of ms apart for regions", async () => {
    for (const name of await listPlans()) {
      const plan = await loadPlan(name);
      const origins = isMultiRegion(plan) ? plan.regions.map((r) => r.name) : [...new Set(plan.phases.flatMap((p) => Object.keys(p.origins)))];
      expect(Object.keys(plan.latency ?? {}).sort(), name).toEqual([...origins].sort());
      const medians = origins.map((o) => plan.latency![o]!.medianMs);
      if (!isMultiRegion(plan)) expect(medians[0], name).toBeGreaterThanOrEqual(5);
      else expect(Math.max(...medians) - Math.min(...medians), name).toBeGreaterThanOrEqual(20);
    }
  });

  it("names every problem of a plan's latency profiles at once", () => {
    const problems = validatePlan({
      name: "x",
      description: "",
      latency: { primary: { medianMs: 10, p99Ms: 5 }, mars: { medianMs: 3, p99Ms: 9 } },
      mix: { hotKeys: 1, coldKeys: 1, hotShare: 0.5, credentialedShare: 0, users: 1, writeShare: 0 },
      phases: [{ name: "a", durationS: 5, rate: 10, fault: false, baseline: true, origins: { primary: { mode: "healthy" } } }],
    });
    expect(problems).toEqual(["latency.primary.p99Ms must be from medianMs to 5000 ms, got 5", "latency.mars is not an origin of this plan (primary)"]);
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
    await expect(loadPlan("nope")).rejects.toThrow('no plan "nope": known plans are broken-route, brownout, deploy-blip, evacuation, flapping, long-outage, partition, region-blackhole, regions, return-to-home, smoke, webhook-reroute, write-failover, or give a path to a .json file');
  });
});

describe("multi-region plans", () => {
  const boundsOf = (plan: Plan) => plan.phases.reduce((b, p) => [...b, b[b.length - 1]! + p.durationS * 1000], [0]);

  it("ship A, B and E short enough for CI, each with sticky clients and its own pre and post checks", async () => {
    const limits: Record<string, number> = { evacuation: 90, "region-blackhole": 90, "return-to-home": 90, regions: 240 };
    for (const [name, limit] of Object.entries(limits)) {
      const plan = await loadPlan(name);
      expect(isMultiRegion(plan)).toBe(true);
      expect(plan.phases.reduce((t, p) => t + p.durationS, 0)).toBeLessThanOrEqual(limit);
      expect(plan.mix.sticky).toEqual({ clients: 20, share: 0.2 });
      expect(plan.checks).toEqual({ pre: ["env_parity", "cache_warm"], post: ["answers_equal", "cache_rewarmed"] });
      // A short hysteresis and step dwell, so the whole ramp fits: 3 steps of 5 s.
      expect(plan.routing).toMatchObject({ hysteresis_s: 5, step_dwell_s: 5, gradual_weights: [10, 30, 60, 100] });
    }
  });

  it("regions runs A, B and E in that order: us-east evacuated, then eu-west partitioned while ap-south survives, then us-east home again", async () => {
    const plan = await loadPlan("regions");
    if (!isMultiRegion(plan)) throw new Error("not multi-region");
    const states = phaseRegions(plan, boundsOf(plan));
    const line = states.map((p) => {
      const who = Object.entries(normalShares(plan.regions, p.regions, "failover")!).find(([, share]) => share === 1)?.[0];
      const down = Object.entries(p.regions).filter(([, s]) => hardDown(s.fault)).map(([n]) => n);
      const out = Object.entries(p.regions).filter(([, s]) => s.admin === "evacuated").map(([n]) => n);
      return `${plan.phases[p.phase]!.name}: ${who}${down.length ? ` (down ${down.join(", ")})` : ""}${out.length ? ` (evacuated ${out.join(", ")})` : ""}`;
    });
    expect(line).toEqual([
      "baseline: us-east",
      "A-brownout: us-east",
      "A-evacuated: eu-west (evacuated us-east)",
      "B-partition: ap-south (down eu-west) (evacuated us-east)",
      "B-healed: eu-west (evacuated us-east)",
      "E-restored: us-east",
      "post: us-east",
    ]);
  });

  it("names every problem of a bad multi-region plan at once", () => {
    const problems = validatePlan({
      name: "x",
      description: "",
      regions: [{ name: "us-east", home: true }, { name: "us-east", home: true, weight: -1 }],
      routing: { mode: "random", hysteresis: 5, gradual_weights: [30, 10] },
      vars: { ROUTING: "{}" },
      checks: { pre: ["vibes"] },
      mix: { hotKeys: 1, coldKeys: 1, hotShare: 0.5, credentialedShare: 0, users: 1, writeShare: 0, sticky: { clients: 0, share: 0.9 } },
      phases: [
        { name: "a", durationS: 5, rate: 10, fault: false, baseline: true, origins: { "ap-south": { mode: "healthy", version: "v 2" } }, admin: { region: "mars", action: "nuke", percent: 5 } },
        { name: "b", durationS: 5, rate: 10, fault: true, origins: {}, admin: [{ region: "us-east", action: "shed" }] },
      ],
    });
    expect(problems).toEqual([
      'regions[1].name "us-east" is used twice',
      "regions[1].weight must be a number >= 0, got -1",
      "at most one region is home, found 2",
      "routing.hysteresis is not a ROUTING field (mode, stick_seconds, sticky_header, down, up, hysteresis_s, gradual_weights, step_dwell_s, step_error_budget, step_min_requests, retry_budget, latency)",
      'routing.mode must be weighted, failover or latency, got "random"',
      "routing.gradual_weights must be percents from 1 to 100, strictly increasing, ending at 100; got [30,10]",
      "vars.ROUTING is set by the drill for a multi-region plan (use regions / routing / writes)",
      'checks.pre must list checks from env_parity, index_hash_equal, cache_warm, answers_equal, cache_rewarmed, index_hash, got ["vibes"]',
      "mix.sticky.clients must be a whole number from 1 to 1000, got 0",
      "mix.sticky.share must be above 0 and at most 0.5, got 0.9",
      "phases[0].origins.ap-south is not one of the regions (us-east)",
      'phases[0].origins.ap-south.version must be 1-32 of letters, digits, . _ -, got "v 2"',
      'phases[0].admin.region must be one of us-east, got "mars"',
      'phases[0].admin.action must be one of evacuate, drain, shed, restore, got "nuke"',
      "phases[0].admin.percent is for shed only",
      "phases[1].admin[0].percent must be 0..100 for shed, got undefined",
    ]);
  });

  it("region fields need regions: a single-origin plan with admin actions, sticky clients or routing is refused", () => {
    const problems = validatePlan({
      name: "x",
      description: "",
      routing: {},
      mix: { hotKeys: 1, coldKeys: 1, hotShare: 0.5, credentialedShare: 0, users: 1, writeShare: 0, sticky: { clients: 1, share: 0.1 } },
      phases: [{ name: "a", durationS: 5, rate: 10, fault: false, baseline: true, origins: {}, admin: { region: "a", action: "evacuate" } }],
    });
    expect(problems).toEqual(["routing needs regions (a multi-region plan)", "mix.sticky needs regions: sticky clients keep a region", "phases[0].admin needs regions (a multi-region plan)"]);
  });

  it("a sticky client sends back the assignment it was given, in the cookie or in the configured header, and says which region it names", () => {
    const mix = { hotKeys: 2, coldKeys: 2, hotShare: 0.5, credentialedShare: 0, users: 1, writeShare: 0, sticky: { clients: 1, share: 0.5 } };
    for (const [header, expected] of [
      [undefined, { cookie: "edge-region=eu-west.1790000000.bWFj" }],
      ["x-session-region", { "x-session-region": "eu-west.1790000000.bWFj" }],
    ] as const) {
      const jar = new StickyJar(header);
      const make = requestMaker(mix, () => true, jar);
      const specs = Array.from({ length: 200 }, (_, i) => make(i));
      const sticky = specs.filter((s) => s.client !== undefined);
      expect(sticky.length).toBeGreaterThan(60);
      expect(sticky.every((s) => s.client === "sticky-0" && s.user === "anonymous" && s.method === "GET" && Object.keys(s.headers).length === 0 && s.stuckTo === undefined)).toBe(true);
      jar.update({ client: "sticky-0", assignment: "eu-west.1790000000.bWFj" } as RequestResult);
      const after = Array.from({ length: 50 }, (_, i) => make(i)).filter((s) => s.client !== undefined);
      expect(after.length).toBeGreaterThan(0);
      for (const s of after) expect([s.headers, s.stuckTo]).toEqual([expected, "eu-west"]);
    }
  });
});

