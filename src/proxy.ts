/** The request path: breaker decision, origin fetch, background LKG store, fallback answer, one metrics point. */
import { objectLink, type BreakerLink } from "./breaker/link.ts";
import type { TripGate } from "./breaker/trip-gate.ts";
import type { BreakerView } from "./breaker/view.ts";
import type { Clock } from "./clock.ts";
import type { OriginRegion } from "./config.ts";
import type { Env } from "./env.ts";
import { admit } from "./lkg/admission.ts";
import { captureBody } from "./lkg/capture.ts";
import { CACHE_NAME, fromEntry, unavailable, type StaleCause } from "./lkg/respond.ts";
import { healthCheckPoint, requestPoint, type FailureClass, type RequestRecord } from "./metrics/schema.ts";
import { emit } from "./metrics/writer.ts";
import { fetchOrigin, passOn, type OriginResult } from "./origin/client.ts";
import { checkHealth, CLIENT_PROBE_AFTER_FAILED_CHECKS, type HealthLatency, type HealthResult } from "./origin/health-check.ts";
import { routeClass, type LatencyBaselines, type LatencyTracker } from "./origin/latency.ts";
import type { Runtime } from "./runtime.ts";
import { clientAcceptEncoding } from "./scrub/encoding.ts";
import type { StoredHeaders } from "./scrub/headers.ts";
import { requestPolicy, responseVerdict, type RequestPolicy } from "./scrub/policy.ts";
import { matchRoute } from "./scrub/routes.ts";
import { VERSION } from "./version.ts";

interface Exchange {
  request: Request;
  url: URL;
  env: Env;
  ctx: ExecutionContext;
  runtime: Runtime;
  clock: Clock;
  origin: OriginRegion;
  view: BreakerView;
  gate: TripGate;
  /** How long the origin's health path takes when up: the checks' deadline. */
  health: HealthLatency;
  link: BreakerLink;
  policy: RequestPolicy;
  record: RequestRecord;
  /** Injected clock: decides staleness and breaker timing. */
  started: number;
  /** Wall time, for latency: the injected clock may stand still in tests. */
  startedWall: number;
  /** This request's route class's baseline; `baselines` holds it and the whole origin's. */
  latency: LatencyTracker;
  baselines: LatencyBaselines;
  /** A long-poll or streaming route: never slow, and its timeouts say nothing about the origin. */
  streaming: boolean;
}

/** A request refused before reaching the origin still counts on the dashboard. */
export function recordRejected(request: Request, env: Env, runtime: Runtime, response: Response): void {
  const origin = runtime.config.origins[0]!;
  emit(
    env.METRICS,
    requestPoint({
      ...baseRecord(request, origin.name, runtime.views.get(origin.name)!.state.kind, undefined),
      outcome: "rejected",
      status: response.status,
    }),
  );
}

function baseRecord(request: Request, origin: string, breaker: RequestRecord["breaker"], policy: RequestPolicy | undefined): RequestRecord {
  return {
    origin,
    outcome: "origin_ok",
    failure: undefined,
    breaker,
    tier: undefined,
    lookup: "none",
    store: policy ? (policy.lkg ? "" : `skip:${policy.reason}`) : "",
    method: request.method,
    route: policy?.route ?? "",
    colo: typeof request.cf?.colo === "string" ? request.cf.colo : "",
    version: VERSION,
    probe: false,
    breakerHeard: "",
    breakerHeardMs: 0,
    latencyMs: 0,
    originStatus: 0,
    staleAgeSeconds: 0,
    originMs: 0,
    status: 0,
  };
}

export async function proxy(request: Request, url: URL, env: Env, ctx: ExecutionContext, runtime: Runtime, clock: Clock): Promise<Response> {
  const started = clock.now();
  // Regions are modelled from the start; routing among them comes with multi-region support.
  const origin = runtime.config.origins[0]!;
  const view = runtime.views.get(origin.name)!;
  const baselines = runtime.latency.get(origin.name)!;
  const policy = requestPolicy(request, url, runtime.config);
  const x: Exchange = {
    request,
    url,
    env,
    ctx,
    runtime,
    clock,
    origin,
    view,
    gate: runtime.gates.get(origin.name)!,
    health: runtime.healthLatency.get(origin.name)!,
    link: objectLink(env.BREAKER, runtime.config.breaker.objectTimeoutMs),
    policy,
    started,
    startedWall: Date.now(),
    latency: baselines.for(url.pathname),
    baselines,
    streaming: runtime.config.streamingRoutes.length > 0 && matchRoute(runtime.config.streamingRoutes, url.pathname) !== undefined,
    record: baseRecord(request, origin.name, view.state.kind, policy),
  };
  const response = await answer(x);
  finish(x, response);
  return response;
}

async function answer(x: Exchange): Promise<Response> {
  const decision = x.view.decide(x.started);
  let probe = false;
  if (decision.kind === "reject") return breakerOpen(x, decision.retryAfterMs);
  if (decision.kind === "try-probe") {
    const verdict = await x.view.acquireProbe(x.link, x.started);
    if (verdict === "reject") {
      return breakerOpen(x, retryAfterMs(x));
    }
    const byCheck = x.runtime.config.health.path !== undefined && !clientProbeTurn(x);
    if (verdict === "probe" && byCheck) {
      // The worker's own health check is the probe. A client with a copy is answered from it at
      // once; one without waits for the check (its short deadline) rather than take a 503 from
      // an origin that may be back: if it is, this request goes on to it like any other.
      const probing = probeWithHealthCheck(x, x.runtime.config.health.path!);
      x.ctx.waitUntil(probing);
      x.record.failure = "breaker_open";
      x.record.breaker = x.view.state.kind;
      const served = await fromStore(x, "breaker-open");
      if (served) return served;
      if (!(await probing)) {
        x.record.outcome = "no_lkg";
        return unavailable("breaker-open", retryAfterSeconds(x), `circuit breaker for origin ${x.origin.name} is open`);
      }
      x.record.failure = undefined;
    }
    // When the check was the probe, this request is an ordinary one.
    probe = verdict === "probe" && !byCheck;
  }
  x.record.probe = probe;

  const { config } = x.runtime;
  // One stall slows every route at once: it is counted once for the origin (claimSlow), however
  // many route classes had requests in flight.
  const sequence = x.baselines.origin.begin();
  const slowAfter = x.streaming ? undefined : x.baselines.slowAfter(x.latency, config.originSlow, config.originTimeoutMs);
  // The probe is what decides whether the breaker stays open; every other request stops waiting
  // on the origin the moment the breaker opens (rule 7: a fast answer, never the full timeout).
  let signal!: (why: typeof SLOW | typeof OPENED) => void;
  const signalled = new Promise<typeof SLOW | typeof OPENED>((resolve) => (signal = resolve));
  // The origin client's own timer says when the request is slow: one timer per request.
  // A client's request as the probe (clientProbeTurn) is judged like the check it stands in for:
  // a short deadline, so a probe into a blackhole does not hold its client for the full timeout.
  const timeoutMs = probe && config.health.path !== undefined ? Math.min(config.originTimeoutMs, Math.max(CLIENT_PROBE_MIN_TIMEOUT_MS, healthCheckDeadline(x))) : config.originTimeoutMs;
  const slowBefore = slowAfter !== undefined && slowAfter < timeoutMs ? slowAfter : undefined;
  const fetching = fetchOrigin(x.request, x.url, x.origin, timeoutMs, slowBefore, slowBefore === undefined ? undefined : () => signal(SLOW));
  const unsubscribe = probe ? undefined : x.view.onOpen(() => signal(OPENED));
  const first = await Promise.race([fetching, signalled]);
  unsubscribe?.();
  if (first === OPENED) return releasedByBreaker(x, fetching);
  if (first === SLOW) return slowOrigin(x, probe, sequence, fetching);
  return settle(x, probe, first, false);
}

const SLOW = Symbol("slow");
const OPENED = Symbol("opened");

/** The origin's result, or OPENED once `view`'s breaker opened (no view: the result). */
async function waitForOrigin(work: Promise<OriginResult>, view: BreakerView | undefined): Promise<OriginResult | typeof OPENED> {
  if (view === undefined) return work;
  let unsubscribe: (() => void) | undefined;
  const opened = new Promise<typeof OPENED>((resolve) => (unsubscribe = view.onOpen(() => resolve(OPENED))));
  try {
    return await Promise.race([work, opened]);
  } finally {
    unsubscribe?.();
  }
}

/**
 * The breaker opened while this request waited on the origin: answer as an open breaker would
 * (the copy, or a fast 503). The origin's late answer, if it comes, still refreshes the copy.
 */
function releasedByBreaker(x: Exchange, fetching: Promise<OriginResult>): Promise<Response> {
  x.ctx.waitUntil(fetching.then((late) => lateAnswer(x, late)));
  return breakerOpen(x, retryAfterMs(x));
}

/**
 * The origin is far slower than it has recently been: count a failure now (once per stall, see
 * LatencyTracker.claimSlow; a probe always counts), and answer from the copy if there is one.
 * The origin's eventual answer still refreshes the copy.
 */
async function slowOrigin(x: Exchange, probe: boolean, sequence: number, fetching: Promise<OriginResult>): Promise<Response> {
  const counted = probe || x.baselines.origin.claimSlow(sequence);
  if (counted) tellBreaker(x, "failure", probe, x.clock.now());
  x.record.failure = "slow";
  const served = await fromStore(x, "origin-slow");
  if (served) {
    x.ctx.waitUntil(fetching.then((late) => lateAnswer(x, late)));
    return served;
  }
  // No copy: keep waiting for the origin, unless the breaker opens first.
  const late = await waitForOrigin(fetching, probe ? undefined : x.view);
  if (late === OPENED) return releasedByBreaker(x, fetching);
  return settle(x, probe, late as OriginResult, counted);
}

/** An answer that arrived after the client was served from the copy. */
async function lateAnswer(x: Exchange, result: OriginResult): Promise<void> {
  x.record.originMs = result.ms;
  if (result.kind !== "response") return;
  if (result.failure) {
    await result.response.body?.cancel();
    return;
  }
  if (!x.streaming) x.baselines.record(x.latency, result.ms);
  const now = x.clock.now();
  const { policy } = x;
  const verdict = policy.lkg ? responseVerdict(x.request.method, result.response, x.runtime.config, policy) : undefined;
  const admission = policy.lkg && verdict?.store ? admit(x.runtime, policy.key, result.response.headers, now) : undefined;
  if (policy.lkg && admission?.capture) return store(x, policy.key, result.response, admission.headers, result.body(true), now);
  if (admission && !admission.capture) x.runtime.store.skip(admission.reason);
  await result.response.body?.cancel();
}

function tellBreaker(x: Exchange, outcome: "failure" | "success", probe: boolean, now: number): void {
  x.record.breakerHeardMs = Date.now() - x.startedWall;
  const healthPath = x.runtime.config.health.path;
  // A client's request that was the probe (clientProbeTurn) takes its turn in the count.
  if (probe && healthPath !== undefined) x.health.failedProbes = outcome === "success" ? 0 : x.health.failedProbes + 1;
  if (outcome === "success") {
    x.gate.success();
  } else if (healthPath !== undefined && !probe && x.view.state.kind === "closed") {
    // Evidence about one route or one client is held until the health check speaks (TripGate).
    const { pass, check } = x.gate.failure(now, routeClass(x.url.pathname));
    if (check) x.ctx.waitUntil(confirmWithHealthCheck(x, healthPath));
    if (pass === 0) {
      x.record.breakerHeard = "held";
      return;
    }
  }
  x.view.record(outcome, probe, now);
  x.record.breakerHeard = outcome;
}

/**
 * How long a health check (the confirmation, and the probe) may take: 3 x the slowest of the
 * health path's recent passing checks, at least 100 ms, at most ORIGIN_HEALTH_TIMEOUT_MS (see
 * HealthLatency). Short, so a real partition still opens the breaker within a few slow deadlines
 * of its start; learned from the health path itself, so no other route's latency shortens it.
 */
function healthCheckDeadline(x: Exchange): number {
  return x.health.deadline(x.runtime.config.health.timeoutMs);
}

/** While closed, about once a minute per isolate: learn how long the health path takes (off the client's path). */
async function learnHealthLatency(x: Exchange, path: string): Promise<void> {
  x.health.record(await checkHealth(x.origin, path, x.runtime.config.health.timeoutMs));
}

function recordCheck(x: Exchange, purpose: "confirm" | "probe", result: HealthResult, dismissed = { failures: 0, routes: [] as string[] }, passed = 0): void {
  emit(
    x.env.METRICS,
    healthCheckPoint({
      origin: x.origin.name,
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

async function confirmWithHealthCheck(x: Exchange, path: string): Promise<void> {
  const result = await checkHealth(x.origin, path, healthCheckDeadline(x));
  x.health.record(result);
  const now = x.clock.now();
  const pass = x.gate.checked(!result.ok, now);
  recordCheck(x, "confirm", result, x.gate.lastDismissed, pass);
  if (pass === 0 || x.view.state.kind !== "closed") return;
  for (let i = 0; i < pass; i++) x.view.record("failure", false, now);
  await x.view.background(x.link, now);
}

/** The shortest origin timeout of a client's request that is the probe. */
const CLIENT_PROBE_MIN_TIMEOUT_MS = 1000;

/**
 * Whether this probe goes to a client's idempotent request rather than the health check: every
 * other probe once CLIENT_PROBE_AFTER_FAILED_CHECKS health-check probes failed in a row.
 */
function clientProbeTurn(x: Exchange): boolean {
  if (x.request.method !== "GET" && x.request.method !== "HEAD") return false;
  const failed = x.health.failedProbes;
  return failed >= CLIENT_PROBE_AFTER_FAILED_CHECKS && failed % 2 === 1;
}

/** The half-open probe: the health check, told to the breaker. Whether the origin answered well. */
async function probeWithHealthCheck(x: Exchange, path: string): Promise<boolean> {
  // The confirming deadline again: a probe that waits out a blackhole for the full timeout would
  // keep a healed origin away for that long on top of the open period.
  const result = await checkHealth(x.origin, path, healthCheckDeadline(x));
  x.health.record(result);
  x.health.probed(result);
  recordCheck(x, "probe", result);
  const now = x.clock.now();
  x.view.record(result.ok ? "success" : "failure", true, now);
  // The waiting client needs the verdict, not the object's acknowledgement of it.
  const report = x.view.background(x.link, now);
  if (report) x.ctx.waitUntil(report);
  return result.ok;
}

/** `counted`: the breaker already heard about this request (it was slow). */
function settle(x: Exchange, probe: boolean, result: OriginResult, counted: boolean): Promise<Response> | Response {
  x.record.originMs = result.ms;
  const now = x.clock.now();
  if (result.kind === "response" && !result.failure) {
    if (!counted) tellBreaker(x, "success", probe, now);
    if (!x.streaming) x.baselines.record(x.latency, result.ms);
    x.record.originStatus = result.response.status;
    return healthy(x, result, now);
  }
  // A long poll that outlives the timeout is the route's nature, not the origin failing.
  if (!counted && !(x.streaming && result.failure === "timeout")) tellBreaker(x, "failure", probe, now);
  x.record.failure = result.failure;
  if (result.kind === "response") {
    x.record.originStatus = result.response.status;
    return originFailed(x, "origin-5xx", result);
  }
  return originFailed(x, result.failure === "timeout" ? "origin-timeout" : "origin-unreachable", undefined);
}

/**
 * `answeredAt` is when the origin's headers arrived: a copy's age counts from then, not from when
 * its body ended. Only an answer the store needs is captured (no capture of its key within
 * LKG_REFRESH_MS); every other one streams straight to the client, untouched.
 */
function healthy(x: Exchange, result: OriginResult & { kind: "response" }, answeredAt: number): Response {
  const { policy } = x;
  const upstream = result.response;
  /** The key to capture this answer under, when the store needs it, and the headers its copy carries. */
  let capture: string | undefined;
  let headers: StoredHeaders | undefined;
  if (policy.lkg) {
    const verdict = responseVerdict(x.request.method, upstream, x.runtime.config, policy);
    if (!verdict.store) {
      x.record.store = `skip:${verdict.reason}`;
      x.runtime.store.skip(verdict.reason);
    } else {
      const admission = admit(x.runtime, policy.key, upstream.headers, answeredAt);
      if (!admission.capture) {
        x.record.store = admission.label;
        x.runtime.store.skip(admission.reason);
      } else {
        capture = policy.key;
        headers = admission.headers;
      }
    }
  }
  let response: Response;
  if (capture !== undefined && headers !== undefined) {
    const body = result.body(true);
    let toStore: ReadableStream<Uint8Array> | null = null;
    let toClient = body;
    if (body) [toClient, toStore] = body.tee();
    x.ctx.waitUntil(store(x, capture, upstream, headers, toStore, answeredAt));
    response = passOn(upstream, toClient);
    x.record.store = "stored";
  } else {
    response = passOn(upstream, result.body(false));
  }
  response.headers.set("cache-status", `${CACHE_NAME}; fwd=bypass; fwd-status=${response.status}${capture !== undefined ? "; stored" : ""}`);
  return response;
}

async function store(x: Exchange, key: string, response: Response, headers: StoredHeaders, body: ReadableStream<Uint8Array> | null, answeredAt: number): Promise<void> {
  const { config } = x.runtime;
  const captured = await captureBody(body, config.lkg.maxBodyBytes);
  if (!captured.ok) {
    x.runtime.store.skip(captured.reason);
    // Nothing was stored: the key's next answer is captured again, not skipped as fresh.
    x.runtime.activity.release(key);
    return;
  }
  const saved = await x.runtime.store.save(
    {
      key,
      status: response.status,
      headers: headers.list,
      nativeHeaders: headers.native,
      body: captured.body,
      storedAt: answeredAt,
      origin: x.origin.name,
    },
    x.clock.now(),
    x.runtime.activity.demand(key) >= config.lkg.sharedMinRequests,
  );
  // A key stored once refreshes without the new-key budget from now on.
  if (saved.length > 0) x.runtime.activity.markStored(key);
}

async function originFailed(x: Exchange, cause: StaleCause, origin: (OriginResult & { kind: "response" }) | undefined): Promise<Response> {
  const served = await fromStore(x, cause);
  if (served) {
    await origin?.response.body?.cancel();
    return served;
  }
  x.record.outcome = x.policy.lkg ? "no_lkg" : "origin_error";
  if (origin) {
    // The origin's own 5xx is the most honest answer when no copy can stand in for it.
    const passed = passOn(origin.response, origin.body(false));
    passed.headers.set("cache-status", `${CACHE_NAME}; fwd=uri-miss; fwd-status=${passed.status}; detail=no-lkg`);
    return passed;
  }
  const message = cause === "origin-timeout" ? `origin ${x.origin.name} did not answer in time` : `origin ${x.origin.name} could not be reached`;
  return unavailable(cause, retryAfterSeconds(x), message);
}

async function breakerOpen(x: Exchange, retryAfterMs: number): Promise<Response> {
  x.record.failure = "breaker_open" satisfies FailureClass;
  x.record.breaker = x.view.state.kind;
  const served = await fromStore(x, "breaker-open");
  if (served) return served;
  x.record.outcome = "no_lkg";
  return unavailable("breaker-open", Math.max(1, Math.ceil(retryAfterMs / 1000)), `circuit breaker for origin ${x.origin.name} is open`);
}

async function fromStore(x: Exchange, cause: StaleCause): Promise<Response | undefined> {
  if (!x.policy.lkg) return undefined;
  const maxAgeMs = x.runtime.config.lkg.maxAgeSeconds * 1000;
  const found = await x.runtime.store.lookup(x.policy.key, x.clock.now(), maxAgeMs, clientAcceptEncoding(x.request));
  if (!found.found) {
    x.record.lookup = found.expiredAgeMs === undefined ? "miss" : "expired";
    return undefined;
  }
  x.record.lookup = "hit";
  x.record.outcome = "lkg_served";
  x.record.tier = found.tier;
  x.record.staleAgeSeconds = found.ageMs / 1000;
  return fromEntry(found.entry, found.ageMs, cause, x.request.method);
}

/** When it is worth trying again: the rest of the open period, or a second when the breaker would let a request through. */
function retryAfterMs(x: Exchange): number {
  const decision = x.view.decide(x.clock.now());
  return decision.kind === "reject" ? decision.retryAfterMs : 1000;
}

/** After a failure the breaker may have just opened; tell the client when it is worth trying again. */
function retryAfterSeconds(x: Exchange): number {
  return Math.max(1, Math.ceil(retryAfterMs(x) / 1000));
}

/** Bookkeeping after the answer is ready: breaker reports and the metrics point, all off the client's path. */
function finish(x: Exchange, response: Response): void {
  const now = x.clock.now();
  x.record.status = response.status;
  x.record.latencyMs = Date.now() - x.startedWall;
  x.record.breaker = x.view.state.kind;
  const work = x.view.background(x.link, now);
  if (work) x.ctx.waitUntil(work);
  const healthPath = x.runtime.config.health.path;
  if (healthPath !== undefined && x.view.state.kind === "closed" && x.health.shouldLearn(now)) x.ctx.waitUntil(learnHealthLatency(x, healthPath));
  // writeDataPoint returns at once and never fails the request (emit): no waitUntil needed.
  emit(x.env.METRICS, requestPoint(x.record));
}
