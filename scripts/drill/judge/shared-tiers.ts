/** The shared tiers at fleet scale: KV and Cache API writes per 1,000 healthy requests, and bursts of 5xx. */
import type { TargetResult } from "../types.ts";
import { CACHE_WRITES_PER_1000, countersOver, KV_WRITES_PER_1000, WARMUP_MS, type RunView } from "./data.ts";

/**
 * Writes per 1,000 healthy requests once the store was first filled: the warm-up, or as long as
 * this isolate's write budget needs to write each hot key once, if longer. Rewrites, changed
 * content and any cold key written count. Writes are per key and second, so the budgets scale by
 * the plan's rate over the rate used.
 */
export function sharedTierTargets(v: RunView): TargetResult[] {
  const { d } = v;
  const fillMs = Math.max(WARMUP_MS, Math.ceil((1000 * d.plan.mix.hotKeys) / (d.settings.sharedWritesPerSecond ?? Infinity)));
  const windows = v.phases
    .map((p, i) => ({ p, from: d.startedAt + Math.max(d.bounds[i]!, fillMs), to: d.startedAt + d.bounds[i + 1]! }))
    .filter((w) => !w.p.fault && w.to > w.from);
  const scale = d.settings.rateScale ?? 1;
  const budgets = [
    ["KV writes per 1,000 healthy requests", "kvWrites", KV_WRITES_PER_1000],
    ["Cache API writes per 1,000 healthy requests", "cacheWrites", CACHE_WRITES_PER_1000],
  ] as const;
  return budgets.map(([name, counter, budget]) => {
    const w = countersOver(d.counters, windows, counter);
    const limit = budget / scale;
    const per1000 = w.requests > 0 ? (1000 * w.writes) / w.requests : NaN;
    // Per healthy phase too, so a plan with several (the region plans) shows where writes come from.
    const byPhase = windows.length > 1 ? ` (per phase: ${windows.map((hw) => `${hw.p.name} ${countersOver(d.counters, [hw], counter).writes}/${countersOver(d.counters, [hw], counter).requests}`).join(", ")})` : "";
    return {
      name,
      target: `<= ${budget}${scale < 1 ? ` at the plan's rate; ${+limit.toFixed(1)} at the ${Math.round(scale * 100)} % rate used (writes are per key and second)` : ""}, after the first ${fillMs / 1000} s (the store's first fill)`,
      measured: w.requests > 0 ? `${per1000.toFixed(2)} (${w.writes} writes over ${w.requests} healthy requests)${byPhase}` : "no healthy requests counted",
      pass: w.requests > 0 && per1000 <= limit,
    };
  });
}

/** The seed's "no 5xx bursts > 60 seconds": the longest run of seconds in which most answers were 5xx or none. */
export function fiveXxBurst(v: RunView): TargetResult {
  const perSecond = new Map<number, { total: number; bad: number }>();
  for (const r of v.sent) {
    const s = Math.floor(r.intendedAt / 1000);
    const e = perSecond.get(s) ?? { total: 0, bad: 0 };
    e.total++;
    if (r.status >= 500 || r.status === 0) e.bad++;
    perSecond.set(s, e);
  }
  let longest = 0;
  let run = 0;
  const lastSecond = Math.ceil(v.d.bounds[v.d.bounds.length - 1]! / 1000);
  for (let s = 0; s <= lastSecond; s++) {
    const e = perSecond.get(s);
    run = e && e.bad > 0.5 * e.total ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return { name: "no 5xx burst longer than 60 s", target: "<= 60 s with most answers 5xx", measured: `${longest} s longest`, pass: longest <= 60 };
}
