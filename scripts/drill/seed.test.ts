/** The runbook's seed plan, pasted as written, becomes a drill plan; what the drill cannot do yet is listed, never passed. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlan, validatePlan } from "./plan.ts";
import { isSeedPlan, translateSeed } from "./seed.ts";

const SEED_PATH = join(import.meta.dirname, "fixtures", "seed-plan.json");

describe("the seed plan format", () => {
  it("translates the runbook's plan into baseline, evacuation through the admin route, return-to-home through its weights, and post", async () => {
    const plan = await loadPlan(SEED_PATH);
    expect(plan.name).toBe("seed-plan");
    expect(plan.regions).toEqual([{ name: "us-east", home: true }, { name: "eu-west" }]);
    expect(plan.routing).toEqual({ mode: "latency", stick_seconds: 900, hysteresis_s: 30, gradual_weights: [10, 30, 60, 100], step_dwell_s: 5 });
    expect(plan.phases.map((p) => [p.name, p.durationS, p.baseline === true, p.fault, p.admin ?? []])).toEqual([
      ["baseline", 10, true, false, []],
      ["evacuate", 15, false, true, [{ region: "us-east", action: "evacuate" }]],
      ["return-to-home", 23, false, false, [{ region: "us-east", action: "restore" }]],
      ["post", 5, false, false, []],
    ]);
    expect(plan.phases[2]!.origins).toEqual({ "us-east": { mode: "healthy" }, "eu-west": { mode: "healthy" } });
    expect(plan.checks).toEqual({ pre: ["env_parity", "index_hash_equal", "cache_warm"], post: ["index_hash", "answers_equal", "cache_rewarmed"] });
    expect(plan.mix.sticky).toEqual({ clients: 20, share: 0.2 });
    expect(validatePlan(plan)).toEqual([]);
  });

  it("lists every field and check it cannot act on yet, with the reason and who builds it", async () => {
    const plan = await loadPlan(SEED_PATH);
    const lines = plan.unsupported!.map((u) => `${u.field}: ${u.reason}`);
    expect(plan.unsupported!.map((u) => u.field)).toEqual([
      "return_to_home.rebuild_follower",
      "return_to_home.purge_cache",
      "rag_probe",
      "checks.live.ΔS_probe",
      "checks.live.λ_state",
      "checks.post.contracts_equal",
    ]);
    for (const field of ["rag_probe", "checks.live.ΔS_probe", "checks.live.λ_state", "checks.post.contracts_equal", "return_to_home.rebuild_follower"]) {
      expect(lines.find((l) => l.startsWith(`${field}:`))).toContain("the runbook author's own framework");
    }
    expect(lines.find((l) => l.startsWith("return_to_home.purge_cache:"))).toContain("no edge cache purge route");
  });

  it("says how each check it can act on is checked", async () => {
    const plan = await loadPlan(SEED_PATH);
    expect(plan.translation).toEqual(
      expect.arrayContaining([
        "checks.pre.env_parity: checked at the baseline's end",
        "checks.pre.index_hash_equal: checked at the baseline's end; the fake regions have no index: their version stamp stands in for INDEX_HASH",
        "checks.pre.cache_warm: checked at the baseline's end",
        'checks.live.p95_latency: judged by the targets "p95 of served requests vs baseline, per region"',
        'checks.live.error_rate: judged by the targets "zero failed reads while a region is healthy", "no read answered 5xx", "no 5xx burst longer than 60 s"',
        "checks.live.index_hash: checked after the load (not sampled during it); the fake regions' version stamps, compared after the run (not sampled during it)",
        "checks.post.answers_equal: checked after the load",
        "checks.post.cache_rewarmed: checked after the load; no purge ran before it (return_to_home.purge_cache is not supported yet)",
      ]),
    );
  });

  it("an unknown field or check is listed as not supported, never dropped", () => {
    const { plan, problems } = translateSeed({ regions: ["a", "b"], evacuate: "a", chaos_monkey: true, checks: { pre: ["vibes"] }, routing: { jitter: 1 } }, "x");
    expect(problems).toEqual([]);
    expect(plan.unsupported).toEqual([
      { field: "chaos_monkey", reason: "a field this drill does not know" },
      { field: "routing.jitter", reason: "not a routing field of the seed format or of ROUTING" },
      { field: "checks.pre.vibes", reason: "a check this drill does not know" },
    ]);
  });

  it("names every problem of a bad seed plan at once", () => {
    const { problems } = translateSeed({ regions: ["us-east"], evacuate: "mars", promote_survivor: "us-east", routing: { mode: "random", stick_minutes: -1 }, return_to_home: { gradual_weights: [50, 20] } }, "bad");
    expect(problems).toEqual([
      'regions must name at least two regions, got ["us-east"]',
      'evacuate must name one of the regions (us-east), got "mars"',
      "routing.stick_minutes must be a number >= 0, got -1",
      'routing.mode must be weighted, failover or latency, got "random"',
      "return_to_home.gradual_weights must be percents from 1 to 100, strictly increasing, ending at 100; got [50,20]",
    ]);
  });

  it("tells the seed format from a drill plan by its shape", async () => {
    expect(isSeedPlan(JSON.parse(await readFile(SEED_PATH, "utf8")))).toBe(true);
    expect(isSeedPlan(await loadPlan("smoke"))).toBe(false);
  });

  it("the write fields become the write drill: WRITES with the policy's dedupe key, the survivor promoted through the admin route, emit_from and the freeze judged", async () => {
    const plan = await loadPlan(SEED_PATH);
    expect(plan.writes).toEqual({
      config: {
        routes: [{ path: "/api/", methods: ["POST", "PUT", "PATCH", "DELETE"], idempotency: "required" }],
        webhooks: [{ path: "/hooks/payments", dedupe_key: "sha256(event_id+rev)" }],
        writer: "us-east",
      },
      promote: "admin",
      emitFrom: "eu-west",
      freezeFollowers: true,
    });
    expect(plan.phases[1]!.writeAdmin).toEqual([{ action: "promote", region: "eu-west", reason: "runbook: promote_survivor eu-west (us-east evacuated)" }]);
    expect(plan.mix.writes).toEqual({ share: 0.1, webhookShare: 0.05 });
    expect(plan.translation).toEqual(
      expect.arrayContaining([
        'promote_survivor eu-west: POST /__edge/admin/writes/promote {"region":"eu-west"} right after the evacuation; us-east stays a follower when it returns home',
        'freeze_writes_on_followers: true: enforced by the worker (a follower never takes a direct write), judged by the targets "followers take no direct write" and "one writer at every instant"',
        'webhook_policy.emit_from eu-west: judged by the target "webhooks delivered only from the survivor"',
        'checks.pre.queue_empty: judged by the targets "pre: queue_empty"',
        'checks.live.queue_backlog: judged by the targets "backlog back to zero after the writer is usable", "dead-letter queue empty"',
        'checks.post.backlog_zero: judged by the targets "post: backlog_zero"',
      ]),
    );
  });

  it("refuses followers taking direct writes, and a webhook source that is not the writer, with the reason", () => {
    const { problems } = translateSeed({ regions: ["a", "b"], evacuate: "a", promote_survivor: "b", freeze_writes_on_followers: false, webhook_policy: { emit_from: "a", dedupe_key: "" } }, "x");
    expect(problems).toEqual([
      'webhook_policy.dedupe_key must be a dedupe rule ("sha256(event_id+rev)", "header:<name>", "field:<path>"), got ""',
      "webhook_policy.emit_from (a) must be the promoted survivor (b): webhooks are delivered only to the writer region",
      "freeze_writes_on_followers: false asks followers to take direct writes, which the worker never does (one writer region holds the write lease; every other region's writes are queued for it): remove the field or set it to true",
    ]);
  });

  it("without promote_survivor the worker promotes by itself, and the home region is the writer", () => {
    const { plan, problems } = translateSeed({ regions: ["a", "b"], evacuate: "a", webhook_policy: { emit_from: "b", dedupe_key: "header:x-event-id" } }, "x");
    expect(problems).toEqual([]);
    expect(plan.writes).toEqual({ config: { routes: expect.any(Array), webhooks: [{ path: "/hooks/payments", dedupe_key: "header:x-event-id" }], writer: "a" }, promote: "auto", emitFrom: "b" });
    expect(plan.phases[1]!.writeAdmin).toBeUndefined();
  });
});
