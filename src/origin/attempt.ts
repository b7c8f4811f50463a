/**
 * One region, one try: the breaker's decision, the origin fetch under its deadline, and what the
 * breaker hears of it. It builds no answer for the client: the request handler decides between the
 * origin's answer, another region, the stored copy and a clean 5xx.
 */
import { clientProbeTurn, healthCheckDeadline, probeWithHealthCheck, tellBreaker } from "../breaker/evidence.ts";
import type { BreakerView } from "../breaker/view.ts";
import type { FailureClass } from "../metrics/schema.ts";
import type { RequestContext } from "../request/context.ts";
import { copyInHand } from "../request/fallback.ts";
import type { AttemptTrace } from "../request/record.ts";
import type { Region } from "../runtime.ts";
import { fetchOrigin, type OriginResult } from "./client.ts";

export type OriginResponse = OriginResult & { kind: "response" };

/** The origin is still working on a request the handler stopped waiting for. */
export interface InFlight {
  /** Its raw result: a late answer can still refresh the copy. */
  late: Promise<OriginResult>;
  /** Keep waiting for it (the slow case only): the try's final outcome, never slow again. */
  wait?: () => Promise<Attempt>;
}

export type Attempt =
  | { kind: "ok"; result: OriginResponse; answeredAt: number }
  /** `response`: the origin's own 5xx, to pass on when nothing better exists (its body not yet read). */
  | { kind: "failed"; cause: FailureClass; response?: OriginResponse; inFlight?: InFlight }
  /**
   * The breaker let nothing through. `probing`: this request won the half-open lease and the
   * health check is the probe; if nothing else answers, whether the origin is back (then try again
   * with `afterProbe`).
   */
  | { kind: "rejected"; retryAfterMs: number; probing?: Promise<boolean> };

/**
 * The client holds a copy and the origin passed the copy budget (ORIGIN_COPY_BUDGET_MS): no
 * failure. The try goes on; `judging` is its outcome exactly as if the client had waited (the
 * breaker hears it, slow counts as slow), for the handler to pass on or judge in the background.
 */
export interface OverBudget {
  kind: "over-budget";
  judging: Promise<Attempt>;
}

const SLOW = Symbol("slow");
const OPENED = Symbol("opened");
const OVER_BUDGET = Symbol("over-budget");

/** The shortest origin timeout of a client's request that is the probe. */
const CLIENT_PROBE_MIN_TIMEOUT_MS = 1000;

/**
 * `afterProbe`: the health check that was this request's probe passed; go straight to the origin
 * as an ordinary request.
 */
export async function attempt(x: RequestContext, region: Region, trace: AttemptTrace, afterProbe = false): Promise<Attempt | OverBudget> {
  const { view } = region;
  const { config } = x.runtime;
  let probe = false;
  if (!afterProbe) {
    const now = x.clock.now();
    const decision = view.decide(now);
    if (decision.kind === "reject") return rejected(trace, decision.retryAfterMs);
    if (decision.kind === "try-probe") {
      const verdict = await view.acquireProbe(now);
      if (verdict === "reject") return rejected(trace, retryAfterMs(view, x.clock.now()));
      const byCheck = config.health.path !== undefined && !clientProbeTurn(x.request, region);
      if (verdict === "probe" && byCheck) {
        // The worker's own health check is the probe. A client with a copy is answered from it at
        // once; one without waits for the check (its short deadline) rather than take a 503 from
        // an origin that may be back: if it is, this request goes on to it like any other.
        const probing = probeWithHealthCheck(x, region, config.health.path!);
        x.ctx.waitUntil(probing);
        return { ...rejected(trace, retryAfterMs(view, x.clock.now())), probing };
      }
      probe = verdict === "probe";
    }
  }
  trace.probe = probe;

  // One stall slows every route at once: it is counted once for the origin (claimSlow), however
  // many route classes had requests in flight.
  const latency = region.baselines.for(x.url.pathname);
  const sequence = region.baselines.origin.begin();
  const slowAfter = x.streaming ? undefined : region.baselines.slowAfter(latency, config.originSlow, config.originTimeoutMs);
  // The probe is what decides whether the breaker stays open; every other request stops waiting
  // on the origin the moment the breaker opens (rule 7: a fast answer, never the full timeout).
  let signal!: (why: typeof SLOW | typeof OPENED) => void;
  const signalled = new Promise<typeof SLOW | typeof OPENED>((resolve) => (signal = resolve));
  // A client's request as the probe (clientProbeTurn) is judged like the check it stands in for:
  // a short deadline, so a probe into a blackhole does not hold its client for the full timeout.
  const timeoutMs = probe && config.health.path !== undefined ? Math.min(config.originTimeoutMs, Math.max(CLIENT_PROBE_MIN_TIMEOUT_MS, healthCheckDeadline(x, region))) : config.originTimeoutMs;
  const slowBefore = slowAfter !== undefined && slowAfter < timeoutMs ? slowAfter : undefined;
  const budget = config.originCopyBudgetMs === undefined || !copyInHand(x) ? undefined : region.baselines.copyBudgetAfter(latency, config.originCopyBudgetMs, slowBefore, timeoutMs, x.clock.now());
  const overBudget = budget === undefined ? undefined : budgetSignal(budget);
  // The origin client's own timer says when the request is over budget or slow: one timer per request.
  const fetching = fetchOrigin(x.request, x.url, region.origin, timeoutMs, {
    budget: overBudget,
    slow: slowBefore === undefined ? undefined : { afterMs: slowBefore, signal: () => signal(SLOW) },
  });
  const unsubscribe = probe ? undefined : view.onOpen(() => signal(OPENED));
  const judging = judge(x, region, trace, probe, sequence, latency, fetching, signalled, unsubscribe);
  if (overBudget === undefined) return judging;
  const first = await Promise.race([judging, overBudget.reached]);
  return first === OVER_BUDGET ? { kind: "over-budget", judging } : first;
}

function budgetSignal(afterMs: number): { afterMs: number; signal: () => void; reached: Promise<typeof OVER_BUDGET> } {
  let signal!: () => void;
  const reached = new Promise<typeof OVER_BUDGET>((resolve) => (signal = () => resolve(OVER_BUDGET)));
  return { afterMs, signal, reached };
}

/**
 * The try's outcome as the client would see it if it waited: the origin's result, or slow, or the
 * breaker opening first. The same whether or not the client was answered from its copy meanwhile.
 */
async function judge(
  x: RequestContext,
  region: Region,
  trace: AttemptTrace,
  probe: boolean,
  sequence: number,
  latency: ReturnType<Region["baselines"]["for"]>,
  fetching: Promise<OriginResult>,
  signalled: Promise<typeof SLOW | typeof OPENED>,
  unsubscribe: (() => void) | undefined,
): Promise<Attempt> {
  const first = await Promise.race([fetching, signalled]);
  unsubscribe?.();
  if (first === OPENED) return released(trace, fetching);
  if (first === SLOW) return slow(x, region, trace, probe, sequence, latency, fetching);
  return settle(x, region, trace, probe, latency, first, false);
}

function rejected(trace: AttemptTrace, retryAfterMs: number): Attempt & { kind: "rejected" } {
  trace.failure = "breaker_open";
  return { kind: "rejected", retryAfterMs };
}

/** The breaker opened while this request waited on the origin; its late answer may still refresh the copy. */
function released(trace: AttemptTrace, fetching: Promise<OriginResult>): Attempt {
  trace.failure = "breaker_open";
  return { kind: "failed", cause: "breaker_open", inFlight: { late: fetching } };
}

/**
 * The origin is far slower than it has recently been: count a failure now (once per stall, see
 * LatencyTracker.claimSlow; a probe always counts). Once a failed health check vouches that the
 * origin itself is failing (TripGate.confirmed), every slow request counts: the stall rule guards
 * against one hiccup of the isolate counting fifty times, and the check has ruled that out. Without
 * that, a partition needed one slow deadline per failure to reach the threshold (5 x 68 ms past the
 * check for a 10 ms origin: a 460 ms detection in a region drill). The handler may answer
 * otherwise; if it waits, the breaker hears nothing more of this stall.
 */
function slow(x: RequestContext, region: Region, trace: AttemptTrace, probe: boolean, sequence: number, latency: ReturnType<Region["baselines"]["for"]>, fetching: Promise<OriginResult>): Attempt {
  const counted = probe || region.gate.confirmed(x.clock.now()) || region.baselines.origin.claimSlow(sequence);
  if (counted) tellBreaker(x, region, trace, "failure", probe, x.clock.now());
  trace.failure = "slow";
  const wait = async (): Promise<Attempt> => {
    const late = await waitForOrigin(fetching, probe ? undefined : region.view);
    if (late === OPENED) return released(trace, fetching);
    return settle(x, region, trace, probe, latency, late, counted);
  };
  return { kind: "failed", cause: "slow", inFlight: { late: fetching, wait } };
}

/** The origin's result, or OPENED once `view`'s breaker opened (no view: the result). */
async function waitForOrigin(work: Promise<OriginResult>, view: BreakerView | undefined): Promise<OriginResult | typeof OPENED> {
  if (view === undefined) return work;
  // Opened already (this very request's slowness may have been the failure that opened it): stop now.
  if (view.state.kind === "open") return OPENED;
  let unsubscribe: (() => void) | undefined;
  const opened = new Promise<typeof OPENED>((resolve) => (unsubscribe = view.onOpen(() => resolve(OPENED))));
  try {
    return await Promise.race([work, opened]);
  } finally {
    unsubscribe?.();
  }
}

/** `counted`: the breaker already heard about this request (it was slow). */
function settle(x: RequestContext, region: Region, trace: AttemptTrace, probe: boolean, latency: ReturnType<Region["baselines"]["for"]>, result: OriginResult, counted: boolean): Attempt {
  trace.originMs = result.ms;
  const now = x.clock.now();
  if (result.kind === "response" && !result.failure) {
    if (!counted) tellBreaker(x, region, trace, "success", probe, now);
    if (!x.streaming) region.baselines.record(latency, result.ms, now);
    trace.originStatus = result.response.status;
    return { kind: "ok", result, answeredAt: now };
  }
  // A long poll that outlives the timeout is the route's nature, not the origin failing.
  if (!counted && !(x.streaming && result.failure === "timeout")) tellBreaker(x, region, trace, "failure", probe, now);
  trace.failure = result.failure;
  if (result.kind === "response") {
    trace.originStatus = result.response.status;
    return { kind: "failed", cause: "http_5xx", response: result };
  }
  return { kind: "failed", cause: result.failure };
}

/** When it is worth trying again: the rest of the open period, or a second when the breaker would let a request through. */
export function retryAfterMs(view: BreakerView, now: number): number {
  const decision = view.decide(now);
  return decision.kind === "reject" ? decision.retryAfterMs : 1000;
}
