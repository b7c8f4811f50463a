/** Hostile clients beside the users (drill broken-route): nothing they send may cost the users. */
import { fmtMs, percentile } from "../stats.ts";
import { HOSTILE_USER, type RequestResult, type TargetResult } from "../types.ts";
import { OVER_BUDGET_DETAIL, type DrillData } from "./data.ts";

/**
 * Drill `broken-route`: hostile clients hammer a route that always answers 500 and one slow by
 * design, inside the users' mix, on a healthy origin. Nothing they send may cost the users:
 * the breaker never opens, and every user's request is answered by the origin, as fast as in the
 * baseline (p95 within 25 %).
 */
export function hostileTargets(d: DrillData, p95Limit: number, baseP95: string): TargetResult[] {
  const phases = d.plan.phases;
  const inHostile = (r: RequestResult) => phases[r.phase]?.hostile === true && r.error !== "unsent";
  const hostile = d.results.filter((r) => r.user === HOSTILE_USER && inHostile(r));
  const users = d.results.filter((r) => r.user !== HOSTILE_USER && inHostile(r));
  const opened = d.points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[2] === "open");
  const held = d.points.filter((p) => p.blobs?.[0] === "request" && p.blobs?.[12] === "held").length;
  const checks = d.points.filter((p) => p.blobs?.[0] === "health_check" && p.blobs?.[1] === "confirm");
  // A copy served because the origin took longer than the copy budget is the product's answer to
  // any slow origin answer, not something hostile clients caused: counted, allowed.
  const overBudget = users.filter((r) => r.status === 200 && r.cacheStatus.includes(OVER_BUDGET_DETAIL));
  const notFromOrigin = users.filter((r) => !(r.status >= 200 && r.status < 300 && r.cacheStatus.includes("fwd=bypass")) && !overBudget.includes(r));
  const userP95 = percentile(users.map((r) => r.latencyMs), 95);
  return [
    {
      name: "hostile clients never open the breaker",
      target: "0 openings while they send",
      measured: `${opened.length} openings; ${hostile.length} hostile requests, ${held} failures held from the breaker, ${checks.length} confirming health checks (${checks.filter((c) => c.blobs?.[2] === "ok").length} ok)`,
      pass: hostile.length > 0 && opened.length === 0,
    },
    {
      name: "every user's request answered by the origin beside them",
      target: "2xx passed on from the origin (Cache-Status fwd=bypass), or a copy because the origin was over the copy budget; none from the breaker or an error",
      measured: `${users.length - notFromOrigin.length} of ${users.length} (${overBudget.length} from a copy over budget)${notFromOrigin.length ? `; first other: ${notFromOrigin[0]!.status} ${JSON.stringify(notFromOrigin[0]!.cacheStatus)}` : ""}`,
      pass: users.length > 0 && notFromOrigin.length === 0,
    },
    {
      name: "users' p95 beside hostile clients vs healthy baseline",
      target: `<= 1.25 x baseline p95 (${baseP95}; 2 ms floor)`,
      measured: fmtMs(userP95),
      latency: true,
      relative: true,
      pass: userP95 <= p95Limit,
    },
  ];
}
