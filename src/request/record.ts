/**
 * The request's data point, built in one place. The steps of a request write what they saw into
 * its Trace (each origin attempt its own AttemptTrace); `requestRecord` turns that into the
 * schema's RequestRecord once the answer is ready.
 */
import type { BreakerState } from "../breaker/state.ts";
import type { Env } from "../env.ts";
import type { TierName } from "../lkg/entry.ts";
import type { LookupOutcome, Outcome, RecordedFailure, RequestRecord, WriteOutcome } from "../metrics/schema.ts";
import { requestPoint } from "../metrics/schema.ts";
import { emit } from "../metrics/writer.ts";
import type { Runtime } from "../runtime.ts";
import type { RoutingReason } from "../routing/types.ts";
import type { RequestPolicy } from "../scrub/policy.ts";
import { VERSION } from "../version.ts";

/** One region, one try: what the breaker heard and what the origin said. */
export interface AttemptTrace {
  region: string;
  probe: boolean;
  failure: RecordedFailure | undefined;
  /** See RequestRecord.breakerHeard. */
  breakerHeard: RequestRecord["breakerHeard"];
  breakerHeardMs: number;
  originStatus: number;
  originMs: number;
}

export interface Trace {
  attempts: AttemptTrace[];
  outcome: Outcome;
  /** "stored", "skip:<reason>" or "" when storing did not apply. */
  store: string;
  lookup: LookupOutcome;
  tier: TierName | undefined;
  staleAgeSeconds: number;
  routingReason: RoutingReason;
  /** The region whose answer was passed on ("" for a copy or a worker-made error). */
  answeredBy: string;
  /** The answering region's return-to-home percent when it answered. */
  rampPercent: number;
  /** What the write path did with the request (writes/intake.ts sets it; "" for any other request). */
  write: WriteOutcome;
}

export function newTrace(policy: RequestPolicy): Trace {
  return { attempts: [], outcome: "origin_ok", store: policy.lkg ? "" : `skip:${policy.reason}`, lookup: "none", tier: undefined, staleAgeSeconds: 0, routingReason: "single", answeredBy: "", rampPercent: 100, write: "" };
}

export function newAttempt(region: string): AttemptTrace {
  return { region, probe: false, failure: undefined, breakerHeard: "", breakerHeardMs: 0, originStatus: 0, originMs: 0 };
}

export function requestRecord(
  request: Request,
  policy: RequestPolicy,
  trace: Trace,
  region: string,
  breaker: BreakerState["kind"],
  status: number,
  latencyMs: number,
): RequestRecord {
  const last = trace.attempts[trace.attempts.length - 1];
  return {
    origin: region,
    outcome: trace.outcome,
    failure: last?.failure,
    breaker,
    tier: trace.tier,
    lookup: trace.lookup,
    store: trace.store,
    method: request.method,
    route: policy.route ?? "",
    colo: colo(request),
    version: VERSION,
    probe: last?.probe ?? false,
    breakerHeard: last?.breakerHeard ?? "",
    breakerHeardMs: last?.breakerHeardMs ?? 0,
    latencyMs,
    originStatus: last?.originStatus ?? 0,
    staleAgeSeconds: trace.staleAgeSeconds,
    originMs: last?.originMs ?? 0,
    status,
    answeredBy: trace.answeredBy,
    failedOverFrom: failedOverFrom(trace),
    routingReason: trace.routingReason,
    rampPercent: trace.answeredBy === "" ? 0 : trace.rampPercent,
    regionsTried: regionsTried(trace),
    write: trace.write,
  };
}

function failedOverFrom(trace: Trace): string {
  const first = trace.attempts[0];
  return first !== undefined && trace.answeredBy !== "" && trace.answeredBy !== first.region ? first.region : "";
}

/** Distinct regions: a health-check probe that passed and sent the request on is one region tried twice. */
function regionsTried(trace: Trace): number {
  const { attempts } = trace;
  if (attempts.length < 2) return attempts.length;
  return new Set(attempts.map((a) => a.region)).size;
}

function colo(request: Request): string {
  return typeof request.cf?.colo === "string" ? request.cf.colo : "";
}

/**
 * A request refused before reaching the origin still counts on the dashboard. `write` says why
 * the write path refused it (a missing key, a mismatch ...), "" for a refusal of any request.
 */
export function recordRejected(request: Request, env: Env, runtime: Runtime, response: Response, write: WriteOutcome = ""): void {
  const region = runtime.regions.values().next().value!;
  emit(env.METRICS, requestPoint({
    origin: region.origin.name,
    outcome: "rejected",
    failure: undefined,
    breaker: region.view.state.kind,
    tier: undefined,
    lookup: "none",
    store: "",
    method: request.method,
    route: "",
    colo: colo(request),
    version: VERSION,
    probe: false,
    breakerHeard: "",
    breakerHeardMs: 0,
    latencyMs: 0,
    originStatus: 0,
    staleAgeSeconds: 0,
    originMs: 0,
    status: response.status,
    answeredBy: "",
    failedOverFrom: "",
    routingReason: "refused",
    rampPercent: 0,
    regionsTried: 0,
    write,
  }));
}
