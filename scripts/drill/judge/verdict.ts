/**
 * A run's verdict from its targets. Correctness (leaks, stale answers, failed reads, lost or
 * duplicated writes, a write at a follower) is judged in every run and always stands: a busy
 * machine can delay an answer, never make a wrong one right. Only a missed timing target
 * (`latency`) can go unverified, and only when the run itself says it could not measure time: the
 * load generator missed its schedule, or the machine could not carry the drill's lowest rate.
 */
import type { TargetResult } from "../types.ts";

export type Verdict = "pass" | "fail" | "inconclusive";

/** The name of the target that says whether the load generator kept its schedule. */
export const SCHEDULE_TARGET = "load delivered on schedule";

/** How a target's row reads in the report and the terminal. */
export function rowMark(t: TargetResult, disturbed: boolean): string {
  if (t.pass && t.relative && disturbed) return "⚠️ unverified (baseline disturbed)";
  if (t.pass) return "✅ pass";
  if (t.disturbs) return "⚠️ missed: latency misses unverified";
  if (t.latency && (disturbed || t.inconclusive)) return "⚠️ unverified";
  return "❌ fail";
}

/** Whether the run's own measurement was disturbed: a failed target that marks the run's timing as unmeasurable. */
export function disturbedBy(targets: TargetResult[]): TargetResult[] {
  return targets.filter((t) => t.disturbs === true && !t.pass);
}

export function verdictOf(targets: TargetResult[]): { verdict: Verdict; reason: string } {
  const disturbances = disturbedBy(targets);
  const failed = targets.filter((t) => !t.pass && t.disturbs !== true);
  const wrong = failed.filter((t) => !t.latency);
  const disturbedNote = disturbances.length ? `; besides, ${disturbances.map((t) => `${t.name}: ${t.measured}`).join("; ")}, so latency targets are unverified` : "";
  if (wrong.length > 0) return { verdict: "fail", reason: `${wrong.map((t) => t.name).join("; ")}${disturbedNote}` };
  const slow = failed.filter((t) => t.latency);
  // Latency is timed from each request's intended send, so a late send only adds to what is
  // measured: latency targets met in a disturbed run are met, unless they are relative to a
  // baseline the same late sends may have inflated. Only a miss cannot be told apart.
  const relative = targets.filter((t) => t.latency && t.relative && t.pass);
  if (disturbances.length > 0 && slow.length === 0 && relative.length === 0) {
    return { verdict: "pass", reason: `every target met, although ${disturbances.map((t) => `${t.name} was missed (${t.measured})`).join("; ")}: late sends only add to latency timed from the intended send` };
  }
  if (disturbances.length > 0) {
    const missed = slow.length ? `; latency targets not met, unverified: ${slow.map((t) => t.name).join("; ")}` : "";
    const unverified = `${missed}${relative.length ? `; met against a baseline the late sends may have inflated, unverified: ${relative.map((t) => t.name).join("; ")}` : ""}`;
    return {
      verdict: "inconclusive",
      reason: `every correctness target passed, but ${disturbances.map((t) => `${t.name} (${t.measured})`).join("; ")}: this run cannot verify its latency targets${unverified}`,
    };
  }
  const judged = slow.filter((t) => !t.inconclusive);
  if (judged.length > 0) return { verdict: "fail", reason: judged.map((t) => t.name).join("; ") };
  if (slow.length > 0) return { verdict: "inconclusive", reason: `every correctness target passed; unverified: ${slow.map((t) => `${t.name}: ${t.measured}`).join("; ")}` };
  return { verdict: "pass", reason: "every target met" };
}
