/**
 * The runbook's own JSON drill plan (seed document, `/work/shared/runbook/region-failover-drills.md`),
 * accepted as written and translated into a drill plan: a baseline, the planned evacuation
 * through the admin route, the repaired region restored through its gradual_weights, and the
 * post checks. What the drill can check it checks; every field or check it cannot act on yet is
 * listed with why ("not supported yet: <field>: <reason>"), never passed in silence.
 */
import { ROUTING_FIELDS, routingProblems } from "./regions.ts";
import type { DrillCheckName, Phase, Plan, Unsupported } from "./types.ts";

const ISSUE_11 = "issue 11 (one writer region, queue-first writes with Idempotency-Key, webhooks) builds it";
const AUTHOR = "it belongs to the runbook author's own framework (semantic ΔS / λ probes over a retrieval index); the drill stands in for its intent only with answers_equal on a gold probe set and version-stamp parity";

/** The seed's checks: run by the drill, judged by its targets, or not supported yet. */
const CHECKS: Record<string, { run: DrillCheckName; note?: string } | { targets: string[] } | { unsupported: string }> = {
  env_parity: { run: "env_parity" },
  index_hash_equal: { run: "index_hash_equal", note: "the fake regions have no index: their version stamp stands in for INDEX_HASH" },
  index_hash: { run: "index_hash", note: "the fake regions' version stamps, compared after the run (not sampled during it)" },
  cache_warm: { run: "cache_warm" },
  cache_rewarmed: { run: "cache_rewarmed", note: "no purge ran before it (return_to_home.purge_cache is not supported yet)" },
  answers_equal: { run: "answers_equal" },
  p95_latency: { targets: ["p95 of served requests vs baseline, per region"] },
  error_rate: { targets: ["zero failed reads while a region is healthy", "no read answered 5xx", "no 5xx burst longer than 60 s"] },
  queue_empty: { unsupported: `the worker has no write queue yet: ${ISSUE_11}` },
  queue_backlog: { unsupported: `the worker has no write queue yet: ${ISSUE_11}` },
  backlog_zero: { unsupported: `the worker has no write queue yet: ${ISSUE_11}` },
  "ΔS_probe": { unsupported: AUTHOR },
  "λ_state": { unsupported: AUTHOR },
  contracts_equal: { unsupported: `RAG contract fields: ${AUTHOR}` },
};

const KNOWN = ["regions", "evacuate", "promote_survivor", "routing", "freeze_writes_on_followers", "checks", "rag_probe", "webhook_policy", "return_to_home"];

/** The drill's own timings for a seed plan, which has none: short enough for CI. */
const SEED_TIMING = { rate: 200, baselineS: 10, evacuateS: 15, stepDwellS: 5, fullWeightS: 8, postS: 5 };

/** A seed plan names its regions as strings and has no phases of its own. */
export function isSeedPlan(raw: unknown): raw is Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false;
  const r = raw as Record<string, unknown>;
  return Array.isArray(r["regions"]) && r["regions"].every((x) => typeof x === "string") && r["phases"] === undefined;
}

export function translateSeed(seed: Record<string, unknown>, name: string): { plan: Plan; problems: string[] } {
  const problems: string[] = [];
  const unsupported: Unsupported[] = [];
  const translation: string[] = [];
  const no = (field: string, reason: string) => unsupported.push({ field, reason });

  const regions = (seed["regions"] as string[]) ?? [];
  if (regions.length < 2) problems.push(`regions must name at least two regions, got ${JSON.stringify(regions)}`);
  for (const r of regions) if (!/^[a-z0-9-]{1,32}$/.test(r)) problems.push(`regions: ${JSON.stringify(r)} must be 1-32 of a-z, 0-9, -`);
  if (new Set(regions).size !== regions.length) problems.push(`regions must be distinct, got ${JSON.stringify(regions)}`);
  const evacuateRaw = seed["evacuate"];
  const evacuate = typeof evacuateRaw === "string" ? evacuateRaw : "";
  if (!regions.includes(evacuate)) problems.push(`evacuate must name one of the regions (${regions.join(", ")}), got ${JSON.stringify(evacuateRaw)}`);
  const survivorRaw = seed["promote_survivor"];
  const survivor = typeof survivorRaw === "string" ? survivorRaw : undefined;
  if (survivorRaw !== undefined && (survivor === undefined || !regions.includes(survivor) || survivor === evacuate)) {
    problems.push(`promote_survivor must name a region other than the evacuated one, got ${JSON.stringify(survivorRaw)}`);
  }

  for (const k of Object.keys(seed)) if (!KNOWN.includes(k)) no(k, "a field this drill does not know");

  // routing: the seed's three fields, in the worker's ROUTING terms.
  const routingIn = (seed["routing"] ?? {}) as Record<string, unknown>;
  const routing: Record<string, unknown> = {};
  if (typeof routingIn !== "object" || routingIn === null || Array.isArray(routingIn)) problems.push(`routing must be an object, got ${JSON.stringify(seed["routing"])}`);
  else {
    for (const [k, v] of Object.entries(routingIn)) {
      if (k === "stick_minutes") {
        if (typeof v !== "number" || v < 0) problems.push(`routing.stick_minutes must be a number >= 0, got ${JSON.stringify(v)}`);
        else routing["stick_seconds"] = v * 60;
      } else if ((ROUTING_FIELDS as readonly string[]).includes(k)) routing[k] = v;
      else no(`routing.${k}`, "not a routing field of the seed format or of ROUTING");
    }
  }
  const rth = (seed["return_to_home"] ?? {}) as Record<string, unknown>;
  if (typeof rth !== "object" || rth === null || Array.isArray(rth)) problems.push(`return_to_home must be an object, got ${JSON.stringify(seed["return_to_home"])}`);
  else {
    for (const k of Object.keys(rth)) if (!["rebuild_follower", "purge_cache", "gradual_weights"].includes(k)) no(`return_to_home.${k}`, "a field this drill does not know");
    if (rth["gradual_weights"] !== undefined) routing["gradual_weights"] = rth["gradual_weights"];
    if (rth["rebuild_follower"] !== undefined) no("return_to_home.rebuild_follower", `index rebuilds: ${AUTHOR}`);
    if (rth["purge_cache"] !== undefined) no("return_to_home.purge_cache", "the worker has no edge cache purge route yet (neither issue 10 nor issue 11 builds one); cache_rewarmed checks the store is warm at the end without a purge before it");
  }
  // The seed gives no step dwell: the drill's own, so the ramp fits in a CI run.
  routing["step_dwell_s"] ??= SEED_TIMING.stepDwellS;
  problems.push(...routingProblems(routing).map((p) => p.replace(/^routing\.gradual_weights/, "return_to_home.gradual_weights")));
  const weights = Array.isArray(routing["gradual_weights"]) ? (routing["gradual_weights"] as number[]) : [10, 30, 60, 100];
  const dwellS = routing["step_dwell_s"] as number;

  if (survivorRaw !== undefined) no("promote_survivor", `promoting a writer region (the write lease): ${ISSUE_11}; here ${survivor ?? "the survivor"} takes the evacuated region's traffic by routing alone`);
  if (seed["freeze_writes_on_followers"] !== undefined) no("freeze_writes_on_followers", `freezing and queueing writes: ${ISSUE_11}`);
  if (seed["rag_probe"] !== undefined) no("rag_probe", AUTHOR);
  if (seed["webhook_policy"] !== undefined) no("webhook_policy", `webhooks delivered only from the survivor with a dedupe key: ${ISSUE_11}`);

  // checks: run, judged by targets, or not supported yet.
  const pre: DrillCheckName[] = [];
  const post: DrillCheckName[] = [];
  const checksIn = (seed["checks"] ?? {}) as Record<string, unknown>;
  for (const [stage, list] of Object.entries(checksIn)) {
    if (!["pre", "live", "post"].includes(stage)) {
      no(`checks.${stage}`, "the seed format's stages are pre, live and post");
      continue;
    }
    if (!Array.isArray(list)) {
      problems.push(`checks.${stage} must be a list of check names, got ${JSON.stringify(list)}`);
      continue;
    }
    for (const check of list) {
      const field = `checks.${stage}.${typeof check === "string" ? check : JSON.stringify(check)}`;
      const how = typeof check === "string" ? CHECKS[check] : undefined;
      if (!how) no(field, "a check this drill does not know");
      else if ("unsupported" in how) no(field, how.unsupported);
      else if ("targets" in how) translation.push(`${field}: judged by the targets ${how.targets.map((t) => `"${t}"`).join(", ")}`);
      else {
        const at = stage === "pre" ? pre : post;
        if (!at.includes(how.run)) at.push(how.run);
        translation.push(`${field}: checked ${stage === "pre" ? "at the baseline's end" : "after the load"}${stage === "live" ? " (not sampled during it)" : ""}${how.note ? `; ${how.note}` : ""}`);
      }
    }
  }

  const rampS = dwellS * Math.max(0, weights.length - 1);
  const all = Object.fromEntries(regions.map((r) => [r, { mode: "healthy" as const }]));
  const phases: Phase[] = [
    { name: "baseline", durationS: SEED_TIMING.baselineS, rate: SEED_TIMING.rate, fault: false, baseline: true, origins: all },
    { name: "evacuate", durationS: SEED_TIMING.evacuateS, rate: SEED_TIMING.rate, fault: true, origins: {}, admin: [{ region: evacuate, action: "evacuate" }] },
    { name: "return-to-home", durationS: rampS + SEED_TIMING.fullWeightS, rate: SEED_TIMING.rate, fault: false, origins: all, admin: [{ region: evacuate, action: "restore" }] },
    { name: "post", durationS: SEED_TIMING.postS, rate: SEED_TIMING.rate, fault: false, origins: {} },
  ];
  const evacAt = SEED_TIMING.baselineS;
  const restoreAt = evacAt + SEED_TIMING.evacuateS;
  translation.unshift(
    `regions ${regions.join(", ")}: one fake origin process each, ${regions[0]} home (the first listed)`,
    `evacuate ${evacuate}: POST /__edge/admin/regions/${evacuate}/evacuate at ${evacAt} s, after a ${SEED_TIMING.baselineS} s baseline`,
    `return_to_home: ${evacuate} repaired and POST .../restore at ${restoreAt} s; the ramp ${JSON.stringify(weights)} dwells ${dwellS} s a step (step_dwell_s: the seed has none, the drill's choice so it fits in CI), then ${SEED_TIMING.fullWeightS} s at full weight and ${SEED_TIMING.postS} s of post phase`,
    `routing ${JSON.stringify(routingIn)} -> ROUTING ${JSON.stringify(routing)}`,
  );
  const plan: Plan = {
    name,
    description: `The runbook's seed plan (${name}.json) as written: a planned evacuation of ${evacuate} through the admin route, then its return to home through ${JSON.stringify(weights)}, on ${regions.length} regions.`,
    mix: { hotKeys: 10, coldKeys: 2000, hotShare: 0.8, credentialedShare: 0.05, users: 20, writeShare: 0.02, sticky: { clients: 20, share: 0.2 } },
    regions: regions.map((r, i) => (i === 0 ? { name: r, home: true } : { name: r })),
    routing,
    phases,
    checks: { pre, post },
    unsupported,
    translation,
  };
  return { plan, problems };
}
