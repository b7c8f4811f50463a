/** The drill's targets, each computed from raw results: requests as the client saw them, the worker's data points, the origin's counts. */
import { perRegion, regionTargets, type RegionRun } from "./region-checks.ts";
import { isMultiRegion } from "./regions.ts";
import { fmtMs, percentile } from "./stats.ts";
import { HOSTILE_USER, type Plan, type RequestResult, type TargetResult } from "./types.ts";
import { writeTargets, type WriteRunData } from "./write-checks.ts";

export interface DataPoint {
  timestamp: number;
  indexes?: string[];
  blobs?: string[];
  doubles?: number[];
}

export interface CounterSample {
  at: number;
  counters: Record<string, number>;
}

export interface DrillData {
  plan: Plan;
  /** Epoch ms when the load started; RequestResult times are relative to it. */
  startedAt: number;
  /** Phase boundaries in ms since start: phase i runs from bounds[i] to bounds[i + 1]. */
  bounds: number[];
  results: RequestResult[];
  points: DataPoint[];
  counters: CounterSample[];
  /** Requests each origin received, per epoch second. */
  originPerSecond: Record<string, Record<string, number>>;
  settings: {
    maxAgeS: number;
    threshold: number;
    openMaxMs: number;
    timeoutMs: number;
    /**
     * Rate used / the plan's rate (1 unless calibration lowered it). Shared-tier writes are per
     * key and second, not per request, so their per-1,000 budgets scale by its inverse.
     */
    rateScale?: number;
    /** LKG_SHARED_WRITES_PER_SECOND: how long the first fill of the plan's hot keys takes. */
    sharedWritesPerSecond?: number;
  };
  /** Multi-region plans: the routing settings, the admin actions sent and when each fault was applied. */
  regionRun?: RegionRun;
  /** Plans with writes: the origins' write logs, the backlog samples, the 202s' status resources. */
  writes?: WriteRunData;
}

/** Per 1,000 healthy requests at the plan's own rate (issue #8's fleet targets). */
export const KV_WRITES_PER_1000 = 10;
export const CACHE_WRITES_PER_1000 = 50;

export interface Interval {
  from: number;
  to: number;
}

/**
 * When the breaker heard a request's outcome: its start (the point's time minus double1, the
 * latency) plus double6 (ms from start to the breaker hearing it).
 */
export function heardAt(p: DataPoint): number {
  return p.timestamp - (p.doubles?.[0] ?? 0) + (p.doubles?.[5] ?? 0);
}

/** Epoch-ms intervals during which the breaker object held the origin open (or half-open). */
export function openIntervals(points: DataPoint[], end: number): Interval[] {
  const transitions = points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[4] === "object").sort((a, b) => a.timestamp - b.timestamp);
  const out: Interval[] = [];
  let openedAt: number | undefined;
  for (const t of transitions) {
    const to = t.blobs?.[2];
    if (to !== "closed" && openedAt === undefined) openedAt = t.timestamp;
    if (to === "closed" && openedAt !== undefined) {
      out.push({ from: openedAt, to: t.timestamp });
      openedAt = undefined;
    }
  }
  if (openedAt !== undefined) out.push({ from: openedAt, to: end });
  return out;
}

/** Each fault phase's first opening of the breaker (object's closed -> open), in ms since the run started. */
function faultOpenings(d: DrillData, phases: Plan["phases"]): Map<number, number> {
  const opens = d.points
    .filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[4] === "object" && p.blobs?.[1] === "closed" && p.blobs?.[2] === "open")
    .map((p) => p.timestamp - d.startedAt)
    .sort((a, b) => a - b);
  const out = new Map<number, number>();
  phases.forEach((p, i) => {
    if (!p.fault) return;
    const first = opens.find((at) => at >= d.bounds[i]! && at < d.bounds[i + 1]!);
    if (first !== undefined) out.set(i, first);
  });
  return out;
}

const fmt = fmtMs;
/** Start of the run left out of the healthy baseline. */
export const WARMUP_MS = 2000;

export function evaluate(all: DrillData): { targets: TargetResult[]; totals: Record<string, number | string> } {
  // Hostile clients' requests are judged by their own targets (hostileTargets); every other
  // target is about the users beside them.
  const d: DrillData = { ...all, results: all.results.filter((r) => r.user !== HOSTILE_USER) };
  const targets: TargetResult[] = [];
  const phases = d.plan.phases;
  const inPhase = (r: RequestResult, pred: (i: number) => boolean) => pred(r.phase);
  const sent = d.results.filter((r) => r.error !== "unsent");
  const faultResults = sent.filter((r) => inPhase(r, (i) => phases[i]!.fault));
  // The first seconds of a fresh workerd compile code (p50 ~50 ms for a second here); that is
  // start-up, not the healthy state the fault phases are compared with.
  const baselineResults = sent.filter((r) => inPhase(r, (i) => phases[i]!.baseline === true) && r.intendedAt >= WARMUP_MS);
  const end = d.startedAt + d.bounds[d.bounds.length - 1]!;

  // 0. The load itself: a drill that did not deliver its schedule proves nothing.
  const unsent = d.results.filter((r) => r.error === "unsent").length;
  const late = sent.filter((r) => r.sendDelayMs > 5).length;
  targets.push({
    name: "load delivered on schedule",
    target: "0 unsent, < 1 % sent more than 5 ms late",
    measured: `${unsent} unsent, ${late} late of ${d.results.length} (${((100 * late) / Math.max(1, d.results.length)).toFixed(2)} %)`,
    pass: unsent === 0 && late < 0.01 * d.results.length,
  });

  // 1. Latency during the faults, measured from the intended send time, of the answers the edge
  // produced itself (copies, its own fast errors, no answer at all). An answer the origin produced
  // (Cache-Status fwd-status=) carries the origin's own latency, which no proxy can shorten: a
  // slow-but-answering origin in a brownout is passed through, and reported apart below.
  const proxied = (r: RequestResult) => r.cacheStatus.includes("fwd-status=");
  const edgeFault = faultResults.filter((r) => !proxied(r));
  const proxiedFault = faultResults.filter(proxied);
  const proxiedNote = proxiedFault.length
    ? `; ${proxiedFault.length} answers the origin produced, p99 ${fmt(percentile(proxiedFault.map((r) => r.latencyMs), 99))}, not counted`
    : "";
  // Until the breaker opens the edge cannot know the origin is gone rather than slow: a request
  // with a copy is answered at its slow deadline, one without keeps waiting on the origin (which may
  // still answer it) and is released the moment the breaker opens. How soon that is has its own
  // target (opens within the threshold's failures + 1 s, a passing health check less than a second
  // before the fault included); a p99 over a phase that counted the wait before it would count a
  // fixed number of answers (rate x detection time) against a phase of any length, so the same
  // product would pass a 60 s fault and fail a 20 s one. What is judged is how long the edge kept a
  // client waiting once it could know: from the later of the send and the phase's first opening.
  const firstOpenings = faultOpenings(d, phases);
  /** When the breaker opened after this request was sent, in its phase; undefined when it was sent after (or it never opened). */
  const openedAfterSend = (r: RequestResult) => {
    const opened = firstOpenings.get(r.phase);
    return opened !== undefined && r.intendedAt < opened ? opened : undefined;
  };
  const edgeWait = (r: RequestResult) => {
    const opened = openedAfterSend(r);
    const answered = r.intendedAt + r.latencyMs;
    return opened === undefined || answered <= opened ? r.latencyMs : answered - opened;
  };
  const detecting = new Set(edgeFault.filter((r) => openedAfterSend(r) !== undefined));
  const detectingLatency = [...detecting].map((r) => r.latencyMs);
  const detectionNote = detecting.size
    ? `; ${detecting.size} sent before the breaker opened (the wait judged from the opening; their latency p99 ${fmt(percentile(detectingLatency, 99))}, max ${fmt(Math.max(...detectingLatency))})`
    : "";
  const faultP99 = percentile(edgeFault.map(edgeWait), 99);
  const baseP95 = percentile(baselineResults.map((r) => r.latencyMs), 95);
  // 1 ms floor: at sub-millisecond baselines 25 % is below the timer's resolution.
  const p95Limit = Math.max(baseP95 * 1.25, baseP95 + 1);
  // A plan with no origin fault (broken-route: hostile clients on a healthy origin) has no fault latency to judge.
  // With several regions a survivor answers during the faults: its latency is judged per region (region-checks.ts).
  const multi = isMultiRegion(d.plan);
  if (phases.some((p) => p.fault) && !multi) {
  targets.push({
    name: "p99 during fault phases",
    target: "< 50 ms for answers the edge produced, a request sent before the breaker opened counted from the opening",
    measured: `${fmt(faultP99)} over ${edgeFault.length} answers${detectionNote}${proxiedNote}`,
    pass: edgeFault.length > 0 && faultP99 < 50,
  });
  // The fallback's steady state against the healthy one: during detection a copy is served at
  // the slow deadline by design, and those answers are the p99's (above) to judge.
  const detected = edgeFault.filter((r) => !detecting.has(r));
  const faultP95 = percentile(detected.map((r) => r.latencyMs), 95);
  targets.push({
    name: "p95 during faults vs healthy baseline",
    target: `<= 1.25 x baseline p95 (${fmt(baseP95)}, after ${WARMUP_MS / 1000} s warm-up; 1 ms floor), of the answers sent once the breaker had opened (the whole phase when it did not)`,
    measured: `${fmt(faultP95)} (${(faultP95 / Math.max(baseP95, 0.001)).toFixed(2)} x) over ${detected.length} answers`,
    pass: faultP95 <= p95Limit,
  });
  }
  // Beside hostile clients, a 2 ms floor: their own requests load the same two cores (a miss for
  // each 500 goes through the local Cache API and KV simulators, milliseconds of CPU apiece),
  // which a fleet's other isolates would not share.
  if (all.plan.mix.hostile?.length) targets.push(...hostileTargets(all, baselineResults.length > 0 ? Math.max(baseP95 * 1.25, baseP95 + 2) : Infinity, fmt(baseP95)));

  // 2. No failed answer for a key whose copy was still within the age cap.
  const maxAgeMs = d.settings.maxAgeS * 1000;
  const lastFresh = new Map<string, number>();
  const ordered = [...sent].sort((a, b) => a.intendedAt + a.latencyMs - (b.intendedAt + b.latencyMs));
  let covered = 0;
  let coveredFailed = 0;
  const failedExamples: string[] = [];
  for (const r of ordered) {
    const doneAt = r.intendedAt + r.latencyMs;
    const phase = phases[r.phase]!;
    if (phase.fault && r.method === "GET" && r.user === "anonymous") {
      const fresh = lastFresh.get(r.key);
      // 1 s margin: the copy is stored in the background just after the answer the client saw.
      if (fresh !== undefined && r.intendedAt - fresh <= maxAgeMs - 1000 && r.intendedAt - fresh >= 1000) {
        covered++;
        if (r.status < 200 || r.status >= 400) {
          coveredFailed++;
          if (failedExamples.length < 3) failedExamples.push(`${r.key} at ${(r.intendedAt / 1000).toFixed(1)} s: ${r.status || r.error}`);
        }
      }
    }
    if (r.status === 200 && r.cacheStatus.includes("fwd=bypass") && r.cacheStatus.includes("stored")) lastFresh.set(r.key, doneAt);
  }
  targets.push({
    name: "no failed answer for keys with a copy <= 30 s old",
    target: "0 failed",
    measured: `${coveredFailed} failed of ${covered} covered requests${failedExamples.length ? ` (${failedExamples.join("; ")})` : ""}`,
    pass: coveredFailed === 0,
  });

  // 3. Nothing older than the cap: from Age, and independently from the origin's own stamp.
  let tooOld = 0;
  let maxAge = 0;
  let maxStampAge = 0;
  for (const r of sent) {
    if (r.status === 0) continue;
    if (r.age > maxAge) maxAge = r.age;
    if (r.age > d.settings.maxAgeS) tooOld++;
    if (r.originServedAt > 0 && r.cacheStatus.includes("; hit")) {
      const stampAge = d.startedAt + r.intendedAt + r.latencyMs - r.originServedAt;
      if (stampAge > maxStampAge) maxStampAge = stampAge;
      if (stampAge > maxAgeMs + 1000) tooOld++;
    }
  }
  const tooOldAnswer = (r: RequestResult) =>
    r.status !== 0 && (r.age > d.settings.maxAgeS || (r.originServedAt > 0 && r.cacheStatus.includes("; hit") && d.startedAt + r.intendedAt + r.latencyMs - r.originServedAt > maxAgeMs + 1000));
  targets.push({
    name: "no answer older than 30 s",
    target: "Age <= 30 and origin stamp <= 31 s old",
    measured: `${tooOld} too old; max Age ${maxAge} s, max stamp age ${(maxStampAge / 1000).toFixed(1)} s${multi ? ` (too old per answering region: ${perRegion(sent, tooOldAnswer, (r) => r.status !== 0)})` : ""}`,
    pass: tooOld === 0,
  });

  // 4. Privacy: every answer carrying a user marker went to that user.
  let leaks = 0;
  let marked = 0;
  for (const r of sent) {
    if (!r.originUser) continue;
    marked++;
    if (r.originUser !== r.user) leaks++;
  }
  const leakPerRegion = multi ? ` (per answering region: ${perRegion(sent, (r) => r.originUser !== r.user, (r) => r.originUser !== "")})` : "";
  targets.push({ name: "no user's answer seen by another user", target: "0 leaks", measured: `${leaks} leaks in ${marked} marked answers${leakPerRegion}`, pass: leaks === 0 });

  // 5. The breaker opens promptly once failures start, and leaves the origin alone while open.
  const requestPoints = d.points.filter((p) => p.blobs?.[0] === "request").sort((a, b) => a.timestamp - b.timestamp);
  const transitions = d.points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[4] === "object").sort((a, b) => a.timestamp - b.timestamp);
  const openings: string[] = [];
  let openingOk = true;
  phases.forEach((phase, i) => {
    if (multi || !phase.fault || (i > 0 && phases[i - 1]!.fault)) return;
    // One run of adjacent fault phases: from its start to the first healthy phase after it.
    let last = i;
    while (phases[last + 1]?.fault) last++;
    const from = d.startedAt + d.bounds[i]!;
    const to = d.startedAt + d.bounds[last + 1]!;
    // The moment the threshold-th failure in a row was counted (blob13: what the breaker heard;
    // a success resets the run, and a stall that slows fifty requests counts once), in the order
    // the breaker heard them: a point is stamped when its answer is ready, which for a request
    // released by the opening comes after the opening it caused; double6 says when it was heard.
    // "held": a failure kept from the breaker until the health check spoke. A failed check
    // passes the held failures on, so one held shortly before a failed confirming check counts;
    // one a passing check dismissed never reached the breaker, and does not.
    // A failing confirmation's point says how many held failures it passed on (double4): the
    // last that many held before it, exactly as the breaker heard them.
    const held = requestPoints.filter((p) => p.blobs?.[12] === "held").sort((a, b) => heardAt(a) - heardAt(b));
    const passedOn = new Set<DataPoint>();
    for (const c of d.points.filter((p) => p.blobs?.[0] === "health_check" && p.blobs?.[1] === "confirm" && p.blobs?.[2] === "failed")) {
      const n = c.doubles?.[3] ?? 0;
      const before = held.filter((p) => heardAt(p) <= c.timestamp && !passedOn.has(p));
      for (const p of before.slice(Math.max(0, before.length - n))) passedOn.add(p);
    }
    const heard = requestPoints
      .filter((p) => p.blobs?.[12] === "failure" || p.blobs?.[12] === "success" || passedOn.has(p))
      .map((p) => ({ outcome: p.blobs![12]!, at: heardAt(p) }))
      .filter((e) => e.at >= from && e.at < to)
      .sort((a, b) => a.at - b.at);
    let run = 0;
    let nth: number | undefined;
    for (const e of heard) {
      if (e.outcome === "success") run = 0;
      else if (++run === d.settings.threshold) {
        nth = e.at;
        break;
      }
    }
    const opened = transitions.find((t) => t.timestamp >= from && t.timestamp < to && t.blobs?.[2] === "open");
    if (nth === undefined) {
      openings.push(`${phase.name}: never ${d.settings.threshold} failures in a row${opened ? ", yet the breaker opened" : ""}`);
      // Opening without a run of failures means the drill cannot explain the breaker: fail.
      if (opened) openingOk = false;
      return;
    }
    const delay = opened ? opened.timestamp - nth : Infinity;
    const sinceFault = opened ? ` (${Math.round(opened.timestamp - from)} ms after the fault began)` : "";
    openings.push(`${phase.name}: ${Number.isFinite(delay) ? `${Math.max(0, Math.round(delay))} ms${sinceFault}` : "never"}`);
    if (!(delay <= 1000)) openingOk = false;
  });
  // With several regions a failing region's requests fail over and its breaker hears them per
  // region; the opening time is not this target's (the region targets judge the traffic instead).
  if (!multi) targets.push({
    name: `breaker opens within ${d.settings.threshold} failures + 1 s`,
    target: "<= 1000 ms after the threshold-th counted failure in a row",
    measured: openings.length ? openings.join(", ") : "no fault produced failures",
    pass: openingOk,
  });

  const intervals = openIntervals(d.points, end);
  // A probe is a client's request (ORIGIN_HEALTH_PATH off) or the worker's health check.
  const probes = [...requestPoints.filter((p) => p.blobs?.[11] === "probe"), ...d.points.filter((p) => p.blobs?.[0] === "health_check" && p.blobs?.[1] === "probe")];
  // The origin counts a request when it arrives; a point is stamped when the answer is ready.
  // Line them up by when the probe was sent (double1 is its latency), or a probe that straddles
  // a second boundary looks like an unexplained origin request.
  const probeSentAt = (p: DataPoint) => p.timestamp - (p.doubles?.[0] ?? 0);
  let originWhileOpen = 0;
  let probesWhileOpen = 0;
  for (const iv of intervals) {
    // Whole seconds strictly inside the interval: the origin counts by the second.
    for (let s = Math.ceil(iv.from / 1000) + 1; (s + 1) * 1000 <= iv.to; s++) {
      for (const perSecond of Object.values(d.originPerSecond)) originWhileOpen += perSecond[String(s)] ?? 0;
      probesWhileOpen += probes.filter((p) => probeSentAt(p) >= s * 1000 && probeSentAt(p) < (s + 1) * 1000).length;
    }
  }
  if (!multi) targets.push({
    name: "while open, the origin gets only probes",
    target: "origin requests <= probes sent",
    measured: `${originWhileOpen} origin requests, ${probesWhileOpen} probes in ${intervals.length} open interval(s)`,
    pass: originWhileOpen <= probesWhileOpen,
  });

  // 6. Bursts of 5xx, and recovery after the origin heals.
  const perSecond5xx = new Map<number, { total: number; bad: number }>();
  for (const r of sent) {
    const s = Math.floor(r.intendedAt / 1000);
    const e = perSecond5xx.get(s) ?? { total: 0, bad: 0 };
    e.total++;
    if (r.status >= 500 || r.status === 0) e.bad++;
    perSecond5xx.set(s, e);
  }
  let longest = 0;
  let run = 0;
  const lastSecond = Math.ceil(d.bounds[d.bounds.length - 1]! / 1000);
  for (let s = 0; s <= lastSecond; s++) {
    const e = perSecond5xx.get(s);
    run = e && e.bad > 0.5 * e.total ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  targets.push({ name: "no 5xx burst longer than 60 s", target: "<= 60 s with most answers 5xx", measured: `${longest} s longest`, pass: longest <= 60 });

  const recoveryLimit = d.settings.openMaxMs + d.settings.timeoutMs + 1000 + 2000;
  const recoveries: string[] = [];
  let recoveryOk = true;
  phases.forEach((phase, i) => {
    if (multi || phase.fault || i === 0 || !phases[i - 1]!.fault) return;
    const healedAt = d.startedAt + d.bounds[i]!;
    const stillOpen = intervals.find((iv) => iv.from < healedAt && iv.to >= healedAt);
    if (!stillOpen) {
      recoveries.push(`${phase.name}: already closed`);
      return;
    }
    const took = stillOpen.to - healedAt;
    const closed = stillOpen.to < end;
    recoveries.push(`${phase.name}: ${closed ? `${(took / 1000).toFixed(1)} s` : "still open at the end"}`);
    if (!closed || took > recoveryLimit) recoveryOk = false;
  });
  if (!multi) targets.push({
    name: "breaker closes after the origin heals",
    target: `<= ${(recoveryLimit / 1000).toFixed(0)} s (max open period + probe lease + 2 s)`,
    measured: recoveries.join(", ") || "no recovery phase",
    pass: recoveryOk,
  });

  // How long users of keys without a copy wait after the origin heals: from the first healthy
  // phase's start to the first answer the origin gave again (forwarded, not from a copy).
  const healedLimitMs = 2000;
  const heals: string[] = [];
  let healOk = true;
  phases.forEach((phase, i) => {
    if (multi || phase.fault || i === 0 || !phases[i - 1]!.fault) return;
    const healedAt = d.bounds[i]!;
    const fresh = d.results
      .filter((r) => r.intendedAt >= healedAt && r.status >= 200 && r.status < 400 && r.cacheStatus.includes("fwd=bypass"))
      .reduce<number | undefined>((first, r) => Math.min(first ?? Infinity, r.intendedAt + r.latencyMs), undefined);
    if (fresh === undefined) {
      heals.push(`${phase.name}: no fresh answer`);
      healOk = false;
      return;
    }
    heals.push(`${phase.name}: ${Math.round(fresh - healedAt)} ms`);
    if (fresh - healedAt > healedLimitMs) healOk = false;
  });
  if (heals.length > 0) {
    targets.push({
      name: "healed to first fresh answer",
      target: `<= ${healedLimitMs} ms from the origin healing to its first answer passed on`,
      measured: heals.join(", "),
      pass: healOk,
    });
  }

  // 7. The scale proxy: calls to the breaker object and KV per 1,000 requests.
  const baselineIndex = phases.findIndex((p) => p.baseline);
  // The pre checks read the full health page in the baseline's last 1.5 s, and that page asks each
  // breaker object for its state: the operator's read, not request traffic, so it is left out.
  const preChecksMs = d.plan.checks?.pre?.length ? PRE_CHECKS_LEAD_MS : 0;
  const healthy = callsPer1000(d.counters, d.startedAt + d.bounds[baselineIndex]! + 1000, d.startedAt + d.bounds[baselineIndex + 1]! - preChecksMs);
  const openCalls = intervals.length > 0 ? callsPer1000(d.counters, intervals[0]!.from + 1000, intervals[0]!.to) : undefined;
  targets.push({
    name: "breaker object calls per 1,000 requests, healthy",
    target: "0",
    measured: healthy ? `${healthy.doCalls.toFixed(2)} (KV reads ${healthy.kvReads.toFixed(2)}, KV writes ${healthy.kvWrites.toFixed(1)}, over ${healthy.requests} requests)` : "no samples",
    pass: healthy !== undefined && healthy.doCalls === 0,
  });
  // While open, an isolate calls the object about once a second (sync, probe lease), whatever
  // the rate: the per-1,000 budget is for the plan's rate and scales when calibration lowered it.
  const callScale = d.settings.rateScale ?? 1;
  const openLimit = 10 / callScale;
  targets.push({
    name: "breaker object calls per 1,000 requests, open",
    target: callScale < 1 ? `<= 10 at the plan's rate; ${+openLimit.toFixed(1)} at the ${Math.round(callScale * 100)} % rate used (calls are per second)` : "<= 10",
    measured: openCalls ? `${openCalls.doCalls.toFixed(2)} (KV reads ${openCalls.kvReads.toFixed(2)}, over ${openCalls.requests} requests)` : "breaker never open",
    // One origin: a fault must open the breaker. Several: a survivor may carry the fault without any opening.
    pass: openCalls === undefined ? multi || !phases.some((p) => p.fault) : openCalls.doCalls <= openLimit,
  });

  // Without the object the fleet has no shared breaker (isolates decide alone); a drill that
  // only passed that way has not tested the product as deployed.
  const lastCounters = d.counters[d.counters.length - 1]?.counters ?? {};
  const objectErrors = lastCounters["doErrors"] ?? 0;
  targets.push({
    name: "breaker object answered every call",
    target: "0 failed calls",
    measured: `${objectErrors} failed of ${lastCounters["doCalls"] ?? 0} calls`,
    pass: objectErrors === 0,
  });

  // 8. The shared tiers at fleet scale: writes per 1,000 healthy requests once the store was
  // first filled: the 2 s warm-up, or as long as this isolate's write budget needs to write each
  // hot key once, if longer. Rewrites, changed content and any cold key written count.
  const fillMs = Math.max(WARMUP_MS, Math.ceil((1000 * d.plan.mix.hotKeys) / (d.settings.sharedWritesPerSecond ?? Infinity)));
  const healthyWindows = phases
    .map((p, i) => ({ p, from: d.startedAt + Math.max(d.bounds[i]!, fillMs), to: d.startedAt + d.bounds[i + 1]! }))
    .filter((w) => !w.p.fault && w.to > w.from);
  const scale = d.settings.rateScale ?? 1;
  for (const [name, counter, budget] of [
    ["KV writes per 1,000 healthy requests", "kvWrites", KV_WRITES_PER_1000],
    ["Cache API writes per 1,000 healthy requests", "cacheWrites", CACHE_WRITES_PER_1000],
  ] as const) {
    const w = countersOver(d.counters, healthyWindows, counter);
    const limit = budget / scale;
    const per1000 = w.requests > 0 ? (1000 * w.writes) / w.requests : NaN;
    // Per healthy phase too, so a plan with several (the region plans) shows where writes come from.
    const byPhase = healthyWindows.length > 1 ? ` (per phase: ${healthyWindows.map((hw) => `${hw.p.name} ${countersOver(d.counters, [hw], counter).writes}/${countersOver(d.counters, [hw], counter).requests}`).join(", ")})` : "";
    targets.push({
      name,
      target: `<= ${budget}${scale < 1 ? ` at the plan's rate; ${+limit.toFixed(1)} at the ${Math.round(scale * 100)} % rate used (writes are per key and second)` : ""}, after the first ${fillMs / 1000} s (the store's first fill)`,
      measured: w.requests > 0 ? `${per1000.toFixed(2)} (${w.writes} writes over ${w.requests} healthy requests)${byPhase}` : "no healthy requests counted",
      pass: w.requests > 0 && per1000 <= limit,
    });
  }

  targets.push(...regionTargets(all));
  const writes = writeTargets(all);
  targets.push(...writes.targets);

  const fallback = sent.filter((r) => r.cacheStatus.includes("; hit")).length;
  const servedAges = sent.filter((r) => r.cacheStatus.includes("; hit") && r.age >= 0).map((r) => r.age);
  const totals: Record<string, number | string> = {
    requests: d.results.length,
    answered: sent.filter((r) => r.status > 0).length,
    "fallback answers": fallback,
    "2xx": sent.filter((r) => r.status >= 200 && r.status < 300).length,
    "5xx": sent.filter((r) => r.status >= 500).length,
    "no answer": sent.filter((r) => r.status === 0).length,
    "data points": d.points.length,
    "breaker transitions": transitions.length,
    "baseline p50 ms": +percentile(baselineResults.map((r) => r.latencyMs), 50).toFixed(2),
    "baseline p95 ms": +baseP95.toFixed(2),
    "fault p50 ms": +percentile(faultResults.map((r) => r.latencyMs), 50).toFixed(2),
    "fault p99 ms": +faultP99.toFixed(2),
    "fallback Age p50 s": percentile(servedAges, 50),
    "fallback Age p95 s": percentile(servedAges, 95),
    ...writes.totals,
  };
  return { targets, totals };
}

/** The growth of one counter and of the request count over several windows (epoch ms), summed. */
export function countersOver(samples: CounterSample[], windows: Interval[], counter: string): { writes: number; requests: number } {
  let writes = 0;
  let requests = 0;
  for (const w of windows) {
    const before = [...samples].reverse().find((s) => s.at <= w.from) ?? samples[0];
    const after = [...samples].reverse().find((s) => s.at <= w.to);
    if (!before || !after || after.at <= before.at) continue;
    writes += (after.counters[counter] ?? 0) - (before.counters[counter] ?? 0);
    requests += (after.counters["requests"] ?? 0) - (before.counters["requests"] ?? 0);
  }
  return { writes, requests };
}

/** Counter deltas between two times, per 1,000 requests the worker handled in between. */
/** How long before the baseline's end the pre checks start (run.ts), plus a margin for the counters' sampling. */
const PRE_CHECKS_LEAD_MS = 2000;

function callsPer1000(samples: CounterSample[], from: number, to: number) {
  const before = [...samples].reverse().find((s) => s.at <= from) ?? samples[0];
  const after = [...samples].reverse().find((s) => s.at <= to);
  if (!before || !after || after === before) return undefined;
  const requests = (after.counters["requests"] ?? 0) - (before.counters["requests"] ?? 0);
  if (requests <= 0) return undefined;
  const per = (k: string) => ((after.counters[k] ?? 0) - (before.counters[k] ?? 0)) * (1000 / requests);
  return { requests, doCalls: per("doCalls"), kvReads: per("kvReads"), kvWrites: per("kvWrites") };
}

/**
 * The fallback numbers as the clients saw them, for comparison with the dashboard's SQL over the
 * worker's own data points. A lookup is an anonymous GET answered from the fallback path: a copy
 * ("; hit" in Cache-Status) or no copy to give ("no-lkg"); credentialed requests and writes are
 * never looked up.
 */
export function fallbackCounts(results: RequestResult[]): { served: number; lookups: number; misses: number; missRate: number } {
  let served = 0;
  let misses = 0;
  for (const r of results) {
    if (r.cacheStatus.includes("; hit")) served++;
    // Hostile clients (drill broken-route) send no credentials either: their GETs are looked up too.
    else if (r.method === "GET" && (r.user === "anonymous" || r.user === HOSTILE_USER) && r.cacheStatus.includes("no-lkg")) misses++;
  }
  const lookups = served + misses;
  return { served, lookups, misses, missRate: lookups === 0 ? 0 : misses / lookups };
}

/** The dashboard's totals (SQL on the captured points) against the drill's own count. */
export function dashboardAgreement(fromResponses: ReturnType<typeof fallbackCounts>, sql: { lkg_served: number; lookups: number; lookup_misses: number }): TargetResult {
  const sqlRate = sql.lookups === 0 ? 0 : sql.lookup_misses / sql.lookups;
  const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
  return {
    name: "dashboard agrees with the drill",
    target: "fallback answers and cache_miss_rate from SQL = counted from responses",
    measured: `fallback answers ${sql.lkg_served} (SQL) vs ${fromResponses.served} (responses); cache_miss_rate ${pct(sqlRate)} (${sql.lookup_misses}/${sql.lookups}) vs ${pct(fromResponses.missRate)} (${fromResponses.misses}/${fromResponses.lookups})`,
    pass: sql.lkg_served === fromResponses.served && sql.lookups === fromResponses.lookups && sql.lookup_misses === fromResponses.misses,
  };
}

/**
 * Drill `broken-route`: hostile clients hammer a route that always answers 500 and one slow by
 * design, inside the users' mix, on a healthy origin. Nothing they send may cost the users:
 * the breaker never opens, and every user's request is answered by the origin, as fast as in the
 * baseline (p95 within 25 %).
 */
function hostileTargets(d: DrillData, p95Limit: number, baseP95: string): TargetResult[] {
  const phases = d.plan.phases;
  const inHostile = (r: RequestResult) => phases[r.phase]?.hostile === true && r.error !== "unsent";
  const hostile = d.results.filter((r) => r.user === HOSTILE_USER && inHostile(r));
  const users = d.results.filter((r) => r.user !== HOSTILE_USER && inHostile(r));
  const opened = d.points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[2] === "open");
  const held = d.points.filter((p) => p.blobs?.[0] === "request" && p.blobs?.[12] === "held").length;
  const checks = d.points.filter((p) => p.blobs?.[0] === "health_check" && p.blobs?.[1] === "confirm");
  const notFromOrigin = users.filter((r) => !(r.status >= 200 && r.status < 300 && r.cacheStatus.includes("fwd=bypass")));
  const userP95 = percentile(users.map((r) => r.latencyMs), 95);
  return [
    {
      name: "hostile clients never open the breaker",
      target: "0 openings while they send",
      measured: `${opened.length} openings; ${hostile.length} hostile requests, ${held} failures held from the breaker, ${checks.length} confirming health checks (${checks.filter((c) => c.blobs?.[2] === "ok").length} ok)`,
      pass: hostile.length > 0 && opened.length === 0,
    },
    {
      name: "every user's request answered by the origin beside them",
      target: "2xx passed on from the origin (Cache-Status fwd=bypass), none from a copy or an error",
      measured: `${users.length - notFromOrigin.length} of ${users.length}${notFromOrigin.length ? `; first other: ${notFromOrigin[0]!.status} ${JSON.stringify(notFromOrigin[0]!.cacheStatus)}` : ""}`,
      pass: users.length > 0 && notFromOrigin.length === 0,
    },
    {
      name: "users' p95 beside hostile clients vs healthy baseline",
      target: `<= 1.25 x baseline p95 (${baseP95}; 2 ms floor)`,
      measured: fmt(userP95),
      pass: userP95 <= p95Limit,
    },
  ];
}
