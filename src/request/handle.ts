/**
 * The request path, one way through: choose the region, attempt it, then answer (the origin's
 * answer, with its copy stored in the background when the store needs one) or fall back (the
 * stored copy, else a clean 5xx), then record one data point.
 */
import type { Clock } from "../clock.ts";
import type { Env } from "../env.ts";
import { lateAnswer, healthyAnswer } from "../lkg/write.ts";
import { requestPoint } from "../metrics/schema.ts";
import { emit } from "../metrics/writer.ts";
import { learnHealthLatency } from "../breaker/evidence.ts";
import { attempt, retryAfterMs, type Attempt, type InFlight } from "../origin/attempt.ts";
import type { Region, Runtime } from "../runtime.ts";
import { requestPolicy } from "../scrub/policy.ts";
import { matchRoute } from "../scrub/routes.ts";
import type { RequestContext } from "./context.ts";
import { fromStore, noCopy, staleCause } from "./fallback.ts";
import { newAttempt, newTrace, requestRecord } from "./record.ts";

export async function handle(request: Request, url: URL, env: Env, ctx: ExecutionContext, runtime: Runtime, clock: Clock): Promise<Response> {
  const policy = requestPolicy(request, url, runtime.config);
  const x: RequestContext = {
    request,
    url,
    env,
    ctx,
    runtime,
    clock,
    policy,
    started: clock.now(),
    startedWall: Date.now(),
    streaming: runtime.config.streamingRoutes.length > 0 && matchRoute(runtime.config.streamingRoutes, url.pathname) !== undefined,
    trace: newTrace(policy),
  };
  const region = choose(runtime);
  const response = await tryRegion(x, region);
  finish(x, region, response);
  return response;
}

/** Regions are modelled from the start; routing among them comes with multi-region support. */
function choose(runtime: Runtime): Region {
  return runtime.regions.values().next().value!;
}

async function tryRegion(x: RequestContext, region: Region): Promise<Response> {
  const trace = newAttempt(region.origin.name);
  x.trace.attempts.push(trace);
  const tried = await attempt(x, region, trace);
  if (tried.kind === "ok") return healthyAnswer(x, region, tried.result, tried.answeredAt);
  return fallBack(x, region, tried);
}

/** The region did not answer well: the copy, else (for a health-check probe that passed) the region again, else a clean 5xx. */
async function fallBack(x: RequestContext, region: Region, tried: Exclude<Attempt, { kind: "ok" }>): Promise<Response> {
  const cause = tried.kind === "rejected" ? "breaker-open" : staleCause(tried.cause);
  const served = await fromStore(x, cause);
  if (served) {
    if (tried.kind === "failed") {
      if (tried.inFlight) refreshLate(x, region, tried.inFlight);
      await tried.response?.response.body?.cancel();
    }
    return served;
  }
  if (tried.kind === "rejected") {
    if (tried.probing && (await tried.probing)) {
      // The health check that was this request's probe passed: the origin is back, go to it.
      const trace = newAttempt(region.origin.name);
      x.trace.attempts.push(trace);
      const again = await attempt(x, region, trace, true);
      if (again.kind === "ok") return healthyAnswer(x, region, again.result, again.answeredAt);
      return fallBack(x, region, again);
    }
    return noCopy(x, cause, region.origin.name, tried.probing ? retryAfterMs(region.view, x.clock.now()) : tried.retryAfterMs, undefined);
  }
  if (tried.inFlight?.wait) {
    // Slow, and no copy: keep waiting for the origin, unless the breaker opens first.
    const final = await tried.inFlight.wait();
    if (final.kind === "ok") return healthyAnswer(x, region, final.result, final.answeredAt);
    return fallBack(x, region, final);
  }
  if (tried.inFlight) refreshLate(x, region, tried.inFlight);
  return noCopy(x, cause, region.origin.name, retryAfterMs(region.view, x.clock.now()), tried.response);
}

function refreshLate(x: RequestContext, region: Region, inFlight: InFlight): void {
  x.ctx.waitUntil(inFlight.late.then((late) => lateAnswer(x, region, late)));
}

/** Bookkeeping after the answer is ready: breaker reports and the metrics point, all off the client's path. */
function finish(x: RequestContext, region: Region, response: Response): void {
  const now = x.clock.now();
  const { view } = region;
  const work = view.background(now);
  if (work) x.ctx.waitUntil(work);
  const healthPath = x.runtime.config.health.path;
  if (healthPath !== undefined && view.state.kind === "closed" && region.health.shouldLearn(now)) x.ctx.waitUntil(learnHealthLatency(x, region, healthPath));
  // writeDataPoint returns at once and never fails the request (emit): no waitUntil needed.
  emit(x.env.METRICS, requestPoint(requestRecord(x.request, x.policy, x.trace, region.origin.name, view.state.kind, response.status, Date.now() - x.startedWall)));
}
