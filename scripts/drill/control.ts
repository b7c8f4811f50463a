/**
 * The in-run control of the multi-region drills: a bare pass-through worker in the same workerd as
 * ours (one process, one JS thread), against a healthy fake origin of its own, loaded at a tenth
 * of the plan's rate in the same seconds as the plan. Locally that thread also runs what Cloudflare
 * runs elsewhere: every Durable Object (ledger, backlog, routing, breaker), the Queues broker and
 * the consumer's replay. A bare worker does none of that work, so the wait it gains is mostly the
 * runtime's and the machine's (CPU steal, the load generator's stalls, the other processes), and
 * the per-region p95 and 202 targets add it to their limits. Whatever CPU our own read path burns
 * on that thread slows it too, so a read path that got costlier only in a failover is partly
 * explained away: the wait counted is capped (CONTROL_MAX_SLOWDOWN in region-checks.ts) and
 * reported beside every judgement, with the region's own gain and its gain over the control's.
 */
import { runLoad, type LoadRun } from "./load.ts";
import { requestMaker } from "./mix.ts";
import type { ControlAnswer } from "./region-checks.ts";
import type { CompanionWorker } from "./runtime.ts";
import type { Plan } from "./types.ts";

/**
 * The control's share of each phase's rate. More answers would make its p95 steadier, but it shares
 * the thread it measures: at a quarter and at 15 % webhook-reroute's 202 p99 rose from 42-45 ms to
 * 50-56 ms (5 runs), past its 50 ms target.
 */
export const CONTROL_SHARE = 0.1;
/** ... and its least rate, so each second still has enough answers for a p95. */
export const CONTROL_MIN_RATE = 20;

/** The control's schedule: the plan's phases at a tenth of their rate (at least CONTROL_MIN_RATE req/s). */
export function controlPhases(phases: { rate: number; durationS: number }[]): { rate: number; durationS: number }[] {
  return phases.map((p) => ({ rate: Math.max(CONTROL_MIN_RATE, Math.round(p.rate * CONTROL_SHARE)), durationS: p.durationS }));
}

/** The control worker, started beside ours (startWorker's companions): bare, untapped (no data points, no collector), on its own origin. */
export function controlWorker(originUrl: string, port: number): CompanionWorker {
  return { entry: "scripts/drill/worker/bare.ts", port, vars: { ORIGIN_URL: originUrl } };
}

/**
 * The control's load, started beside the plan's. Its reads are the plan's read mix (no writes,
 * no sticky or hostile clients: a bare worker does nothing with them).
 */
export function runControlLoad(url: string, plan: Plan): Promise<LoadRun> {
  const { hostile: _hostile, sticky: _sticky, writes: _writes, ...reads } = plan.mix;
  const maker = requestMaker({ ...reads, writeShare: 0 });
  return runLoad({ baseUrl: url, phases: controlPhases(plan.phases), makeRequest: (seq) => maker(seq), connections: 8 });
}

/** The control's answers on the plan load's clock (ms since the plan's load started). */
export function alignControl(control: LoadRun, planStartedAtEpochMs: number): ControlAnswer[] {
  const shift = control.startedAtEpochMs - planStartedAtEpochMs;
  return control.results.filter((r) => r.error !== "unsent").map((r) => ({ intendedAt: r.intendedAt + shift, latencyMs: r.latencyMs, status: r.status }));
}
