/** The request path: breaker decision, origin fetch, background LKG store, fallback answer, one metrics point. */
import { objectLink, type BreakerLink } from "./breaker/link.ts";
import type { BreakerView } from "./breaker/view.ts";
import type { Clock } from "./clock.ts";
import type { OriginRegion } from "./config.ts";
import type { Env } from "./env.ts";
import { captureBody } from "./lkg/capture.ts";
import { CACHE_NAME, fromEntry, unavailable, type StaleCause } from "./lkg/respond.ts";
import { requestPoint, type FailureClass, type RequestRecord } from "./metrics/schema.ts";
import { emit } from "./metrics/writer.ts";
import { fetchOrigin } from "./origin/client.ts";
import type { Runtime } from "./runtime.ts";
import { scrubbedHeaders } from "./scrub/headers.ts";
import { requestPolicy, responseVerdict, type RequestPolicy } from "./scrub/policy.ts";
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
  link: BreakerLink;
  policy: RequestPolicy;
  record: RequestRecord;
  started: number;
}

/** A request refused before reaching the origin still counts on the dashboard. */
export function recordRejected(request: Request, env: Env, ctx: ExecutionContext, runtime: Runtime, response: Response): void {
  const origin = runtime.config.origins[0]!;
  const point = requestPoint({
    ...baseRecord(request, origin.name, runtime.views.get(origin.name)!.state.kind, undefined),
    outcome: "rejected",
    status: response.status,
  });
  ctx.waitUntil(Promise.resolve().then(() => emit(env.METRICS, point)));
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
    link: objectLink(env.BREAKER, runtime.config.breaker.objectTimeoutMs),
    policy,
    started,
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
      const again = x.view.decide(x.clock.now());
      return breakerOpen(x, again.kind === "reject" ? again.retryAfterMs : 1000);
    }
    probe = verdict === "probe";
  }
  x.record.probe = probe;

  const result = await fetchOrigin(x.request, x.url, x.origin, x.runtime.config.originTimeoutMs, () => x.clock.now());
  x.record.originMs = result.ms;
  const now = x.clock.now();
  if (result.kind === "response" && !result.failure) {
    x.view.record("success", probe, now);
    x.record.originStatus = result.response.status;
    return healthy(x, result.response, now);
  }
  x.view.record("failure", probe, now);
  x.record.failure = result.failure;
  if (result.kind === "response") {
    x.record.originStatus = result.response.status;
    return originFailed(x, "origin-5xx", result.response);
  }
  return originFailed(x, result.failure === "timeout" ? "origin-timeout" : "origin-unreachable", undefined);
}

/** `answeredAt` is when the origin's headers arrived: a copy's age counts from then, not from when its body ended. */
function healthy(x: Exchange, response: Response, answeredAt: number): Response {
  const { policy } = x;
  let stored = false;
  if (policy.lkg) {
    const verdict = responseVerdict(x.request.method, response, x.runtime.config);
    if (verdict.store && response.body) {
      const [toClient, toStore] = response.body.tee();
      x.ctx.waitUntil(store(x, policy.key, response, toStore, answeredAt));
      response = new Response(toClient, response);
      stored = true;
    } else if (verdict.store) {
      x.ctx.waitUntil(store(x, policy.key, response, null, answeredAt));
      stored = true;
    } else {
      x.record.store = `skip:${verdict.reason}`;
      x.runtime.store.skip(verdict.reason);
    }
  }
  if (stored) x.record.store = "stored";
  response.headers.set("cache-status", `${CACHE_NAME}; fwd=bypass; fwd-status=${response.status}${stored ? "; stored" : ""}`);
  return response;
}

async function store(x: Exchange, key: string, response: Response, body: ReadableStream<Uint8Array> | null, answeredAt: number): Promise<void> {
  const { config } = x.runtime;
  const captured = await captureBody(body, config.lkg.maxBodyBytes);
  if (!captured.ok) {
    x.runtime.store.skip(captured.reason);
    return;
  }
  await x.runtime.store.save(
    {
      key,
      status: response.status,
      headers: scrubbedHeaders(response.headers, config.scrub),
      body: captured.body,
      storedAt: answeredAt,
      origin: x.origin.name,
    },
    x.clock.now(),
  );
}

async function originFailed(x: Exchange, cause: StaleCause, originResponse: Response | undefined): Promise<Response> {
  const served = await fromStore(x, cause);
  if (served) {
    await originResponse?.body?.cancel();
    return served;
  }
  x.record.outcome = x.policy.lkg ? "no_lkg" : "origin_error";
  if (originResponse) {
    // The origin's own 5xx is the most honest answer when no copy can stand in for it.
    const passed = new Response(originResponse.body, originResponse);
    passed.headers.set("cache-status", `${CACHE_NAME}; fwd=uri-miss; fwd-status=${originResponse.status}; detail=no-lkg`);
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
  const found = await x.runtime.store.lookup(x.policy.key, x.clock.now(), maxAgeMs);
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

/** After a failure the breaker may have just opened; tell the client when it is worth trying again. */
function retryAfterSeconds(x: Exchange): number {
  const decision = x.view.decide(x.clock.now());
  return decision.kind === "reject" ? Math.max(1, Math.ceil(decision.retryAfterMs / 1000)) : 1;
}

/** Bookkeeping after the answer is ready: breaker reports and the metrics point, all off the client's path. */
function finish(x: Exchange, response: Response): void {
  const now = x.clock.now();
  x.record.status = response.status;
  x.record.latencyMs = now - x.started;
  x.record.breaker = x.view.state.kind;
  const work = x.view.background(x.link, now);
  if (work) x.ctx.waitUntil(work);
  const point = requestPoint(x.record);
  x.ctx.waitUntil(Promise.resolve().then(() => emit(x.env.METRICS, point)));
}
