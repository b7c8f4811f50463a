/**
 * The multi-region drills' targets (issue 10: drills A, B and E), each computed from raw results
 * (x-edge-region on every answer, the assignment each sticky client sent), the worker's data
 * points (request points' region columns, routing points) and what the drill itself did (admin
 * actions with their answers, the moment each fault was applied).
 */
import { openIntervals, WARMUP_MS, type CounterSample, type DataPoint, type DrillData } from "./checks.ts";
import { requestRouting, routingChanges, type RequestRouting, type RoutingChange } from "./region-points.ts";
import { clean, hardDown, healthy, isMultiRegion, normalShares, phaseRegions, type DrillRouting, type PhaseRegions } from "./regions.ts";
import { fmtMs, pct, percentile, xorshift32 } from "./stats.ts";
import { HOSTILE_USER, type AdminActionName, type FaultSetting, type Plan, type RegionSpec, type RequestResult, type TargetResult } from "./types.ts";

/** What the drill did in a multi-region run, beside the load. Times are epoch ms. */
export interface RegionRun {
  routing: DrillRouting;
  /** ROUTING_SYNC_MS: how often an isolate re-reads the routing object. */
  syncMs: number;
  actions: ActionRecord[];
  faults: FaultRecord[];
  /** The in-run control's answers (control.ts), on the plan load's clock; absent in older reports and unit runs without one. */
  control?: ControlAnswer[];
}

/** One answer of the in-run control (a bare worker on its own origin, same seconds as the plan's load). */
export interface ControlAnswer {
  /** ms since the plan's load started. */
  intendedAt: number;
  latencyMs: number;
  /** 0 when no answer came. */
  status: number;
}

/** One admin action the drill sent, and its answer. */
export interface ActionRecord {
  phase: number;
  region: string;
  action: AdminActionName;
  percent?: number;
  sentAt: number;
  answeredAt: number;
  /** 0 when no answer came. */
  status: number;
  /** The answer's control.changedAt (the object's decision), when it gave one. */
  decidedAt?: number;
  /** The answer's body (or the error), shortened. */
  detail: string;
}

/** When a phase's setting reached a region's fake origin (and, with --netns, its partition). */
export interface FaultRecord {
  phase: number;
  region: string;
  setting: FaultSetting;
  appliedAt: number;
}

/** Evacuation: from the admin decision to < 1 % of new requests reaching the region. */
const EVACUATION_LIMIT_MS = 2000;
/** Blackhole: from the partition's onset to traffic on the survivor(s). */
const BLACKHOLE_LIMIT_MS = 1000;
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
/** A region needs this many answers in the baseline to have a baseline p95 of its own. */
const MIN_BASELINE = 50;
const MIN_JUDGED = 20;
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
  const targets = [adminAnswered(ctx), ...evacuation(ctx), ...blackhole(cuts, routed), failedReads(ctx), readFiveXx(ctx), p95PerRegion(ctx, cuts), flapping(ctx)];
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
 * delay, or BLACKHOLE_LIMIT_MS when it was not measured or took longer). A read sent then that a
 * survivor answered may have waited for the failed region first (failed over, or sent at the
 * survivor as the breaker opened): its latency is the outage's, which the blackhole target judges,
 * not the survivor's speed, so the survivor's p95 leaves these spans out.
 */
function cutoverSpans(cuts: Cutover[]): { region: string; from: number; to: number }[] {
  return cuts.map(({ outage, delay }) => ({
    region: outage.region,
    from: outage.onset - STEP_EDGE_MS,
    to: outage.onset + (delay !== undefined && delay <= BLACKHOLE_LIMIT_MS ? delay : BLACKHOLE_LIMIT_MS),
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
    if (!(delay !== undefined && delay <= BLACKHOLE_LIMIT_MS)) ok = false;
  }
  return [
    {
      name: "blackhole: partition onset to traffic on the survivor",
      target: `<= ${BLACKHOLE_LIMIT_MS} ms until >= 99 % of requests (sliding 1 s windows, request points) go to a survivor first, without a failover`,
      measured: routed.length ? parts.join("; ") : "no request point carries the region columns (blob14-16): the worker wrote none",
      pass: ok && routed.length > 0,
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

/** Answers of one region in a second, at least, for that second's p95 to count. */
const MIN_PER_SECOND = 20;
/** The control runs at a tenth of the load (at least 20 req/s): a second of it counts (as stalled or not) from 10 answers. */
const CONTROL_MIN_PER_SECOND = 10;
/**
 * The most the control may widen a limit: the wait it adds is counted up to the control's own
 * baseline p95 (a runtime twice as slow as at rest); beyond that the run cannot judge the product
 * (inconclusive, unless what is judged fails even with all of it).
 */
export const CONTROL_MAX_SLOWDOWN = 2;

/**
 * The typical second's p95: the median over seconds of each second's p95 (seconds with enough
 * answers). This machine stalls now and then for a second or three (every region and the
 * single-origin drills alike: 40-140 ms p95 seconds), and a plain p95 over a minute lands in those
 * seconds or not by luck; a region that is slower for real is slower in most seconds. Undefined
 * for none.
 */
function medianOf(p95s: number[]): number | undefined {
  return p95s.length === 0 ? undefined : percentile(p95s, 50);
}

/** Latencies by second of intended send. */
function bySecond(results: { intendedAt: number; latencyMs: number }[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const r of results) {
    const s = Math.floor(r.intendedAt / 1000);
    const list = out.get(s);
    if (list) list.push(r.latencyMs);
    else out.set(s, [r.latencyMs]);
  }
  return out;
}

/** Each second's p95 (seconds with at least `minPerSecond` answers). */
function secondP95s(seconds: Map<number, number[]>, minPerSecond = MIN_PER_SECOND): number[] {
  return [...seconds.values()].filter((l) => l.length >= minPerSecond).map((l) => percentile(l, 95));
}

const BOOTSTRAP_ROUNDS = 1000;

/**
 * How far the ratio of two typical seconds could move by chance: a 90 % interval from resampling
 * the seconds of each side (a fixed seed, so a report's numbers are reproducible from its
 * results.json). Reported, not judged: on this machine a second's p95 ranges over 3-4x, and
 * with a 10 s baseline the interval is often wider than the 25 % the target allows.
 */
export function ratioInterval(served: number[], base: number[]): { low: number; high: number } | undefined {
  if (served.length === 0 || base.length === 0) return undefined;
  const random = xorshift32(0x9e3779b9);
  const pick = (list: number[]) => list[Math.floor(random() * list.length)]!;
  const ratios: number[] = [];
  for (let i = 0; i < BOOTSTRAP_ROUNDS; i++) {
    const s = percentile(served.map(() => pick(served)), 50);
    const b = percentile(base.map(() => pick(base)), 50);
    if (b > 0) ratios.push(s / b);
  }
  if (ratios.length === 0) return undefined;
  return { low: percentile(ratios, 5), high: percentile(ratios, 95) };
}

/**
 * A second the runtime itself stalled in: even the bare control's median answer took this many
 * times its baseline median. Set aside on both sides (and counted), as a machine stall is in
 * the typical-second judgement without a control; more than half the judged seconds so: inconclusive.
 */
const STALL_FACTOR = 3;

/** The judged seconds in which the control's median answer was more than STALL_FACTOR x its baseline median (seconds with fewer than CONTROL_MIN_PER_SECOND answers never count as stalled). */
export function stalledSeconds(control: Map<number, number[]>, seconds: number[], baseSeconds: number[]): Set<number> {
  const baseMedian = percentile(pooled(control, baseSeconds), 50);
  const out = new Set<number>();
  if (baseMedian <= 0) return out;
  for (const s of seconds) {
    const l = control.get(s) ?? [];
    if (l.length >= CONTROL_MIN_PER_SECOND && percentile(l, 50) > STALL_FACTOR * baseMedian) out.add(s);
  }
  return out;
}

/** The control counts once it has this many answers on each side (its baseline, the judged seconds): a p95 of fewer is one or two answers. */
const CONTROL_MIN_ANSWERS = 100;
const PAIRED_BOOTSTRAP_ROUNDS = 400;

/** Latencies of the listed seconds, pooled. */
function pooled(bySec: Map<number, number[]>, seconds: Iterable<number>): number[] {
  const out: number[] = [];
  for (const s of seconds) for (const l of bySec.get(s) ?? []) out.push(l);
  return out;
}

/** A region's reads and the control's, by second, over the judged seconds and the baseline's. */
export interface PairedSeconds {
  served: Map<number, number[]>;
  base: Map<number, number[]>;
  /** The control's answers by second, the whole run: read over the same seconds as the region's. */
  control: Map<number, number[]>;
  /** The judged seconds (the region's, with enough answers) and the baseline's. */
  seconds: number[];
  baseSeconds: number[];
}

/** Pooled p95s of both sides over the same seconds: the region's slowdown and the control's. */
export function pairedP95s(p: PairedSeconds, seconds = p.seconds, baseSeconds = p.baseSeconds): { ours: number; oursBase: number; control: number; controlBase: number } {
  return {
    ours: percentile(pooled(p.served, seconds), 95),
    oursBase: percentile(pooled(p.base, baseSeconds), 95),
    control: percentile(pooled(p.control, seconds), 95),
    controlBase: percentile(pooled(p.control, baseSeconds), 95),
  };
}

/**
 * The wait the runtime added over some seconds, read off the control: its pooled p95 in them and in
 * the baseline's. An added wait, in ms, not a factor: what slows a worker here is waiting behind
 * other work on workerd's one thread (and the vCPU descheduled by steal), the same milliseconds
 * for every worker on it whatever its own speed. In a write-failover run the survivor and the
 * bare control gained the same at every quantile (p50 +1.2 / +1.2 ms, p75 +1.7 / +1.8, p90
 * +3.6 / +3.1, p95 +7.0 / +7.1) while their ratios differed (x2.39 / x1.78 at p95), as the
 * control's 20 req/s path is slower at rest (p95 9.1 ms against 5.1): a factor carried from
 * one to the other would have failed a survivor that slowed exactly as a bare worker did.
 */
export interface RuntimeWait {
  /** The control's pooled p95 over the judged seconds and over the baseline's. */
  p95: number;
  baseP95: number;
}

/** The added wait a limit may count, at least 0 (a calmer runtime later never tightens it), at most CONTROL_MAX_SLOWDOWN's worth; and the whole of it. */
export function allowedWait(wait: RuntimeWait | undefined): { counted: number; whole: number } {
  const whole = wait ? Math.max(0, wait.p95 - wait.baseP95) : 0;
  return { counted: wait ? Math.min(whole, (CONTROL_MAX_SLOWDOWN - 1) * wait.baseP95) : 0, whole };
}

/** A limit widened by the wait the runtime added (the part allowedWait counts). */
export function widenedLimit(limit: number, wait: RuntimeWait | undefined): number {
  return limit + allowedWait(wait).counted;
}

/** A value against a limit widened by the runtime's added wait: pass within the counted wait; within the whole of a wait past the cap, inconclusive; else fail. */
export function judgeWithWait(value: number, limit: number, wait: RuntimeWait | undefined): "pass" | "fail" | "inconclusive" {
  const { whole } = allowedWait(wait);
  if (value <= widenedLimit(limit, wait)) return "pass";
  if (value <= limit + whole) return "inconclusive";
  return "fail";
}

/**
 * The runtime's added wait over some seconds (the p95, not a tail: at a tenth of the load a p99
 * is the control's slowest two or four answers, and the p95's smaller wait is the stricter).
 * Undefined without a control, or with fewer than CONTROL_MIN_ANSWERS answers on either side.
 */
export function controlWait(control: ControlAnswer[] | undefined, seconds: Iterable<number>, baseSeconds: Iterable<number>): RuntimeWait | undefined {
  if (!control) return undefined;
  const bySec = bySecond(control);
  const judged = pooled(bySec, new Set(seconds));
  const base = pooled(bySec, new Set(baseSeconds));
  if (judged.length < CONTROL_MIN_ANSWERS || base.length < CONTROL_MIN_ANSWERS) return undefined;
  return { p95: percentile(judged, 95), baseP95: percentile(base, 95) };
}

/**
 * The region's added p95 over the control's, in ms (0: slowed exactly as a bare worker in the same
 * runtime did), with a 90 % interval from resampling whole seconds of both sides together (a
 * second's answers of the region and of the control stay paired, as they shared that second's
 * runtime). Fixed seed: reproducible from results.json and control.json. Reported, not judged.
 */
export function excessInterval(p: PairedSeconds): { value: number; low: number; high: number } | undefined {
  const excessOf = (q: ReturnType<typeof pairedP95s>) => (q.oursBase > 0 && q.controlBase > 0 && q.control > 0 ? q.ours - q.oursBase - (q.control - q.controlBase) : undefined);
  const value = excessOf(pairedP95s(p));
  if (value === undefined) return undefined;
  const random = xorshift32(0x9e3779b9);
  const resample = (list: number[]) => list.map(() => list[Math.floor(random() * list.length)]!);
  const values: number[] = [];
  for (let i = 0; i < PAIRED_BOOTSTRAP_ROUNDS; i++) {
    const v = excessOf(pairedP95s(p, resample(p.seconds), resample(p.baseSeconds)));
    if (v !== undefined) values.push(v);
  }
  if (values.length === 0) return undefined;
  return { value, low: percentile(values, 5), high: percentile(values, 95) };
}

/**
 * A failure the run cannot show: the region's gain over the control's is past the budget at its
 * point estimate, but its 90 % interval reaches within it. The control answers a tenth of the
 * load, so its p95 over 10 s of baseline is its 10th-slowest answer of 200; in write-failover runs
 * the interval spanned 5-10 ms, against a budget of 1.5 ms (25 % of a 6 ms p95), and the point
 * estimate fell either side of it run to run (+1.3, +2.9, -0.1, +1.9 ms). A failure the
 * interval confirms (its low end past the budget) stands.
 */
export function withinNoise(verdict: "pass" | "fail" | "inconclusive", excess: { low: number } | undefined, budget: number): "pass" | "fail" | "inconclusive" {
  return verdict === "fail" && excess !== undefined && excess.low <= budget ? "inconclusive" : verdict;
}

/** A signed duration: +7.0 ms, -0.4 ms. */
function signedMs(ms: number): string {
  return `${ms < 0 ? "-" : "+"}${fmtMs(Math.abs(ms))}`;
}

/** What a region's p95 may gain over its baseline before the runtime's wait: 25 %, at least 1 ms. */
function regionBudget(base: number): number {
  return Math.max(base * 0.25, 1);
}

/** A region's p95 against its limit: 1.25 x its baseline (1 ms floor), plus the wait the runtime added in the same seconds (the control's, see allowedWait). */
export function judgeRegionP95(p95: number, base: number, wait: RuntimeWait | undefined): "pass" | "fail" | "inconclusive" {
  return judgeWithWait(p95, base + regionBudget(base), wait);
}

/** p95 of what each region served during the drill, against that region's own baseline (or the run's, when it had no baseline traffic), second by second. */
function p95PerRegion(ctx: Ctx, cuts: Cutover[]): TargetResult {
  const { d } = ctx;
  const baseIndex = d.plan.phases.findIndex((p) => p.baseline);
  // Reads: writes go to the writer and pay for the ledger; they have their own targets.
  const inBaseline = ctx.sent.filter((r) => r.write === undefined && r.phase === baseIndex && r.intendedAt >= WARMUP_MS && r.region !== "");
  const runBaseSeconds = secondP95s(bySecond(inBaseline));
  const runBase = medianOf(runBaseSeconds);
  const control = ctx.run.control;
  // Read over the regions' own seconds: the baseline's (after its first 2 s) and each region's judged ones.
  const controlBySecond = control ? bySecond(control) : undefined;
  const spans = cutoverSpans(cuts);
  const parts: string[] = [];
  const verdicts: string[] = [];
  for (const { name } of ctx.plan.regions) {
    const own = inBaseline.filter((r) => r.region === name);
    const ownSeconds = own.length >= MIN_BASELINE ? secondP95s(bySecond(own)) : [];
    const ownBase = medianOf(ownSeconds);
    const base = ownBase ?? runBase;
    const outside = ctx.sent.filter((r) => r.write === undefined && r.region === name && r.phase !== baseIndex && clean(ctx.phases[r.phase]!.regions[name]!.fault));
    const inCutover = (r: RequestResult) => spans.some((c) => c.region !== name && r.intendedAt >= c.from && r.intendedAt < c.to);
    const served = outside.filter((r) => !inCutover(r));
    const cutoverText = served.length < outside.length ? ` (${outside.length - served.length} sent in another region's cutover left to the blackhole target)` : "";
    const servedBySecond = bySecond(served);
    const servedSeconds = secondP95s(servedBySecond);
    const p95 = served.length >= MIN_JUDGED ? medianOf(servedSeconds) : undefined;
    if (p95 === undefined || base === undefined) {
      parts.push(`${name}: not judged (${served.length} answers outside its faults)`);
      continue;
    }
    // The seconds that count toward the region's p95, so the control is read over the same ones.
    const seconds = [...servedBySecond].filter(([, l]) => l.length >= MIN_PER_SECOND).map(([s]) => s);
    const baseBySecond = bySecond(ownBase !== undefined ? own : inBaseline);
    const baseSeconds = [...baseBySecond.keys()];
    const typical = `typical second ${fmtMs(p95)} vs ${fmtMs(base)} (x${(p95 / base).toFixed(2)})`;
    const baseNote = ownBase !== undefined ? "" : " (the run's baseline: none of its own)";
    // Enough of the control's answers over the region's seconds, before any is set aside: then the control judges (a run whose seconds mostly stalled is inconclusive, not judged without it).
    if (controlBySecond && pooled(controlBySecond, seconds).length >= CONTROL_MIN_ANSWERS && pooled(controlBySecond, baseSeconds).length >= CONTROL_MIN_ANSWERS) {
      // Stalls in the baseline too: one stalled second of ten would set a pooled baseline p95 and make any later slowdown look small.
      const stalled = stalledSeconds(controlBySecond, seconds, baseSeconds);
      const stalledBase = stalledSeconds(controlBySecond, baseSeconds, baseSeconds);
      const paired: PairedSeconds = {
        served: servedBySecond,
        base: baseBySecond,
        control: controlBySecond,
        seconds: seconds.filter((s) => !stalled.has(s)),
        baseSeconds: baseSeconds.filter((s) => !stalledBase.has(s)),
      };
      const mostlyStalled = stalled.size > seconds.length / 2 || stalledBase.size > baseSeconds.length / 2;
      const stallText =
        stalled.size || stalledBase.size
          ? `; set aside as the runtime stalled (the control's median > ${STALL_FACTOR} x its baseline's): ${stalled.size} of ${seconds.length} seconds, ${stalledBase.size} of ${baseSeconds.length} baseline seconds`
          : "";
      if (paired.seconds.length === 0 || paired.baseSeconds.length === 0) {
        verdicts.push("inconclusive");
        parts.push(`${name}: not judged${stallText}: inconclusive`);
        continue;
      }
      // Both sides' p95 over the same seconds, pooled, so the wait the runtime added in them (the machine, workerd's one thread) is taken out.
      const q = pairedP95s(paired);
      const wait: RuntimeWait = { p95: q.control, baseP95: q.controlBase };
      const excess = excessInterval(paired);
      const budget = regionBudget(q.oursBase);
      const againstLimit = judgeRegionP95(q.ours, q.oursBase, wait);
      const judged = withinNoise(againstLimit, excess, budget);
      // Mostly stalled: too little left to pass on, but a failure in what is left stands.
      const verdict = mostlyStalled && judged === "pass" ? "inconclusive" : judged;
      verdicts.push(verdict);
      const noiseText = againstLimit === "fail" && judged === "inconclusive" && excess ? ` (over the limit, but the excess's interval reaches ${signedMs(excess.low)}, within the ${fmtMs(budget)} the target allows: this run cannot tell)` : "";
      const excessText = excess ? `, ${signedMs(excess.value)} over the control's (90 % interval ${signedMs(excess.low)} to ${signedMs(excess.high)})` : "";
      const limit = widenedLimit(q.oursBase + budget, wait);
      parts.push(
        `${name}: ${fmtMs(q.ours)} vs ${fmtMs(q.oursBase)} (${signedMs(q.ours - q.oursBase)}, x${(q.ours / q.oursBase).toFixed(2)})${baseNote}, over ${pooled(paired.served, paired.seconds).length}${cutoverText}; control ${fmtMs(q.control)} vs ${fmtMs(q.controlBase)} (${signedMs(q.control - q.controlBase)})${excessText}, so the limit is ${fmtMs(limit)}${stallText}; besides, ${typical}${verdict === "pass" ? "" : `: ${verdict}${noiseText}`}`,
      );
      continue;
    }
    const plain = percentile(served.map((r) => r.latencyMs), 95);
    const verdict = judgeRegionP95(p95, base, undefined);
    verdicts.push(verdict);
    const interval = ratioInterval(servedSeconds, ownBase !== undefined ? ownSeconds : runBaseSeconds);
    const intervalText = interval ? `, 90 % interval x${interval.low.toFixed(2)}-${interval.high.toFixed(2)}` : "";
    parts.push(
      `${name}: ${fmtMs(p95)} vs ${fmtMs(base)} (x${(p95 / base).toFixed(2)}${intervalText})${baseNote}, over ${served.length} (p95 of all of them ${fmtMs(plain)})${cutoverText}${control ? "; control: too few answers in these seconds" : ""}${verdict === "pass" ? "" : `: ${verdict}`}`,
    );
  }
  const pass = verdicts.length > 0 && verdicts.every((v) => v === "pass");
  return {
    name: "p95 of served requests vs baseline, per region",
    target: `<= 1.25 x the region's baseline (1 ms floor), plus the wait the runtime added in the same seconds, over what it served outside its own faults. The runtime's added wait is the in-run control's: a bare worker in the same workerd, whose one thread locally also runs every Durable Object, the queue and its replay (Cloudflare runs them elsewhere); its p95 there minus its baseline p95, at least 0, counted up to its baseline p95 (a runtime ${CONTROL_MAX_SLOWDOWN}x as slow; beyond, within the whole wait, inconclusive). With the control, the region's and the control's p95 over the same seconds, pooled, seconds in which the runtime stalled (the control's median > ${STALL_FACTOR} x its baseline's) set aside for both; without one, each as the median over seconds of the second's p95, so a machine stall of a second or three does not decide it`,
    measured: parts.join("; "),
    pass,
    ...(!pass && verdicts.length > 0 && !verdicts.includes("fail") ? { inconclusive: true } : {}),
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
  const judged = ctx.sent.filter((r) => r.client !== undefined && r.stuckTo !== undefined && usableForSticky(ctx, r.stuckTo, r.intendedAt));
  const stayed = judged.filter((r) => r.region === r.stuckTo);
  const moved = judged.filter((r) => r.region !== r.stuckTo);
  const share = judged.length ? stayed.length / judged.length : 0;
  return {
    name: "sticky clients stay on their region",
    target: `>= ${pct(STICKY_MIN_SHARE, 0)} of a sticky client's requests answered by its region while that region is usable (active or draining, not shedding, answering every request, back for hysteresis_s + 2 s after an outage)`,
    measured: `${pct(share, 2)} (${stayed.length} of ${judged.length}${moved.length ? `; first moved: ${moved[0]!.client} stuck to ${moved[0]!.stuckTo} answered by ${moved[0]!.region || "no region"} at ${seconds(moved[0]!.intendedAt)}` : ""})`,
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
  // Reads only: a write goes to the writer region, not by the choice whose shares this judges.
  const fresh = ctx.sent.filter((r) => r.client === undefined && r.region !== "" && r.write === undefined);
  // Judged within the phase the window began in: a later phase changes the others' states (another
  // region restored), and with them the region's full share.
  const shareIn = (w: RampWindow) => {
    const to = Math.min(w.to, phaseAt(ctx, w.from).to);
    const inside = fresh.filter((r) => r.intendedAt >= w.from + STEP_EDGE_MS && r.intendedAt < to - STEP_EDGE_MS);
    return { n: inside.length, share: inside.length ? inside.filter((r) => r.region === w.region).length / inside.length : 0 };
  };
  // The leader's timeline (latency mode): the home region (the Router's first leader), then each `leader` point.
  const leaders = routingChanges(ctx.d.points).filter((c) => c.action === "leader");
  const firstLeader = (ctx.plan.regions.find((r) => r.home === true) ?? ctx.plan.regions[0])?.name;
  const leaderAt = (t: number) => leaders.filter((c) => c.at - ctx.d.startedAt <= t).at(-1)?.region ?? firstLeader;
  const shareParts: string[] = [];
  const dwellParts: string[] = [];
  let sharesOk = aborts.length === 0;
  let dwellOk = true;
  for (const a of restores) {
    if (!windows.some((w) => w.region === a.region && w.from >= a.sentAt - ctx.d.startedAt - 1000)) {
      shareParts.push(`${a.region}: restored at ${seconds(a.sentAt - ctx.d.startedAt)} but no ramp step followed`);
      sharesOk = false;
    }
  }
  for (const w of windows) {
    const { n, share } = shareIn(w);
    const normal = normalShares(ctx.plan.regions, phaseAt(ctx, w.from).regions, ctx.run.routing.mode);
    // latency mode: the leader decides the region's full share, measured once the ramp is done.
    // latency mode: the leader takes every new session, so a region's full share is 1 while it leads and 0 otherwise.
    const full = normal?.[w.region] ?? (leaderAt(w.from) === w.region ? 1 : 0);
    const label = `${w.region} ${w.percent} %${w.done ? " (done)" : ""} at ${seconds(w.from)}`;
    if (full === undefined) {
      shareParts.push(`${label}: not judged (latency mode, no full-weight window to learn the leader's share)`);
    } else if (n < MIN_STEP_REQUESTS) {
      // A whole step must carry enough requests to show its share; a window cut short by another change need not.
      shareParts.push(`${label}: ${n} requests, too few to judge`);
      if (w.endedBy === "step") sharesOk = false;
    } else {
      const expected = (w.percent / 100) * full;
      shareParts.push(`${label}: ${pct(share)} vs ${pct(expected)} over ${n}`);
      if (Math.abs(share - expected) * 100 > RAMP_SHARE_POINTS) sharesOk = false;
    }
    if (!w.done) {
      const lasted = w.to - w.from;
      if (w.delayed) {
        dwellParts.push(`${w.region} ${w.percent} %: not judged (its start waited for hysteresis_s)`);
      } else if (w.endedBy === "step") {
        dwellParts.push(`${w.region} ${w.percent} %: ${seconds(lasted)}`);
        if (Math.abs(lasted - ctx.run.routing.stepDwellMs) > RAMP_DWELL_TOLERANCE * ctx.run.routing.stepDwellMs) dwellOk = false;
      } else {
        dwellParts.push(`${w.region} ${w.percent} %: ended by ${w.endedBy === "end" ? "the run's end" : w.endedBy === "abort" ? "an abort" : "another change"} after ${seconds(lasted)}`);
        if (w.endedBy === "end") dwellOk = false;
      }
    }
  }
  for (const a of aborts) shareParts.push(`${a.region} aborted at ${seconds(a.at - ctx.d.startedAt)}: "${a.reason}"`);
  return [
    {
      name: "return-to-home: each step's share of new sessions",
      target: `within ±${RAMP_SHARE_POINTS} points of step weight x the region's full share (x-edge-region over non-sticky answers, step windows from the routing points); no abort`,
      measured: shareParts.join("; ") || "no ramp",
      pass: sharesOk,
    },
    {
      name: "return-to-home: each step's dwell",
      target: `step_dwell_s (${ctx.run.routing.stepDwellMs / 1000} s) ±${RAMP_DWELL_TOLERANCE * 100} %, and the ramp reaches 100 % within the run`,
      measured: dwellParts.join("; ") || "no step",
      pass: dwellOk && windows.length > 0,
    },
  ];
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
