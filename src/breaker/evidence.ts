/**
 * How one region's breaker hears about requests: a success, a failure (held by the TripGate until
 * the health check says it is about the origin), and the worker's own health checks (the
 * confirmation, the half-open probe, the learning check that sets their deadline).
 */
import { healthCheckPoint, type HealthCheckRecord } from "../metrics/schema.ts";
import { emit } from "../metrics/writer.ts";
import { checkHealth, CLIENT_PROBE_AFTER_FAILED_CHECKS, type HealthResult } from "../origin/health-check.ts";
import { routeClass } from "../origin/latency.ts";
import type { RequestContext } from "../request/context.ts";
import type { AttemptTrace } from "../request/record.ts";
import type { Region } from "../runtime.ts";

export function tellBreaker(x: RequestContext, region: Region, trace: AttemptTrace, outcome: "failure" | "success", probe: boolean, now: number): void {
  trace.breakerHeardMs = Date.now() - x.startedWall;
  const healthPath = x.runtime.config.health.path;
  // A client's request that was the probe (clientProbeTurn) takes its turn in the count.
  if (probe && healthPath !== undefined) region.health.failedProbes = outcome === "success" ? 0 : region.health.failedProbes + 1;
  if (outcome === "success") {
    region.gate.success();
  } else if (healthPath !== undefined && !probe && region.view.state.kind === "closed") {
    // Evidence about one route or one client is held until the health check speaks (TripGate).
    const { pass, check } = region.gate.failure(now, routeClass(x.url.pathname));
    if (check) x.ctx.waitUntil(confirmWithHealthCheck(x, region, healthPath));
    if (pass === 0) {
      trace.breakerHeard = "held";
      return;
    }
  }
  region.view.record(outcome, probe, now);
  trace.breakerHeard = outcome;
}

/**
 * How long a health check (the confirmation, and the probe) may take: 3 x the slowest of the
 * health path's recent passing checks, at least 100 ms, at most ORIGIN_HEALTH_TIMEOUT_MS (see
 * HealthLatency). Short, so a real partition still opens the breaker within a few slow deadlines
 * of its start; learned from the health path itself, so no other route's latency shortens it.
 */
export function healthCheckDeadline(x: RequestContext, region: Region): number {
  return region.health.deadline(x.runtime.config.health.timeoutMs);
}

/** While closed, about once a minute per isolate: learn how long the health path takes (off the client's path). */
export async function learnHealthLatency(x: RequestContext, region: Region, path: string): Promise<void> {
  region.health.record(await checkHealth(region.origin, path, x.runtime.config.health.timeoutMs));
}

function recordCheck(x: RequestContext, region: Region, purpose: HealthCheckRecord["purpose"], result: HealthResult, dismissed = { failures: 0, routes: [] as string[] }, passed = 0): void {
  emit(
    x.env.METRICS,
    healthCheckPoint({
      origin: region.origin.name,
      purpose,
      ok: result.ok,
      why: result.ok ? "" : result.why,
      status: result.ok ? result.status : 0,
      ms: result.ms,
      dismissed: dismissed.failures,
      routes: dismissed.routes,
      passed,
    }),
  );
}

async function confirmWithHealthCheck(x: RequestContext, region: Region, path: string): Promise<void> {
  const result = await checkHealth(region.origin, path, healthCheckDeadline(x, region));
  region.health.record(result);
  const now = x.clock.now();
  const pass = region.gate.checked(!result.ok, now);
  recordCheck(x, region, "confirm", result, region.gate.lastDismissed, pass);
  if (pass === 0 || region.view.state.kind !== "closed") return;
  for (let i = 0; i < pass; i++) region.view.record("failure", false, now);
  await region.view.background(now);
}

/**
 * Whether this probe goes to a client's idempotent request rather than the health check: every
 * other probe once CLIENT_PROBE_AFTER_FAILED_CHECKS health-check probes failed in a row.
 */
export function clientProbeTurn(request: Request, region: Region): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const failed = region.health.failedProbes;
  return failed >= CLIENT_PROBE_AFTER_FAILED_CHECKS && failed % 2 === 1;
}

/** The half-open probe: the health check, told to the breaker. Whether the origin answered well. */
export async function probeWithHealthCheck(x: RequestContext, region: Region, path: string): Promise<boolean> {
  // The confirming deadline again: a probe that waits out a blackhole for the full timeout would
  // keep a healed origin away for that long on top of the open period.
  const result = await checkHealth(region.origin, path, healthCheckDeadline(x, region));
  region.health.record(result);
  region.health.probed(result);
  recordCheck(x, region, "probe", result);
  const now = x.clock.now();
  region.view.record(result.ok ? "success" : "failure", true, now);
  // The waiting client needs the verdict, not the object's acknowledgement of it.
  const report = region.view.background(now);
  if (report) x.ctx.waitUntil(report);
  return result.ok;
}
