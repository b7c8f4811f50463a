/** One origin's breaker as the drill sees it: how soon it opens, that it leaves the origin alone, that it closes, what it costs the object. */
import { hardDown } from "../regions.ts";
import type { FaultSetting, TargetResult } from "../types.ts";
import { callsPer1000, DETECTION_LIMIT_MS, onsetOf, openIntervals, PRE_CHECKS_LEAD_MS, type DataPoint, type Interval, type RunView } from "./data.ts";

/** With several regions a failing region's requests fail over: the region targets judge routing instead of one breaker's timings. */
export function breakerTargets(v: RunView): TargetResult[] {
  const intervals = openIntervals(v.d.points, v.end);
  const single = v.multi ? [] : [detection(v), onlyProbesWhileOpen(v, intervals), closesAfterHeal(v, intervals), healedToFresh(v)];
  return [...single.filter((t): t is TargetResult => t !== undefined), ...objectCalls(v, intervals)];
}

const objectTransitions = (points: DataPoint[]) => points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[4] === "object").sort((a, b) => a.timestamp - b.timestamp);

/** Each fault that fails every request (not a flaky share), at its first phase: the origin and the phase. */
function hardFaults(v: RunView): { origin: string; phase: number }[] {
  const out: { origin: string; phase: number }[] = [];
  v.phases.forEach((p, i) => {
    for (const [origin, setting] of Object.entries(p.origins)) {
      const before: FaultSetting | undefined = i > 0 ? v.phases[i - 1]!.origins[origin] : undefined;
      if (hardDown(setting) && !(before && hardDown(before))) out.push({ origin, phase: i });
    }
  });
  return out;
}

/**
 * From the fault's onset as the origin applied it to the breaker opening. Nothing is discounted:
 * a health check that passed just before the fault, or a slow deadline that grows with the
 * origin's latency, is part of how long detection takes.
 */
function detection(v: RunView): TargetResult | undefined {
  const faults = hardFaults(v);
  if (faults.length === 0) return undefined;
  const transitions = objectTransitions(v.d.points);
  let ok = true;
  const parts = faults.map(({ origin, phase }) => {
    const onset = v.d.startedAt + onsetOf(v.d, phase, origin);
    const before = transitions.filter((t) => t.timestamp <= onset).pop();
    if (before !== undefined && before.blobs?.[2] !== "closed") return `${v.phases[phase]!.name}: already open`;
    const opened = transitions.find((t) => t.timestamp >= onset && t.blobs?.[2] === "open");
    const delay = opened === undefined ? Infinity : opened.timestamp - onset;
    if (!(delay <= DETECTION_LIMIT_MS)) ok = false;
    return `${v.phases[phase]!.name}: ${Number.isFinite(delay) ? `${Math.round(delay)} ms` : "never opened"}`;
  });
  return {
    name: "detection: fault onset to breaker open",
    target: `<= ${DETECTION_LIMIT_MS} ms from the fault's onset as the origin applied it, for every fault that fails every request`,
    measured: parts.join(", "),
    pass: ok,
    latency: true,
  };
}

/** While open, the origin hears only probes: a client's request (ORIGIN_HEALTH_PATH off) or the worker's health check. */
function onlyProbesWhileOpen(v: RunView, intervals: Interval[]): TargetResult {
  const points = v.d.points;
  const probes = [...points.filter((p) => p.blobs?.[0] === "request" && p.blobs?.[11] === "probe"), ...points.filter((p) => p.blobs?.[0] === "health_check" && p.blobs?.[1] === "probe")];
  // The origin counts a request when it arrives; a point is stamped when the answer is ready. Line
  // them up by when the probe was sent (double1 is its latency), or a probe that straddles a
  // second boundary looks like an unexplained origin request.
  const probeSentAt = (p: DataPoint) => p.timestamp - (p.doubles?.[0] ?? 0);
  let originWhileOpen = 0;
  let probesWhileOpen = 0;
  for (const iv of intervals) {
    // Whole seconds strictly inside the interval: the origin counts by the second.
    for (let s = Math.ceil(iv.from / 1000) + 1; (s + 1) * 1000 <= iv.to; s++) {
      for (const perSecond of Object.values(v.d.originPerSecond)) originWhileOpen += perSecond[String(s)] ?? 0;
      probesWhileOpen += probes.filter((p) => probeSentAt(p) >= s * 1000 && probeSentAt(p) < (s + 1) * 1000).length;
    }
  }
  return {
    name: "while open, the origin gets only probes",
    target: "origin requests <= probes sent",
    measured: `${originWhileOpen} origin requests, ${probesWhileOpen} probes in ${intervals.length} open interval(s)`,
    pass: originWhileOpen <= probesWhileOpen,
  };
}

/** The first healthy phase after each run of faults. */
function healedPhases(v: RunView): number[] {
  return v.phases.flatMap((p, i) => (!p.fault && i > 0 && v.phases[i - 1]!.fault ? [i] : []));
}

function closesAfterHeal(v: RunView, intervals: Interval[]): TargetResult | undefined {
  const { settings } = v.d;
  const limit = settings.openMaxMs + settings.timeoutMs + 1000 + 2000;
  let ok = true;
  const parts = healedPhases(v).map((i) => {
    const healedAt = v.d.startedAt + v.d.bounds[i]!;
    const stillOpen = intervals.find((iv) => iv.from < healedAt && iv.to >= healedAt);
    if (!stillOpen) return `${v.phases[i]!.name}: already closed`;
    const closed = stillOpen.to < v.end;
    if (!closed || stillOpen.to - healedAt > limit) ok = false;
    return `${v.phases[i]!.name}: ${closed ? `${((stillOpen.to - healedAt) / 1000).toFixed(1)} s` : "still open at the end"}`;
  });
  if (parts.length === 0) return undefined;
  return { name: "breaker closes after the origin heals", target: `<= ${(limit / 1000).toFixed(0)} s (max open period + probe lease + 2 s)`, measured: parts.join(", "), pass: ok, latency: true };
}

/** How long users of keys without a copy wait after the origin heals: to the first answer the origin gave again. */
function healedToFresh(v: RunView): TargetResult | undefined {
  const limitMs = 2000;
  let ok = true;
  const parts = healedPhases(v).map((i) => {
    const healedAt = v.d.bounds[i]!;
    const fresh = v.sent.filter((r) => r.intendedAt >= healedAt && r.status >= 200 && r.status < 400 && r.cacheStatus.includes("fwd=bypass"));
    if (fresh.length === 0) {
      ok = false;
      return `${v.phases[i]!.name}: no fresh answer`;
    }
    const took = fresh.reduce((first, r) => Math.min(first, r.intendedAt + r.latencyMs), Infinity) - healedAt;
    if (took > limitMs) ok = false;
    return `${v.phases[i]!.name}: ${Math.round(took)} ms`;
  });
  if (parts.length === 0) return undefined;
  return { name: "healed to first fresh answer", target: `<= ${limitMs} ms from the origin healing to its first answer passed on`, measured: parts.join(", "), pass: ok, latency: true };
}

/** One origin: calls to its object over the first open interval. */
function openCalls(v: RunView, intervals: Interval[], limit: number): { measured: string; pass: boolean } | undefined {
  const open = intervals.length > 0 ? callsPer1000(v.d.counters, intervals[0]!.from + 1000, intervals[0]!.to) : undefined;
  return open && { measured: `${open.doCalls.toFixed(2)} (KV reads ${open.kvReads.toFixed(2)}, over ${open.requests} requests)`, pass: open.doCalls <= limit };
}

/**
 * Several regions: each open region's own object over its first open interval. The budget is per
 * object (an open breaker costs its object about a call a second per isolate); another region's
 * object, still syncing after trouble of its own, is not this breaker's cost.
 */
function openCallsPerRegion(v: RunView, limit: number): { measured: string; pass: boolean } | undefined {
  const parts: string[] = [];
  let pass = true;
  for (const region of v.d.plan.regions?.map((r) => r.name) ?? []) {
    const first = openIntervals(v.d.points, v.end, region)[0];
    const calls = first && callsPer1000(v.d.counters, first.from + 1000, first.to, `doCalls:${region}`);
    if (!calls) continue;
    if (calls.doCalls > limit) pass = false;
    parts.push(`${region}: ${calls.doCalls.toFixed(2)} over ${calls.requests} requests`);
  }
  return parts.length ? { measured: parts.join("; "), pass } : undefined;
}

/** The scale proxy: a healthy fleet sends the breaker object nothing, an open one about a call a second per isolate. */
function objectCalls(v: RunView, intervals: Interval[]): TargetResult[] {
  const { d, phases } = v;
  const baselineIndex = phases.findIndex((p) => p.baseline);
  // The pre checks read the full health page in the baseline's last 1.5 s, and that page asks each
  // breaker object for its state: the operator's read, not request traffic, so it is left out.
  const preChecksMs = d.plan.checks?.pre?.length ? PRE_CHECKS_LEAD_MS : 0;
  const healthy = callsPer1000(d.counters, d.startedAt + d.bounds[baselineIndex]! + 1000, d.startedAt + d.bounds[baselineIndex + 1]! - preChecksMs);
  // Calls are per second, not per request: the per-1,000 budget is the plan's rate's, and scales when calibration lowered the rate.
  const scale = d.settings.rateScale ?? 1;
  const openLimit = 10 / scale;
  const open = v.multi ? openCallsPerRegion(v, openLimit) : openCalls(v, intervals, openLimit);
  const last = d.counters[d.counters.length - 1]?.counters ?? {};
  const errors = last["doErrors"] ?? 0;
  return [
    {
      name: "breaker object calls per 1,000 requests, healthy",
      target: "0",
      measured: healthy ? `${healthy.doCalls.toFixed(2)} (KV reads ${healthy.kvReads.toFixed(2)}, KV writes ${healthy.kvWrites.toFixed(1)}, over ${healthy.requests} requests)` : "no samples",
      pass: healthy !== undefined && healthy.doCalls === 0,
    },
    {
      name: "breaker object calls per 1,000 requests, open",
      target: `${scale < 1 ? `<= 10 at the plan's rate; ${+openLimit.toFixed(1)} at the ${Math.round(scale * 100)} % rate used (calls are per second)` : "<= 10"}${v.multi ? ", to each open region's object over its first open interval" : ""}`,
      measured: open?.measured ?? "breaker never open",
      // One origin: a fault must open the breaker. Several: a survivor may carry the fault without any opening.
      pass: open === undefined ? v.multi || !phases.some((p) => p.fault) : open.pass,
    },
    // Without the object the fleet has no shared breaker; a drill that only passed that way has not tested the product as deployed.
    { name: "breaker object answered every call", target: "0 failed calls", measured: `${errors} failed of ${last["doCalls"] ?? 0} calls`, pass: errors === 0 },
  ];
}
