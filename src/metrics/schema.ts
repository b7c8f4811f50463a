/** The Analytics Engine schema: which blob and double holds what. The README documents the same table. */
import type { BreakerState } from "../breaker/state.ts";
import type { TierName } from "../lkg/entry.ts";
import type { RoutingReason } from "../routing/types.ts";

export type Outcome =
  /** The origin answered (any status but 500/502/503/504) and that answer was passed on. */
  | "origin_ok"
  /** The origin failed and its failure was passed on without an LKG lookup (not an LKG route). */
  | "origin_error"
  /** The origin failed or the breaker was open, and a copy of 30 s or less was served. */
  | "lkg_served"
  /** The origin failed or the breaker was open, and there was no usable copy: 5xx or 503 passed on. */
  | "no_lkg"
  /** The request was refused before reaching the origin (bad request, bad configuration). */
  | "rejected";

/**
 * What the write path did with a write or webhook request (blob17), "" for any other request:
 * - passed: sent on to the writer region (the answer, whatever it was, passed on),
 * - queued: accepted into the write queue (202), first time or again for the same key,
 * - replayed: the stored result of an earlier write with the same key was answered,
 * - in-flight: refused 409, a write with the same key is being sent right now,
 * - mismatch: refused 422, the key was used before with a different request,
 * - missing-key: refused 400, no Idempotency-Key (or webhook dedupe key) where one is required, or a malformed one,
 * - too-large: refused 503, the body is larger than can be queued and the write could not pass.
 */
export type WriteOutcome = "passed" | "queued" | "replayed" | "in-flight" | "mismatch" | "missing-key" | "too-large" | "";

export type FailureClass = "http_5xx" | "timeout" | "connection" | "slow" | "breaker_open";
/**
 * blob3: the failure class, or `over_budget`, which is no failure: the client held a copy and was
 * answered from it when the origin passed ORIGIN_COPY_BUDGET_MS; the origin's own outcome was
 * judged in the background (the breaker and the routing layer heard that, not this).
 */
export type RecordedFailure = FailureClass | "over_budget";
export type LookupOutcome = "none" | "hit" | "miss" | "expired";

export interface RequestRecord {
  origin: string;
  outcome: Outcome;
  failure: RecordedFailure | undefined;
  breaker: BreakerState["kind"];
  tier: TierName | undefined;
  lookup: LookupOutcome;
  /** "stored", "skip:<reason>" or "" when storing did not apply. */
  store: string;
  method: string;
  route: string;
  colo: string;
  version: string;
  probe: boolean;
  /**
   * What this request told the breaker: a failure, a success, "held" (a failure kept from it
   * until the health check says whether it is about the origin: see TripGate), or nothing
   * (rejected while open, or slow within a stall already counted).
   */
  breakerHeard: "failure" | "success" | "held" | "";
  /** Ms from the request's start to when the breaker heard its outcome (0 when it heard nothing). */
  breakerHeardMs: number;
  latencyMs: number;
  originStatus: number;
  staleAgeSeconds: number;
  originMs: number;
  status: number;
  /** The region whose answer was passed on ("" when none: a copy or a worker-made error). */
  answeredBy: string;
  /** The region tried first when the answer came from another one (failover), else "". */
  failedOverFrom: string;
  routingReason: RoutingReason;
  /** The answering region's share of its weight under return-to-home (100 when not ramping; 0 when none answered). */
  rampPercent: number;
  /** Regions tried (0 when refused before any, 2 after a failover). */
  regionsTried: number;
  /** What the write path did with it ("" when it is no write or webhook request). */
  write: WriteOutcome;
}

export interface TransitionRecord {
  origin: string;
  from: BreakerState["kind"];
  to: BreakerState["kind"];
  cause: string;
  /** "object" when the Durable Object changed state, "isolate" when an isolate decided alone. */
  source: "object" | "isolate";
  attempt: number;
  failures: number;
  openMs: number;
}

/** Describes a change of breaker state for the dashboard, from whichever side made it. */
export function transitionRecord(origin: string, before: BreakerState, after: BreakerState, cause: string, source: TransitionRecord["source"], now: number): TransitionRecord {
  return {
    origin,
    from: before.kind,
    to: after.kind,
    cause,
    source,
    attempt: after.kind === "closed" ? 0 : after.attempt,
    // Count the failure that tripped the breaker too, so an opening reports the threshold.
    failures: before.kind === "closed" ? before.failures + (cause === "failure" ? 1 : 0) : 0,
    openMs: after.kind === "open" ? after.until - now : 0,
  };
}

export const REQUEST_EVENT = "request";
export const BREAKER_EVENT = "breaker";
export const HEALTH_CHECK_EVENT = "health_check";

/** One active check of an origin's health path: why it was sent, and what it found. */
export interface HealthCheckRecord {
  origin: string;
  /** "confirm": a run of failures asked whether the origin is failing; "probe": the half-open probe. */
  purpose: "confirm" | "probe";
  ok: boolean;
  /** Why it failed ("" when ok). */
  why: string;
  status: number;
  ms: number;
  /** A passing confirmation: the held failures it showed to be route trouble, and (up to 8 of) their route classes. */
  dismissed: number;
  routes: string[];
  /** A failing confirmation: the held failures it passed on to the breaker. */
  passed: number;
}

export function healthCheckPoint(h: HealthCheckRecord): AnalyticsEngineDataPoint {
  return {
    indexes: [h.origin],
    blobs: [
      HEALTH_CHECK_EVENT, // blob1
      h.purpose, // blob2
      h.ok ? "ok" : "failed", // blob3
      h.why, // blob4
      // Bounded: Analytics Engine refuses a point whose blobs are too large, and would drop it.
      h.routes.join(" ").slice(0, 512), // blob5
    ],
    doubles: [
      h.ms, // double1
      h.status, // double2
      h.dismissed, // double3
      h.passed, // double4
    ],
  };
}

export function requestPoint(r: RequestRecord): AnalyticsEngineDataPoint {
  return {
    indexes: [r.origin],
    blobs: [
      REQUEST_EVENT, // blob1
      r.outcome, // blob2
      r.failure ?? "", // blob3
      r.breaker, // blob4
      r.tier ?? "", // blob5
      r.lookup, // blob6
      r.store, // blob7
      r.method, // blob8
      r.route, // blob9
      r.colo, // blob10
      r.version, // blob11
      r.probe ? "probe" : "", // blob12
      r.breakerHeard, // blob13
      r.answeredBy, // blob14
      r.failedOverFrom, // blob15
      r.routingReason, // blob16
      r.write, // blob17
    ],
    doubles: [
      r.latencyMs, // double1
      r.originStatus, // double2
      r.staleAgeSeconds, // double3
      r.originMs, // double4
      r.status, // double5
      r.breakerHeardMs, // double6
      r.rampPercent, // double7
      r.regionsTried, // double8
    ],
  };
}

export function transitionPoint(t: TransitionRecord): AnalyticsEngineDataPoint {
  return {
    indexes: [t.origin],
    blobs: [
      BREAKER_EVENT, // blob1
      t.from, // blob2
      t.to, // blob3
      t.cause, // blob4
      t.source, // blob5
    ],
    doubles: [
      t.attempt, // double1
      t.failures, // double2
      t.openMs, // double3
    ],
  };
}
