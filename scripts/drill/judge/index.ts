/**
 * The drill's judge: every target computed from the raw record of one run (the clients' results,
 * the worker's data points, the origins' counts), one concern a file. Targets are judged as the
 * runbook and the incident write them; statistics describe a verdict, they never move its limit.
 */
import { regionTargets } from "../region-checks.ts";
import { percentile } from "../stats.ts";
import type { TargetResult } from "../types.ts";
import { writeTargets } from "../write-checks.ts";
import { breakerTargets } from "./breaker.ts";
import { runView, type DrillData, type RunView } from "./data.ts";
import { hostileTargets } from "./hostile.ts";
import { copyHolders, readPathTargets } from "./read-path.ts";
import { fiveXxBurst, sharedTierTargets } from "./shared-tiers.ts";
import { SCHEDULE_TARGET } from "./verdict.ts";

export function evaluate(all: DrillData): { targets: TargetResult[]; totals: Record<string, number | string> } {
  const v = runView(all);
  const covered = copyHolders(v);
  const baseP95 = percentile(v.baseline.map((r) => r.latencyMs), 95);
  const targets = [schedule(all), ...readPathTargets(v, covered)];
  // Beside hostile clients, a 2 ms floor: their own requests load the same two cores (a miss for
  // each 500 goes through the local Cache API and KV simulators), which a fleet's other isolates would not share.
  if (all.plan.mix.hostile?.length) targets.push(...hostileTargets(all, v.baseline.length > 0 ? Math.max(baseP95 * 1.25, baseP95 + 2) : Infinity, `${baseP95.toFixed(1)} ms`));
  targets.push(...breakerTargets(v), fiveXxBurst(v), ...sharedTierTargets(v), ...regionTargets(all));
  const writes = writeTargets(all);
  targets.push(...writes.targets);
  return { targets, totals: { ...totals(v, baseP95), ...writes.totals } };
}

/** The load itself: a run whose generator missed its schedule cannot time anything (its correctness still stands). */
function schedule(d: DrillData): TargetResult {
  const unsent = d.results.filter((r) => r.error === "unsent").length;
  const late = d.results.filter((r) => r.error !== "unsent" && r.sendDelayMs > 5).length;
  return {
    name: SCHEDULE_TARGET,
    target: "0 unsent, < 1 % sent more than 5 ms late (missed: a missed or relative latency target is unverified, correctness still judged)",
    measured: `${unsent} unsent, ${late} late of ${d.results.length} (${((100 * late) / Math.max(1, d.results.length)).toFixed(2)} %)`,
    pass: unsent === 0 && late < 0.01 * d.results.length,
    disturbs: true,
  };
}

function totals(v: RunView, baseP95: number): Record<string, number | string> {
  const { sent, d } = v;
  const inFault = sent.filter((r) => v.phases[r.phase]!.fault).map((r) => r.latencyMs);
  const servedAges = sent.filter((r) => r.cacheStatus.includes("; hit") && r.age >= 0).map((r) => r.age);
  return {
    requests: d.results.length,
    answered: sent.filter((r) => r.status > 0).length,
    "fallback answers": sent.filter((r) => r.cacheStatus.includes("; hit")).length,
    "2xx": sent.filter((r) => r.status >= 200 && r.status < 300).length,
    "5xx": sent.filter((r) => r.status >= 500).length,
    "no answer": sent.filter((r) => r.status === 0).length,
    "data points": d.points.length,
    "breaker transitions": d.points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[4] === "object").length,
    "baseline p50 ms": +percentile(v.baseline.map((r) => r.latencyMs), 50).toFixed(2),
    "baseline p95 ms": +baseP95.toFixed(2),
    "fault p50 ms": +percentile(inFault, 50).toFixed(2),
    "fault p99 ms": +percentile(inFault, 99).toFixed(2),
    "fallback Age p50 s": percentile(servedAges, 50),
    "fallback Age p95 s": percentile(servedAges, 95),
  };
}
