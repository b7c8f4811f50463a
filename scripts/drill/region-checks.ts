/**
 * The multi-region drills' targets (issue 10: drills A, B and E), each computed from raw results
 * (x-edge-region on every answer, the assignment each sticky client sent), the worker's data
 * points (request points' region columns, routing points) and what the drill itself did (admin
 * actions with their answers, the moment each fault was applied).
 */
import { DETECTION_LIMIT_MS, OVER_BUDGET_DETAIL, openIntervals, WARMUP_MS, type CounterSample, type DataPoint, type DrillData, type RegionRun } from "./judge/data.ts";
import { requestRouting, routingChanges, type RequestRouting, type RoutingChange } from "./region-points.ts";
import { clean, hardDown, healthy, isMultiRegion, normalShares, phaseRegions, type PhaseRegions } from "./regions.ts";
import { fmtMs, maxOf, pct, percentile } from "./stats.ts";
import { HOSTILE_USER, type Plan, type RegionSpec, type RequestResult, type TargetResult } from "./types.ts";

/** Evacuation: from the admin decision to < 1 % of new requests reaching the region. */
const EVACUATION_LIMIT_MS = 2000;
const STICKY_MIN_SHARE = 0.99;
const RAMP_SHARE_POINTS = 5;
const RAMP_DWELL_TOLERANCE = 0.1;
const WINDOW_MS = 1000;
const MAX_SHARE = 0.01;
/** Requests this close to a ramp step's edges belong to neither step. */
const STEP_EDGE_MS = 250;
const MIN_STEP_REQUESTS = 50;
/** After a region's hard outage ends, it is usable again only once hysteresis lets it return (and 2 s for its successes and the views). */
const RETURN_GRACE_MS = 2000;
/** The routing changes that flapping is about: the isolates' and object's own decisions, not an operator's or the planned ramp steps. */
const FLAP_ACTIONS = new Set(["left", "returned", "ramp_abort", "leader"]);

interface Ctx {
  d: DrillData;
  plan: Plan & { regions: RegionSpec[] };
  run: RegionRun;
  phases: PhaseRegions[];
  /** The users' requests that were sent (hostile clients and unsent requests aside). */
  sent: RequestResult[];
  end: number;
}

export function regionTargets(d: DrillData): TargetResult[] {
  const plan = d.plan;
  if (!isMultiRegion(plan) || !d.regionRun) return [];
  const ctx: Ctx = {
    d,
    plan,
    run: d.regionRun,
    phases: phaseRegions(plan, d.bounds),
    sent: d.results.filter((r) => r.user !== HOSTILE_USER && r.error !== "unsent"),
    end: d.bounds[d.bounds.length - 1]!,
  };
  // Once per run: the blackhole target judges each cutover, and the per-region p95 leaves its reads out.
  const routed = routedRequests(ctx);
  const cuts = cutovers(ctx, routed);
  const targets = [adminAnswered(ctx), ...evacuation(ctx), ...blackhole(cuts, routed), failedReads(ctx), readFiveXx(ctx), p95PerRegion(ctx, cuts)];
  const inFaults = faultReadLatency(ctx, cuts);
  if (inFaults) targets.push(inFaults);
  targets.push(flapping(ctx));
  const sticky = stickiness(ctx);
  if (sticky) targets.push(sticky);
  targets.push(...ramps(ctx), ...onlyProbesWhileOpen(ctx), ...routingObject(ctx));
  return targets;
}

/**
 * The delay from `from` until every full window (one starting at each event) that ends by `to`
 * has less than `maxShare` bad events: the time of the first event after the last dirty window's
 * start. Infinity when the last full window is still dirty; undefined when no window fits.
 */
export function cutoverDelay(events: { t: number; bad: boolean }[], from: number, to: number, windowMs = WINDOW_MS, maxShare = MAX_SHARE): number | undefined {
  const ev = events.filter((e) => e.t >= from && e.t < to).sort((a, b) => a.t - b.t);
  const badBefore = [0];
  for (const e of ev) badBefore.push(badBefore[badBefore.length - 1]! + (e.bad ? 1 : 0));
  let j = 0;
  let lastFull = -1;
  let lastDirty = -1;
  for (let i = 0; i < ev.length && ev[i]!.t + windowMs <= to; i++) {
    if (j < i) j = i;
    while (j < ev.length && ev[j]!.t < ev[i]!.t + windowMs) j++;
    lastFull = i;
    const bad = badBefore[j]! - badBefore[i]!;
    if (bad > 0 && bad >= maxShare * (j - i)) lastDirty = i;
  }
  if (lastFull < 0) return undefined;
  if (lastDirty < 0) return 0;
  if (lastDirty === lastFull) return Infinity;
  return ev[lastDirty + 1]!.t - from;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const delayText = (ms: number | undefined) => (ms === undefined ? "no full 1 s window" : Number.isFinite(ms) ? `${Math.round(ms)} ms` : "never");

function phaseAt(ctx: Ctx, t: number): PhaseRegions {
  return ctx.phases.find((p) => t >= p.from && t < p.to) ?? ctx.phases[ctx.phases.length - 1]!;
}

function adminAnswered(ctx: Ctx): TargetResult {
  const actions = ctx.run.actions;
  const refused = actions.filter((a) => a.status !== 200);
  const list = actions.map((a) => `${a.action} ${a.region} at ${seconds(a.sentAt - ctx.d.startedAt)}: ${a.status || "no answer"} in ${Math.round(a.answeredAt - a.sentAt)} ms`);
  return {
    name: "admin region actions answered 200",
    target: "every action the plan sends is taken (200)",
    measured: actions.length ? `${list.join("; ")}${refused.length ? `; refused: ${refused.map((a) => `${a.action} ${a.region}: ${a.detail}`).join("; ")}` : ""}` : "the plan sends none",
    pass: refused.length === 0,
  };
}

/** A: every evacuation, from the admin decision to < 1 % of new requests reaching the region (sliding 1 s windows). */
function evacuation(ctx: Ctx): TargetResult[] {
  const evacs = ctx.run.actions.filter((a) => a.action === "evacuate");
  if (evacs.length === 0) return [];
  const parts: string[] = [];
  let ok = true;
  for (const a of evacs) {
    if (a.status !== 200) {
      parts.push(`${a.region}: refused (${a.status || "no answer"})`);
      ok = false;
      continue;
    }
    const decided = (a.decidedAt !== undefined && a.decidedAt >= a.sentAt - 1000 && a.decidedAt <= a.answeredAt + 1000 ? a.decidedAt : a.sentAt) - ctx.d.startedAt;
    const next = ctx.run.actions.find((b) => b.region === a.region && b.action !== "evacuate" && b.sentAt > a.sentAt && b.status === 200);
    const until = next ? next.sentAt - ctx.d.startedAt : ctx.end;
    // Clients stuck to another region could never reach this one: they would only thin the share.
    const events = ctx.sent.filter((r) => r.write === undefined && !(r.stuckTo !== undefined && r.stuckTo !== a.region)).map((r) => ({ t: r.intendedAt, bad: r.region === a.region }));
    const before = events.filter((e) => e.t >= decided - 1000 && e.t < decided);
    const beforeShare = before.length ? before.filter((e) => e.bad).length / before.length : 0;
    const delay = cutoverDelay(events, decided, until);
    parts.push(`${a.region} at ${seconds(decided)}: ${delayText(delay)} (it carried ${pct(beforeShare)} of requests in the second before)`);
    if (!(delay !== undefined && delay <= EVACUATION_LIMIT_MS)) ok = false;
  }
  return [
    {
      name: "evacuation: decision to < 1 % of new requests on the region",
      target: `<= ${EVACUATION_LIMIT_MS} ms (sliding 1 s windows of new requests, clients stuck to other regions aside; the seed allows 30 s)`,
      measured: parts.join("; "),
      pass: ok,
      latency: true,
    },
  ];
}

interface Outage {
  region: string;
  phase: number;
  /** Ms since the load started. */
  onset: number;
  until: number;
  survivors: string[];
}

/** B's hard outages: a region that carried traffic goes hard down while another active region is up. */
function outages(ctx: Ctx): Outage[] {
  const out: Outage[] = [];
  ctx.phases.forEach((p, i) => {
    for (const region of ctx.plan.regions.map((r) => r.name)) {
      const s = p.regions[region]!;
      if (!hardDown(s.fault) || (i > 0 && hardDown(ctx.phases[i - 1]!.regions[region]!.fault)) || s.admin === "evacuated") continue;
      const survivors = ctx.plan.regions.map((r) => r.name).filter((n) => n !== region && p.regions[n]!.admin !== "evacuated" && !hardDown(p.regions[n]!.fault));
      if (survivors.length === 0) continue;
      let last = i;
      while (last + 1 < ctx.phases.length && hardDown(ctx.phases[last + 1]!.regions[region]!.fault)) last++;
      const applied = ctx.run.faults.find((f) => f.phase === i && f.region === region);
      out.push({ region, phase: i, onset: applied ? applied.appliedAt - ctx.d.startedAt : p.from, until: ctx.phases[last]!.to, survivors });
    }
  });
  return out;
}


/**
 * Each hard outage's cutover, as spans of intended send (ms since the load started): from
 * STEP_EDGE_MS before its onset (requests then in flight to it) to the cutover's end (its measured
 * delay, or DETECTION_LIMIT_MS when it was not measured or took longer). A read sent then that a
 * survivor answered may have waited for the failed region first (failed over, or sent at the
 * survivor as the breaker opened): its latency is the outage's, which the blackhole target judges,
 * not the survivor's speed, so the survivor's p95 leaves these spans out.
 */
function cutoverSpans(cuts: Cutover[]): { region: string; from: number; to: number }[] {
  return cuts.map(({ outage, delay }) => ({
    region: outage.region,
    from: outage.onset - STEP_EDGE_MS,
    to: outage.onset + (delay !== undefined && delay <= DETECTION_LIMIT_MS ? delay : DETECTION_LIMIT_MS),
  }));
}

/** A hard outage with its cutover: the delay until the worker's own choice puts requests on a survivor, and how many failed over from it meanwhile. */
interface Cutover {
  outage: Outage;
  delay: number | undefined;
  failedOver: number;
}

/** The users' requests as the worker routed them (its request points, probes aside). */
function routedRequests(ctx: Ctx): RequestRouting[] {
  return ctx.d.points.map(requestRouting).filter((r): r is RequestRouting => r !== undefined && !r.probe);
}

/** Each hard outage's cutover, judged on the routed requests. */
function cutovers(ctx: Ctx, routed: RequestRouting[]): Cutover[] {
  return outages(ctx).map((o) => {
    // The survivors of each phase: a region restored during the outage is one from then on.
    const survivorsAt = (t: number) => {
      const p = phaseAt(ctx, t);
      return ctx.plan.regions.map((g) => g.name).filter((n) => n !== o.region && p.regions[n]!.admin !== "evacuated" && !hardDown(p.regions[n]!.fault));
    };
    const events = routed.map((r) => {
      const t = r.startedAt - ctx.d.startedAt;
      // Routing is judged, not the survivor's own speed: a copy served because the survivor was slow still went there first.
      return { t, bad: !(survivorsAt(t).includes(r.firstTried) && r.failedOverFrom === "") };
    });
    const delay = cutoverDelay(events, o.onset, o.until);
    const failedOver = routed.filter((r) => r.failedOverFrom === o.region && r.startedAt - ctx.d.startedAt >= o.onset && r.startedAt - ctx.d.startedAt < o.until).length;
    return { outage: o, delay, failedOver };
  });
}

/** B: from the partition's onset until the worker's own choice puts requests on a survivor (no failover needed). */
function blackhole(list: Cutover[], routed: RequestRouting[]): TargetResult[] {
  if (list.length === 0) return [];
  const parts: string[] = [];
  let ok = true;
  for (const { outage: o, delay, failedOver } of list) {
    parts.push(`${o.region} at ${seconds(o.onset)} -> ${o.survivors.join(", ")}: ${delayText(delay)} (${failedOver} requests failed over from it)`);
    if (!(delay !== undefined && delay <= DETECTION_LIMIT_MS)) ok = false;
  }
  return [
    {
      name: "blackhole: partition onset to traffic on the survivor",
      target: `<= ${DETECTION_LIMIT_MS} ms until >= 99 % of requests (sliding 1 s windows, request points) go to a survivor first, without a failover`,
      measured: routed.length ? parts.join("; ") : "no request point carries the region columns (blob14-16): the worker wrote none",
      pass: ok && routed.length > 0,
      latency: true,
    },
  ];
}

const isRead = (r: RequestResult) => r.method === "GET" || r.method === "HEAD";

/** A read is served when it got 2xx/3xx (an LKG copy included) or a 4xx the origin itself sent. */
function readServed(r: RequestResult): boolean {
  if (r.status >= 200 && r.status < 400) return true;
  return r.status >= 400 && r.status < 500 && /fwd-status=4\d\d/.test(r.cacheStatus);
}

function failedReads(ctx: Ctx): TargetResult {
  const whileHealthy = ctx.sent.filter((r) => isRead(r) && ctx.plan.regions.some((g) => {
    const s = phaseAt(ctx, r.intendedAt).regions[g.name]!;
    return s.admin !== "evacuated" && healthy(s.fault);
  }));
  const failed = whileHealthy.filter((r) => !readServed(r));
  const examples = failed.slice(0, 3).map((r) => `${r.key} at ${seconds(r.intendedAt)}: ${r.status || r.error}`);
  return {
    name: "zero failed reads while a region is healthy",
    target: "every read answered 2xx/3xx, a 4xx the origin sent, or an LKG copy",
    measured: `${failed.length} failed of ${whileHealthy.length} reads${examples.length ? ` (${examples.join("; ")})` : ""}`,
    pass: failed.length === 0 && whileHealthy.length > 0,
  };
}

function readFiveXx(ctx: Ctx): TargetResult {
  const reads = ctx.sent.filter(isRead);
  const bad = reads.filter((r) => r.status >= 500);
  return {
    name: "no read answered 5xx",
    target: "0 reads with a 5xx, in the whole run (the seed allows 60 s bursts)",
    measured: `${bad.length} of ${reads.length} reads${bad.length ? ` (first at ${seconds(bad[0]!.intendedAt)}: ${bad[0]!.status})` : ""}`,
    pass: bad.length === 0,
  };
}

/** Answers a region must have served in the baseline (after its warm-up) for a p95 of its own; the pins send about 100. */
const MIN_BASELINE = 50;

/**
 * The runbook's "p95 latency within 25 percent of pre-incident baseline for served markets", per
 * region: the p95 of the reads each region served outside its own faults, pooled over the run,
 * against the p95 of what it served in the baseline (every region serves one: the drill's pinned
 * baseline clients). Nothing widened, nothing set aside: reads sent in another region's cutover
 * waited for the failed region first, so they are judged by their own p99 from send against the
 * detection bound (faultReadLatency) and counted here.
 */
function p95PerRegion(ctx: Ctx, cuts: Cutover[]): TargetResult {
  const baseIndex = ctx.plan.phases.findIndex((p) => p.baseline);
  // Reads: writes go to the writer and pay for the ledger; they have their own targets.
  const reads = ctx.sent.filter((r) => r.write === undefined && isRead(r));
  const spans = cutoverSpans(cuts);
  const parts: string[] = [];
  let ok = true;
  for (const { name } of ctx.plan.regions) {
    const base = reads.filter((r) => r.region === name && r.phase === baseIndex && r.intendedAt >= WARMUP_MS).map((r) => r.latencyMs);
    const outside = reads.filter((r) => r.region === name && r.phase !== baseIndex && clean(ctx.phases[r.phase]!.regions[name]!.fault));
    const inCutover = (r: RequestResult) => spans.some((c) => c.region !== name && r.intendedAt >= c.from && r.intendedAt < c.to);
    const served = outside.filter((r) => !inCutover(r)).map((r) => r.latencyMs);
    const cutoverText = served.length < outside.length ? `; ${outside.length - served.length} sent in another region's cutover, judged by their p99 from send` : "";
    if (served.length === 0) {
      parts.push(`${name}: served no read outside its faults${cutoverText}`);
      continue;
    }
    if (base.length < MIN_BASELINE) {
      ok = false;
      parts.push(`${name}: ${served.length} reads served but only ${base.length} in the baseline (fewer than ${MIN_BASELINE}): no baseline to judge them by${cutoverText}`);
      continue;
    }
    const p95 = percentile(served, 95);
    const baseP95 = percentile(base, 95);
    const pass = p95 <= 1.25 * baseP95;
    if (!pass) ok = false;
    parts.push(`${name}: ${fmtMs(p95)} vs ${fmtMs(baseP95)} (x${(p95 / baseP95).toFixed(2)}) over ${served.length} reads, baseline ${base.length}${cutoverText}${pass ? "" : ": fail"}`);
  }
  return {
    name: "p95 of served requests vs baseline, per region",
    target: "<= 1.25 x the region's own baseline p95, over the reads it served outside its own faults, pooled (nothing widened or set aside)",
    measured: parts.join("; "),
    pass: ok,
    latency: true,
    relative: true,
  };
}

/**
 * The latency from send of every read in the faults (fault phases, and the 250 ms before each
 * onset: reads then in flight met the fault): a read waits for a failing region at most until it
 * is detected, then goes to a survivor or the copy. Judged against the detection bound.
 */
function faultReadLatency(ctx: Ctx, cuts: Cutover[]): TargetResult | undefined {
  const onsets = ctx.run.faults.filter((f) => ctx.plan.phases[f.phase]!.fault).map((f) => f.appliedAt - ctx.d.startedAt);
  if (onsets.length === 0) return undefined;
  const reads = ctx.sent.filter((r) => r.write === undefined && isRead(r));
  const inFault = reads.filter((r) => ctx.plan.phases[r.phase]!.fault || onsets.some((t) => r.intendedAt >= t - STEP_EDGE_MS && r.intendedAt < t));
  const p99 = percentile(inFault.map((r) => r.latencyMs), 99);
  const spans = cutoverSpans(cuts);
  const cutover = reads.filter((r) => spans.some((c) => r.intendedAt >= c.from && r.intendedAt < c.to)).map((r) => r.latencyMs);
  const cutoverText = cutover.length ? `; the ${cutover.length} sent in a cutover: p99 ${fmtMs(percentile(cutover, 99))}, max ${fmtMs(maxOf(cutover))}` : "";
  return {
    name: "p99 from send of reads in the faults",
    target: `<= ${DETECTION_LIMIT_MS} ms (the detection bound) over every read sent in a fault phase or in the ${STEP_EDGE_MS} ms before a fault's onset, timed from its intended send`,
    measured: `${fmtMs(p99)} over ${inFault.length} reads${cutoverText}`,
    pass: p99 <= DETECTION_LIMIT_MS,
    latency: true,
  };
}

/** No region changes more than once per hysteresis_s, by each decider (the isolates, the object). */
function flapping(ctx: Ctx): TargetResult {
  const changes = routingChanges(ctx.d.points).filter((c) => FLAP_ACTIONS.has(c.action));
  const byKey = new Map<string, RoutingChange[]>();
  for (const c of changes) byKey.set(`${c.region} (${c.source})`, [...(byKey.get(`${c.region} (${c.source})`) ?? []), c]);
  const flaps: string[] = [];
  for (const [key, list] of byKey) {
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.at - list[i - 1]!.at;
      if (gap < ctx.run.routing.hysteresisMs) flaps.push(`${key}: ${list[i - 1]!.action} then ${list[i]!.action} ${Math.round(gap)} ms apart ("${list[i]!.reason}")`);
    }
  }
  const summary = [...byKey].map(([key, list]) => `${key} ${list.map((c) => c.action).join(", ")}`).join("; ");
  return {
    name: "no flapping",
    target: `at most one routing change (left, returned, ramp_abort, leader) per region per hysteresis_s (${ctx.run.routing.hysteresisMs / 1000} s)`,
    measured: `${flaps.length} flaps${flaps.length ? `: ${flaps.slice(0, 3).join("; ")}` : ""}; changes: ${summary || "none"}`,
    pass: flaps.length === 0,
  };
}

/**
 * Whether a sticky client of `region` should stay there at `t` (ms): active or draining, not
 * shedding, answering every request (slow is fine; a region failing a share of them may rightly
 * fail some over, and a failover is no lost affinity), and back long enough after an outage.
 */
function usableForSticky(ctx: Ctx, region: string, t: number): boolean {
  const p = phaseAt(ctx, t);
  const s = p.regions[region];
  if (!s || s.admin === "evacuated" || s.shedPercent > 0 || !healthy(s.fault)) return false;
  // A region back from an outage returns only after `up` successes and hysteresis_s.
  for (let i = p.phase; i >= 1; i--) {
    if (hardDown(ctx.phases[i - 1]!.regions[region]!.fault) && !hardDown(ctx.phases[i]!.regions[region]!.fault)) {
      return t - ctx.phases[i]!.from >= ctx.run.routing.hysteresisMs + RETURN_GRACE_MS;
    }
  }
  return true;
}

function stickiness(ctx: Ctx): TargetResult | undefined {
  if (!ctx.d.plan.mix.sticky) return undefined;
  const usable = ctx.sent.filter((r) => r.client !== undefined && r.stuckTo !== undefined && usableForSticky(ctx, r.stuckTo, r.intendedAt));
  // A copy served at the copy budget says no region answered in time, not where the request was sent: left out, counted.
  const overBudget = usable.filter((r) => r.cacheStatus.includes(OVER_BUDGET_DETAIL));
  const judged = usable.filter((r) => !overBudget.includes(r));
  const stayed = judged.filter((r) => r.region === r.stuckTo);
  const moved = judged.filter((r) => r.region !== r.stuckTo);
  const share = judged.length ? stayed.length / judged.length : 0;
  return {
    name: "sticky clients stay on their region",
    target: `>= ${pct(STICKY_MIN_SHARE, 0)} of a sticky client's requests answered by its region while that region is usable (active or draining, not shedding, answering every request, back for hysteresis_s + 2 s after an outage); copies served at the copy budget left out and counted`,
    measured: `${pct(share, 2)} (${stayed.length} of ${judged.length}; ${overBudget.length} answered from a copy at the budget${moved.length ? `; first moved: ${moved[0]!.client} stuck to ${moved[0]!.stuckTo} answered by ${moved[0]!.region || "no region"} (${moved[0]!.cacheStatus}) at ${seconds(moved[0]!.intendedAt)}` : ""})`,
    pass: judged.length > 0 && share >= STICKY_MIN_SHARE,
  };
}

export interface RampWindow {
  region: string;
  percent: number;
  step: number;
  from: number;
  to: number;
  /** The 100 % window after the ramp finished. */
  done: boolean;
  /** How the window ended: the next step, an abort, another change, or the end of the run. */
  endedBy: "step" | "abort" | "change" | "end";
  /**
   * A return within hysteresis_s of leaving starts its ramp only when the dwell ends, and the
   * point does not say exactly when: the first step is then judged over its last step_dwell_s only.
   */
  delayed?: boolean;
}

/** The ramp steps of each region, from its routing points (ms since the load started). */
export function rampWindows(changes: RoutingChange[], startedAt: number, end: number, gradualWeights: number[], stepDwellMs: number): { windows: RampWindow[]; aborts: RoutingChange[] } {
  const windows: RampWindow[] = [];
  const aborts: RoutingChange[] = [];
  const open = new Map<string, Omit<RampWindow, "to" | "endedBy">>();
  const close = (region: string, at: number, endedBy: RampWindow["endedBy"]) => {
    const w = open.get(region);
    if (w) windows.push({ ...w, ...(w.delayed && endedBy === "step" ? { from: Math.max(w.from, at - stepDwellMs) } : {}), to: at, endedBy });
    open.delete(region);
  };
  for (const c of changes) {
    const at = c.at - startedAt;
    const cur = open.get(c.region);
    if (c.action === "restore" || c.action === "returned") {
      if (!cur || cur.done) {
        close(c.region, at, "change");
        const delayed = c.action === "returned" && /ramp starts in/.test(c.reason);
        open.set(c.region, { region: c.region, percent: gradualWeights[0] ?? 100, step: 0, from: at, done: (gradualWeights[0] ?? 100) >= 100, ...(delayed ? { delayed } : {}) });
      }
    } else if (c.action === "ramp_step") {
      // The same step reported again (by the object after an isolate, say) is one step.
      if (cur && !cur.done && c.step === cur.step) continue;
      close(c.region, at, "step");
      open.set(c.region, { region: c.region, percent: c.percent, step: c.step, from: at, done: c.percent >= 100 });
    } else if (c.action === "ramp_done") {
      if (cur?.done) continue;
      close(c.region, at, "step");
      open.set(c.region, { region: c.region, percent: 100, step: gradualWeights.length - 1, from: at, done: true });
    } else if (c.action === "ramp_abort") {
      close(c.region, at, "abort");
      aborts.push(c);
    } else if (c.action === "evacuate" || c.action === "drain" || c.action === "left" || c.action === "shed") {
      close(c.region, at, "change");
    } else if (c.action === "leader") {
      // latency mode: the leader decides every region's full share, so a new leader ends every window.
      for (const region of open.keys()) close(region, at, "change");
    }
  }
  for (const region of open.keys()) close(region, end, "end");
  return { windows: windows.sort((a, b) => a.from - b.from), aborts };
}

/** E: each ramp step's share of new sessions (non-sticky answers) against its weight, and each step's dwell. */
function ramps(ctx: Ctx): TargetResult[] {
  const { windows, aborts } = rampWindows(routingChanges(ctx.d.points), ctx.d.startedAt, ctx.end, ctx.run.routing.gradualWeights, ctx.run.routing.stepDwellMs);
  const restores = ctx.run.actions.filter((a) => a.action === "restore" && a.status === 200);
  if (windows.length === 0 && restores.length === 0) return [];
  const shareOf = stepShares(ctx);
  const shares = windows.map(shareOf);
  const dwells = windows.map((w) => stepDwell(ctx, w)).filter((x): x is { text: string; ok: boolean } => x !== undefined);
  const neverRamped = restores
    .filter((a) => !windows.some((w) => w.region === a.region && w.from >= a.sentAt - ctx.d.startedAt - 1000))
    .map((a) => ({ text: `${a.region}: restored at ${seconds(a.sentAt - ctx.d.startedAt)} but no ramp step followed`, ok: false }));
  const abortParts = aborts.map((a) => ({ text: `${a.region} aborted at ${seconds(a.at - ctx.d.startedAt)}: "${a.reason}"`, ok: false }));
  const shareParts = [...neverRamped, ...shares, ...abortParts];
  return [
    {
      name: "return-to-home: each step's share of new sessions",
      target: `within ±${RAMP_SHARE_POINTS} points of step weight x the region's full share (x-edge-region over non-sticky answers, step windows from the routing points); no abort`,
      measured: shareParts.map((x) => x.text).join("; ") || "no ramp",
      pass: shareParts.every((x) => x.ok),
    },
    {
      name: "return-to-home: each step's dwell",
      target: `step_dwell_s (${ctx.run.routing.stepDwellMs / 1000} s) ±${RAMP_DWELL_TOLERANCE * 100} %, and the ramp reaches 100 % within the run`,
      measured: dwells.map((x) => x.text).join("; ") || "no step",
      pass: dwells.every((x) => x.ok) && windows.length > 0,
      latency: true,
    },
  ];
}

/** Each ramp window's share of new sessions against its weight x the region's full share. */
function stepShares(ctx: Ctx): (w: RampWindow) => { text: string; ok: boolean } {
  // Reads only: a write goes to the writer region, not by the choice whose shares this judges.
  const fresh = ctx.sent.filter((r) => r.client === undefined && r.region !== "" && r.write === undefined);
  // The leader's timeline (latency mode): the home region (the Router's first leader), then each `leader` point.
  const leaders = routingChanges(ctx.d.points).filter((c) => c.action === "leader");
  const firstLeader = (ctx.plan.regions.find((r) => r.home === true) ?? ctx.plan.regions[0])?.name;
  const leaderAt = (t: number) => leaders.filter((c) => c.at - ctx.d.startedAt <= t).at(-1)?.region ?? firstLeader;
  return (w) => {
    // Judged within the phase the window began in: a later phase changes the others' states (another
    // region restored), and with them the region's full share.
    const to = Math.min(w.to, phaseAt(ctx, w.from).to);
    const inside = fresh.filter((r) => r.intendedAt >= w.from + STEP_EDGE_MS && r.intendedAt < to - STEP_EDGE_MS);
    const n = inside.length;
    const share = n ? inside.filter((r) => r.region === w.region).length / n : 0;
    const normal = normalShares(ctx.plan.regions, phaseAt(ctx, w.from).regions, ctx.run.routing.mode);
    // latency mode: the leader takes every new session, so a region's full share is 1 while it leads and 0 otherwise.
    const full = normal?.[w.region] ?? (leaderAt(w.from) === w.region ? 1 : 0);
    const label = `${w.region} ${w.percent} %${w.done ? " (done)" : ""} at ${seconds(w.from)}`;
    // A whole step must carry enough requests to show its share; a window cut short by another change need not.
    if (n < MIN_STEP_REQUESTS) return { text: `${label}: ${n} requests, too few to judge`, ok: w.endedBy !== "step" };
    const expected = (w.percent / 100) * full;
    return { text: `${label}: ${pct(share)} vs ${pct(expected)} over ${n}`, ok: Math.abs(share - expected) * 100 <= RAMP_SHARE_POINTS };
  };
}

/** A step's dwell against step_dwell_s; undefined for the last window (the ramp done). */
function stepDwell(ctx: Ctx, w: RampWindow): { text: string; ok: boolean } | undefined {
  if (w.done) return undefined;
  const lasted = w.to - w.from;
  if (w.delayed) return { text: `${w.region} ${w.percent} %: not judged (its start waited for hysteresis_s)`, ok: true };
  if (w.endedBy === "step") {
    const ok = Math.abs(lasted - ctx.run.routing.stepDwellMs) <= RAMP_DWELL_TOLERANCE * ctx.run.routing.stepDwellMs;
    return { text: `${w.region} ${w.percent} %: ${seconds(lasted)}`, ok };
  }
  const by = w.endedBy === "end" ? "the run's end" : w.endedBy === "abort" ? "an abort" : "another change";
  return { text: `${w.region} ${w.percent} %: ended by ${by} after ${seconds(lasted)}`, ok: w.endedBy !== "end" };
}

/** The breaker's promise per region: while a region's breaker is open, its origin gets only probes. */
function onlyProbesWhileOpen(ctx: Ctx): TargetResult[] {
  const parts: string[] = [];
  let ok = true;
  for (const { name } of ctx.plan.regions) {
    const mine = ctx.d.points.filter((p) => p.indexes?.[0] === name);
    const intervals = openIntervals(mine, ctx.d.startedAt + ctx.end);
    if (intervals.length === 0) continue;
    const probes = mine.filter((p) => (p.blobs?.[0] === "request" && p.blobs?.[11] === "probe") || (p.blobs?.[0] === "health_check" && p.blobs?.[1] === "probe"));
    const sentAt = (p: DataPoint) => p.timestamp - (p.doubles?.[0] ?? 0);
    let origin = 0;
    let probed = 0;
    for (const iv of intervals) {
      for (let s = Math.ceil(iv.from / 1000) + 1; (s + 1) * 1000 <= iv.to; s++) {
        origin += ctx.d.originPerSecond[name]?.[String(s)] ?? 0;
        probed += probes.filter((p) => sentAt(p) >= s * 1000 && sentAt(p) < (s + 1) * 1000).length;
      }
    }
    parts.push(`${name}: ${origin} origin requests, ${probed} probes in ${intervals.length} open interval(s)`);
    if (origin > probed) ok = false;
  }
  return [
    {
      name: "while a region's breaker is open, its origin gets only probes",
      target: "per region: origin requests <= probes sent",
      measured: parts.join("; ") || "no breaker opened",
      pass: ok,
    },
  ];
}


/** The fleet routing object: a healthy request never calls it; isolates re-read it about once per ROUTING_SYNC_MS. */
function routingObject(ctx: Ctx): TargetResult[] {
  const samples = ctx.d.counters;
  const last = samples[samples.length - 1]?.counters ?? {};
  if (last["routingCalls"] === undefined) {
    return [{ name: "routing object calls while healthy", target: "counted by the drill's tap", measured: "no ROUTING_OBJECT binding was counted: the worker has no fleet routing object", pass: false }];
  }
  const baseIndex = ctx.d.plan.phases.findIndex((p) => p.baseline);
  const from = ctx.d.startedAt + ctx.d.bounds[baseIndex]! + 1000;
  const to = ctx.d.startedAt + ctx.d.bounds[baseIndex + 1]!;
  const rate = callsPerSecond(samples, from, to, "routingCalls");
  const leaseReads = last["routingLeaseReads"] === undefined ? undefined : callsPerSecond(samples, from, to, "routingLeaseReads");
  const limit = (2 * 1000) / ctx.run.syncMs;
  return [
    {
      name: "routing object calls while healthy",
      target: `<= ${+limit.toFixed(2)} per second in the baseline, whatever the request rate (background re-reads every ROUTING_SYNC_MS = ${ctx.run.syncMs} ms; one isolate here)`,
      measured:
        rate === undefined
          ? "no samples"
          : `${rate.perSecond.toFixed(2)} per second (${rate.calls} calls over ${seconds(rate.ms)}, ${rate.requests} requests)${leaseReads && leaseReads.calls > 0 ? `; besides, ${leaseReads.perSecond.toFixed(2)} strong lease reads per second (the queue consumer's, one per batch, and the drill's own admin samples)` : ""}`,
      pass: rate !== undefined && rate.perSecond <= limit,
    },
    {
      name: "routing object answered every call",
      target: "0 failed calls",
      measured: `${last["routingErrors"] ?? 0} failed of ${last["routingCalls"]} calls`,
      pass: (last["routingErrors"] ?? 0) === 0,
    },
  ];
}

function callsPerSecond(samples: CounterSample[], from: number, to: number, counter: string) {
  const before = [...samples].reverse().find((s) => s.at <= from) ?? samples[0];
  const after = [...samples].reverse().find((s) => s.at <= to);
  if (!before || !after || after.at <= before.at) return undefined;
  const calls = (after.counters[counter] ?? 0) - (before.counters[counter] ?? 0);
  const ms = after.at - before.at;
  return { calls, ms, perSecond: (1000 * calls) / ms, requests: (after.counters["requests"] ?? 0) - (before.counters["requests"] ?? 0) };
}

/** "us-east 0/1200, eu-west 0/310, no region 0/12": a count per answering region, for targets that hold for every region. */
export function perRegion(results: RequestResult[], bad: (r: RequestResult) => boolean, counted: (r: RequestResult) => boolean = () => true): string {
  const by = new Map<string, { bad: number; all: number }>();
  for (const r of results) {
    if (!counted(r)) continue;
    const key = r.region || "no region";
    const e = by.get(key) ?? { bad: 0, all: 0 };
    e.all++;
    if (bad(r)) e.bad++;
    by.set(key, e);
  }
  return [...by].sort(([a], [b]) => (a === "no region" ? 1 : b === "no region" ? -1 : a.localeCompare(b))).map(([k, e]) => `${k} ${e.bad}/${e.all}`).join(", ");
}
