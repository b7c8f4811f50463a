/**
 * The runbook's own JSON drill plan (seed document, `/work/shared/runbook/region-failover-drills.md`),
 * accepted as written and translated into a drill plan: a baseline, the planned evacuation
 * through the admin route, the repaired region restored through its gradual_weights, and the
 * post checks. What the drill can check it checks; every field or check it cannot act on yet is
 * listed with why ("not supported yet: <field>: <reason>"), never passed in silence.
 */
import { ROUTING_FIELDS, routingProblems } from "./regions.ts";
import type { DrillCheckName, Phase, Plan, PlanWrites, Unsupported } from "./types.ts";
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
  queue_empty: { targets: ["pre: queue_empty"] },
  queue_backlog: { targets: ["backlog back to zero after the writer is usable", "dead-letter queue empty"] },
  backlog_zero: { targets: ["post: backlog_zero"] },
  "ΔS_probe": { unsupported: AUTHOR },
  "λ_state": { unsupported: AUTHOR },
  contracts_equal: { unsupported: `RAG contract fields: ${AUTHOR}` },
};

const KNOWN = ["regions", "evacuate", "promote_survivor", "routing", "freeze_writes_on_followers", "checks", "rag_probe", "webhook_policy", "return_to_home"];

/** The write routes a seed plan's drill runs with (the runbook's prerequisite: an idempotent write path with a dedupe key). */
const SEED_WRITE_ROUTES = [{ path: "/api/", methods: ["POST", "PUT", "PATCH", "DELETE"], idempotency: "required" }];
const SEED_WEBHOOK_PATH = "/hooks/payments";
const DEDUPE_DEFAULT = "sha256(event_id+rev)";

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

  if (seed["rag_probe"] !== undefined) no("rag_probe", AUTHOR);
  const writes = translateWrites(seed, regions, evacuate, survivor, problems, translation, no);

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
    {
      name: "evacuate",
      durationS: SEED_TIMING.evacuateS,
      rate: SEED_TIMING.rate,
      fault: true,
      origins: {},
      admin: [{ region: evacuate, action: "evacuate" }],
      ...(survivor !== undefined ? { writeAdmin: [{ action: "promote" as const, region: survivor, reason: `runbook: promote_survivor ${survivor} (${evacuate} evacuated)` }] } : {}),
    },
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
    `regions' distances (the seed has none): ${regions.map((r, i) => `${r} median ${seedDistance(i).medianMs} ms, p99 ${seedDistance(i).p99Ms} ms`).join("; ")}`,
  );
  const plan: Plan = {
    name,
    description: `The runbook's seed plan (${name}.json) as written: a planned evacuation of ${evacuate} through the admin route, then its return to home through ${JSON.stringify(weights)}, on ${regions.length} regions.`,
    mix: {
      hotKeys: 10,
      coldKeys: 2000,
      hotShare: 0.8,
      credentialedShare: 0.05,
      users: 20,
      writeShare: 0,
      sticky: { clients: 20, share: 0.2 },
      writes: { share: 0.1, webhookShare: seed["webhook_policy"] !== undefined ? 0.05 : 0 },
    },
    regions: regions.map((r, i) => (i === 0 ? { name: r, home: true } : { name: r })),
    latency: Object.fromEntries(regions.map((r, i) => [r, seedDistance(i)])),
    routing,
    phases,
    checks: { pre, post },
    writes,
    unsupported,
    translation,
  };
  return { plan, problems };
}

/** The i-th listed region's distance: home near the edge, each further one 20 ms farther (the shipped region plans' spacing). */
function seedDistance(i: number): { medianMs: number; p99Ms: number } {
  return { medianMs: 10 + 20 * i, p99Ms: 25 + 30 * i };
}

/**
 * The seed's write fields, in the drill's terms: the write path is always on (the runbook's
 * prerequisite), the evacuated region is the writer, promote_survivor is sent to the admin route
 * in the evacuation phase (else the worker promotes by itself), freeze_writes_on_followers: true is
 * what the worker always enforces (false is refused: a follower never takes a direct write), and
 * webhook_policy's dedupe_key becomes the webhook route's rule, its emit_from a target.
 */
function translateWrites(
  seed: Record<string, unknown>,
  regions: string[],
  evacuate: string,
  survivor: string | undefined,
  problems: string[],
  translation: string[],
  no: (field: string, reason: string) => void,
): PlanWrites {
  const writer = survivor !== undefined && regions.includes(evacuate) ? evacuate : regions[0];
  let dedupe = DEDUPE_DEFAULT;
  let emitFrom: string | undefined;
  const policy = seed["webhook_policy"];
  if (policy !== undefined) {
    if (typeof policy !== "object" || policy === null || Array.isArray(policy)) problems.push(`webhook_policy must be {emit_from, dedupe_key}, got ${JSON.stringify(policy)}`);
    else {
      const p = policy as Record<string, unknown>;
      for (const k of Object.keys(p)) if (k !== "emit_from" && k !== "dedupe_key") no(`webhook_policy.${k}`, "a field this drill does not know");
      if (p["dedupe_key"] !== undefined) {
        if (typeof p["dedupe_key"] === "string" && p["dedupe_key"].length > 0 && p["dedupe_key"].length <= 200) dedupe = p["dedupe_key"];
        else problems.push(`webhook_policy.dedupe_key must be a dedupe rule ("sha256(event_id+rev)", "header:<name>", "field:<path>"), got ${JSON.stringify(p["dedupe_key"])}`);
      }
      const from = p["emit_from"];
      if (from !== undefined) {
        if (typeof from !== "string" || !regions.includes(from)) problems.push(`webhook_policy.emit_from must name one of the regions (${regions.join(", ")}), got ${JSON.stringify(from)}`);
        else if (survivor !== undefined && from !== survivor) problems.push(`webhook_policy.emit_from (${from}) must be the promoted survivor (${survivor}): webhooks are delivered only to the writer region`);
        else if (survivor === undefined && from === evacuate) problems.push(`webhook_policy.emit_from (${from}) is the evacuated region: webhooks are delivered only to the writer, which leaves it`);
        else emitFrom = from;
      }
    }
  }
  const freeze = seed["freeze_writes_on_followers"];
  if (freeze === false) problems.push("freeze_writes_on_followers: false asks followers to take direct writes, which the worker never does (one writer region holds the write lease; every other region's writes are queued for it): remove the field or set it to true");
  else if (freeze !== undefined && freeze !== true) problems.push(`freeze_writes_on_followers must be true or false, got ${JSON.stringify(freeze)}`);
  translation.push(
    `writes: WRITES routes ${SEED_WRITE_ROUTES[0]!.path} (Idempotency-Key required) and webhooks ${SEED_WEBHOOK_PATH} (dedupe_key ${dedupe}), writer ${writer}; the mix sends writes with client retries${policy !== undefined ? " and webhook events with sender retries" : ""}`,
    survivor !== undefined
      ? `promote_survivor ${survivor}: POST /__edge/admin/writes/promote {"region":"${survivor}"} right after the evacuation; ${evacuate} stays a follower when it returns home`
      : `no promote_survivor: the worker promotes a survivor by itself when the writer leaves (auto_promote)`,
  );
  if (freeze === true) translation.push("freeze_writes_on_followers: true: enforced by the worker (a follower never takes a direct write), judged by the targets \"followers take no direct write\" and \"one writer at every instant\"");
  if (emitFrom !== undefined) translation.push(`webhook_policy.emit_from ${emitFrom}: judged by the target "webhooks delivered only from the survivor"`);
  return {
    config: { routes: SEED_WRITE_ROUTES, webhooks: [{ path: SEED_WEBHOOK_PATH, dedupe_key: dedupe }], ...(writer !== undefined ? { writer } : {}) },
    promote: survivor !== undefined ? "admin" : "auto",
    ...(emitFrom !== undefined ? { emitFrom } : {}),
    ...(freeze === true ? { freezeFollowers: true } : {}),
  };
}
