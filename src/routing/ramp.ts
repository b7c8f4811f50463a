/**
 * Return-to-home: a restored region's share of its weight follows ROUTING.gradual_weights, one
 * step per step dwell, computed from the fleet's rampStartedAt alone (every isolate agrees without
 * a message); RampJudge stops a step whose error rate is over budget.
 */
import type { RegionControl, RoutingPolicy } from "./types.ts";

/** The index into gradualWeights in force at `now`, or -1 when the region is not ramping (no ramp, or past the last step). */
export function rampStep(control: RegionControl, policy: RoutingPolicy, now: number): number {
  if (control.rampStartedAt === undefined) return -1;
  // An isolate whose clock is behind the fleet's sees the first step, never 100 % early.
  const i = Math.max(0, Math.floor((now - control.rampStartedAt) / policy.stepDwellMs));
  return i < policy.gradualWeights.length ? i : -1;
}

/** Percent of its weight the region may take now: the step's weight while ramping, else 100. */
export function rampPercent(control: RegionControl, policy: RoutingPolicy, now: number): number {
  const i = rampStep(control, policy, now);
  return i < 0 ? 100 : policy.gradualWeights[i]!;
}

export interface RampAbort {
  reason: string;
  step: number;
  percent: number;
}

interface StepCount {
  startedAt: number;
  step: number;
  attempts: number;
  failures: number;
  reported: boolean;
}

/** Per ramping region, the attempts and failures of the current step in this isolate. */
export class RampJudge {
  private readonly policy: RoutingPolicy;
  private readonly steps = new Map<string, StepCount>();

  constructor(policy: RoutingPolicy) {
    this.policy = policy;
  }

  /**
   * One attempt on `region`. An abort once per step, when failures / attempts exceed
   * step_error_budget after step_min_requests attempts; nothing while the region is not ramping.
   */
  record(region: string, control: RegionControl, now: number, failed: boolean): RampAbort | undefined {
    const step = rampStep(control, this.policy, now);
    if (step < 0) {
      if (this.steps.size > 0) this.steps.delete(region);
      return undefined;
    }
    const startedAt = control.rampStartedAt!;
    let count = this.steps.get(region);
    if (count === undefined) {
      count = { startedAt, step, attempts: 0, failures: 0, reported: false };
      this.steps.set(region, count);
    } else if (count.startedAt !== startedAt || count.step !== step) {
      count.startedAt = startedAt;
      count.step = step;
      count.attempts = 0;
      count.failures = 0;
      count.reported = false;
    }
    count.attempts++;
    if (failed) count.failures++;
    if (count.reported || count.attempts < this.policy.stepMinRequests) return undefined;
    const rate = count.failures / count.attempts;
    if (rate <= this.policy.stepErrorBudget) return undefined;
    count.reported = true;
    const percent = this.policy.gradualWeights[step]!;
    return { reason: `error rate ${pct(rate)} > ${pct(this.policy.stepErrorBudget)} at step ${percent}%`, step, percent };
  }
}

/** 0.123 -> "12.3%", 0.05 -> "5%". */
function pct(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10}%`;
}
