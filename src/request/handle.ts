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
import type { Router } from "../routing/router.ts";
import { choose } from "../routing/select.ts";
import { assignmentHeader, readAssignment, withoutAssignment } from "../routing/sticky.ts";
import { requestPolicy } from "../scrub/policy.ts";
import { matchRoute } from "../scrub/routes.ts";
import { intake } from "../writes/intake.ts";
import { matchWrite } from "../writes/match.ts";
import { WRITE_EPOCH_HEADER } from "../writes/types.ts";
import type { RequestContext } from "./context.ts";
import { fromStore, noCopy, staleCause } from "./fallback.ts";
import { answerOverBudget, type Tried } from "./over-budget.ts";
import { newAttempt, newTrace, requestRecord } from "./record.ts";

export async function handle(original: Request, url: URL, env: Env, ctx: ExecutionContext, runtime: Runtime, clock: Clock): Promise<Response> {
  const router = runtime.routed ? runtime.router : undefined;
  // Our assignment is ours: the origin never sees it, and the privacy rules never count it as a
  // session cookie (with SESSION_COOKIES ["*"] it would make every request unstorable).
  let request = router?.key === undefined ? original : withoutOurAssignment(original, router);
  // The write epoch is ours to set: a client's own would let it pass a stale write off as current.
  if (request.headers.has(WRITE_EPOCH_HEADER)) request = withoutHeader(request, WRITE_EPOCH_HEADER);
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
  const write = matchWrite(runtime.config.writes, request.method, url.pathname);
  if (write !== undefined) {
    // Writes go to the one writer region (or the queue), never by the read choice and never to a second region.
    const { response, region } = await intake(x, write);
    finish(x, region, response);
    if (router) router.background(x, x.clock.now());
    else runtime.router.sync(x, x.clock.now());
    runtime.writer!.considerPromotion(x, x.clock.now());
    return response;
  }
  if (router === undefined) {
    const region = runtime.regions.values().next().value!;
    const response = await tryRegion(x, region);
    finish(x, region, response);
    return response;
  }
  const { response, region } = await routed(x, router, original);
  finish(x, region, response);
  router.background(x, x.clock.now());
  // Promotion follows the writer's breaker, which reads see first: it must not wait for a write.
  runtime.writer?.considerPromotion(x, x.clock.now());
  return response;
}

function withoutHeader(request: Request, name: string): Request {
  const headers = new Headers(request.headers);
  headers.delete(name);
  return new Request(request, { headers });
}

function withoutOurAssignment(request: Request, router: Router): Request {
  const headers = withoutAssignment(request.headers, router.policy);
  return headers === request.headers ? request : new Request(request, { headers });
}

/** Only these are sent to a second region: they carry no body, and sending one twice changes nothing. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Several regions: the choice (from memory), the first region's attempt, and for an idempotent
 * request whose attempt failed, the next region once within the retry budget; then the copy or a
 * clean 5xx as with one region. The answer names its region and, for a new session, assigns it.
 */
async function routed(x: RequestContext, router: Router, original: Request): Promise<{ response: Response; region: Region }> {
  const now = x.started;
  const { regions } = x.runtime;
  let sticky: string | Promise<string | undefined> | undefined = router.key === undefined ? undefined : readAssignment(original, router.policy, router.key, now);
  // An HMAC check only for a token this isolate has not seen (sticky.ts caches verdicts).
  if (sticky !== undefined && typeof sticky !== "string") sticky = await sticky;
  const choice = choose(router.inputs(now), router.policy, sticky, router.leader, router.draws.forChoice());
  x.trace.routingReason = choice.reason;
  const first = regions.get(choice.order[0]!)!;
  const canRetry = choice.order.length > 1 && IDEMPOTENT.has(x.request.method) && x.request.body === null;
  if (canRetry) router.budget.request(now);

  let region = first;
  let response: Response;
  const tried = await attemptOn(x, first, router);
  if (tried.kind === "served") response = tried.response;
  else if (tried.kind === "ok") {
    router.succeeded(x, first, x.clock.now());
    response = healthyAnswer(x, first, tried.result, tried.answeredAt);
  } else {
    router.failed(x, first, x.clock.now());
    const second = canRetry ? regions.get(choice.order[1]!)! : undefined;
    const next = second ? retryTarget(x, router, second, tried.kind === "failed" && tried.cause === "breaker_open") : undefined;
    if (next === undefined) {
      // A slow request kept waiting (no copy, no retry budget left) whose region's breaker then opens
      // goes to the next region after all: see rerouteAfterOpen.
      const reroute = second
        ? async () => {
            const answer = await rerouteAfterOpen(x, router, second);
            if (answer) region = second;
            return answer;
          }
        : undefined;
      response = await fallBack(x, first, tried, reroute);
    } else {
      letGo(x, first, tried);
      region = next;
      const again = await attemptOn(x, next, router);
      if (again.kind === "served") response = again.response;
      else if (again.kind === "ok") {
        router.succeeded(x, next, x.clock.now());
        response = healthyAnswer(x, next, again.result, again.answeredAt);
      } else {
        router.failed(x, next, x.clock.now());
        response = await fallBack(x, next, again);
      }
    }
  }
  const answeredBy = x.trace.answeredBy;
  if (answeredBy !== "") {
    x.trace.rampPercent = region.route!.input.rampPercent;
    // A new session goes to the region the choice picked; a failover answer assigns the client
    // only once the picked region has left, so one blip at home does not pin it away for stick_seconds.
    const assignable = answeredBy === first.origin.name || !first.route!.health.usable || first.view.state.kind !== "closed";
    if (router.key !== undefined && answeredBy !== sticky && assignable && !stillUsable(router, sticky) && router.view.control(answeredBy).admin === "active") {
      let header = assignmentHeader(answeredBy, router.policy, router.key, now);
      // A signature at most once per region per second (sticky.ts); every other answer reuses it.
      if (!Array.isArray(header)) header = await header;
      const [name, value] = header as readonly [string, string];
      response.headers.append(name, value);
    }
  }
  return { response, region };
}

/**
 * The region a failed attempt is retried on, within the budget, or undefined. Not one whose breaker
 * refuses everything now: that retry would reach no origin, spend the budget, and replace the
 * first region's own answer (its 5xx, or the copy's true cause) with a 503 about the other breaker.
 */
function retryTarget(x: RequestContext, router: Router, next: Region, opened = false): Region | undefined {
  const now = x.clock.now();
  if (next.view.decide(now).kind === "reject") return undefined;
  // The order ends with regions that left, are held dark or were evacuated: a retry into one would
  // wait out a blackhole (or load a region its operator emptied) instead of answering from here.
  const input = next.route!.input;
  if (!next.route!.health.usable || input.control.admin === "evacuated" || input.control.held === true) return undefined;
  // The breaker opened while this request waited: the region is known down, and what it still held
  // is bounded by the requests in flight at that moment, not a rate; they go where new requests go now.
  if (opened) return next;
  return router.budget.tryRetry(now) ? next : undefined;
}

/**
 * The first region's breaker opened while a slow request without a copy waited on it: the request
 * goes to the next region (as every new request now does) instead of taking a 503. Undefined when
 * that region cannot take it either; the caller then falls back as before.
 */
async function rerouteAfterOpen(x: RequestContext, router: Router, next: Region): Promise<Response | undefined> {
  if (retryTarget(x, router, next, true) === undefined) return undefined;
  const again = await attemptOn(x, next, router);
  if (again.kind === "served") return again.response;
  if (again.kind === "ok") {
    router.succeeded(x, next, x.clock.now());
    return healthyAnswer(x, next, again.result, again.answeredAt);
  }
  router.failed(x, next, x.clock.now());
  return fallBack(x, next, again);
}

/** A client's region stays its region while usable and not evacuated: one failover does not move it. */
function stillUsable(router: Router, sticky: string | undefined): boolean {
  if (sticky === undefined) return false;
  const input = router.regions.find((r) => r.origin.name === sticky)?.route?.input;
  return input !== undefined && input.usable && input.control.admin !== "evacuated";
}

/**
 * One try on `region`, the copy served if the origin passed the copy budget. `router`: with several
 * regions, told the outcome of a try whose client was served from the copy once it is known.
 */
async function attemptOn(x: RequestContext, region: Region, router?: Router, afterProbe = false): Promise<Tried> {
  const trace = newAttempt(region.origin.name);
  x.trace.attempts.push(trace);
  const tried = await attempt(x, region, trace, afterProbe);
  if (tried.kind !== "over-budget") return tried;
  const heard = router === undefined ? undefined : (final: Attempt) => (final.kind === "ok" ? router.succeeded(x, region, x.clock.now()) : router.failed(x, region, x.clock.now()));
  return answerOverBudget(x, region, trace, tried, heard);
}

/** The first region failed and the next one is tried: what the first still holds is released (its late answer may refresh the copy). */
function letGo(x: RequestContext, region: Region, tried: Exclude<Attempt, { kind: "ok" }>): void {
  if (tried.kind !== "failed") return;
  if (tried.inFlight) refreshLate(x, region, tried.inFlight);
  if (tried.response) x.ctx.waitUntil(cancelBody(tried.response.response));
}

async function cancelBody(response: Response): Promise<void> {
  await response.body?.cancel();
}

async function tryRegion(x: RequestContext, region: Region): Promise<Response> {
  const tried = await attemptOn(x, region);
  if (tried.kind === "served") return tried.response;
  if (tried.kind === "ok") return healthyAnswer(x, region, tried.result, tried.answeredAt);
  return fallBack(x, region, tried);
}

/** The region did not answer well: the copy, else (for a health-check probe that passed) the region again, else a clean 5xx. */
async function fallBack(x: RequestContext, region: Region, tried: Exclude<Attempt, { kind: "ok" }>, reroute?: () => Promise<Response | undefined>): Promise<Response> {
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
      const again = await attemptOn(x, region, undefined, true);
      if (again.kind === "served") return again.response;
      if (again.kind === "ok") return healthyAnswer(x, region, again.result, again.answeredAt);
      return fallBack(x, region, again);
    }
    return noCopy(x, cause, region.origin.name, tried.probing ? retryAfterMs(region.view, x.clock.now()) : tried.retryAfterMs, undefined);
  }
  if (tried.inFlight?.wait) {
    // Slow, and no copy: keep waiting for the origin, unless the breaker opens first.
    const final = await tried.inFlight.wait();
    if (final.kind === "ok") return healthyAnswer(x, region, final.result, final.answeredAt);
    if (final.kind === "failed" && final.cause === "breaker_open" && reroute) {
      const rerouted = await reroute();
      if (rerouted) return rerouted;
    }
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
  if (x.runtime.routed) {
    const router = x.runtime.router;
    // A region tried first and failed has its own reports to send.
    for (const other of router.regions) {
      if (other === region) continue;
      const more = other.view.background(now);
      if (more) x.ctx.waitUntil(more);
    }
  }
  const healthPath = x.runtime.config.health.path;
  if (healthPath !== undefined && view.state.kind === "closed" && region.health.shouldLearn(now)) x.ctx.waitUntil(learnHealthLatency(x, region, healthPath));
  // writeDataPoint returns at once and never fails the request (emit): no waitUntil needed.
  emit(x.env.METRICS, requestPoint(requestRecord(x.request, x.policy, x.trace, region.origin.name, view.state.kind, response.status, Date.now() - x.startedWall)));
}
