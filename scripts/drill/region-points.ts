/**
 * The multi-region columns of the worker's data points, named in one place, as the multi-region
 * contract (issue 10) fixes them: request points append blob14-16 and double7-8; routing points
 * are their own event. (When src/metrics/schema.ts gains them, decode through it instead.)
 */
import type { DataPoint } from "./judge/data.ts";

const ROUTING_EVENT = "routing";

export interface RequestRouting {
  /** When the request started (epoch ms): the point's time less its latency (double1). */
  startedAt: number;
  /** blob14: the region that answered ("" when none). */
  answered: string;
  /** blob15: the region it failed over from ("" when none). */
  failedOverFrom: string;
  /** blob16: the routing reason. */
  reason: string;
  /** double7: the answering region's ramp percent (100 when not ramping, 0 when none answered). */
  rampPercent: number;
  /** double8: regions attempted (0, 1 or 2). */
  attempts: number;
  /** blob12: "probe" when the request was the breaker's half-open probe. */
  probe: boolean;
  /**
   * The region the choice sent it to first: blob15 after a failover, else the point's index (the
   * region attempted, which a copy served after that region was slow names too; blob14 does not).
   */
  firstTried: string;
}

export function requestRouting(p: DataPoint): RequestRouting | undefined {
  // A write route's request goes to the writer (blob16 "writer"), not by the choice: the routing targets judge the choice.
  if (p.blobs?.[0] !== "request" || p.blobs[15] === "writer") return undefined;
  return {
    startedAt: p.timestamp - (p.doubles?.[0] ?? 0),
    answered: p.blobs[13] ?? "",
    failedOverFrom: p.blobs[14] ?? "",
    reason: p.blobs[15] ?? "",
    rampPercent: p.doubles?.[6] ?? 0,
    attempts: p.doubles?.[7] ?? 0,
    probe: p.blobs[11] === "probe",
    firstTried: (p.blobs[14] ?? "") !== "" ? p.blobs[14]! : (p.indexes?.[0] ?? ""),
  };
}

export interface RoutingChange {
  /** Epoch ms. */
  at: number;
  /** index1. */
  region: string;
  /** blob2: evacuate, drain, shed, restore, left, returned, ramp_step, ramp_abort, ramp_done, leader. */
  action: string;
  /** blob3. */
  reason: string;
  /** blob4: admin, isolate or object. */
  source: string;
  /** double1: ramp or shed percent. */
  percent: number;
  /** double2: ramp step index. */
  step: number;
  /** double3: snapshot generation. */
  generation: number;
}

/** The routing points of a run, in time order. */
export function routingChanges(points: DataPoint[]): RoutingChange[] {
  return points
    .filter((p) => p.blobs?.[0] === ROUTING_EVENT)
    .map((p) => ({
      at: p.timestamp,
      region: p.indexes?.[0] ?? "",
      action: p.blobs?.[1] ?? "",
      reason: p.blobs?.[2] ?? "",
      source: p.blobs?.[3] ?? "",
      percent: p.doubles?.[0] ?? 0,
      step: p.doubles?.[1] ?? 0,
      generation: p.doubles?.[2] ?? 0,
    }))
    .sort((a, b) => a.at - b.at);
}
