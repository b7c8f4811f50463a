/**
 * Recent origin latency, to tell "slow" from "unreachable" long before the hard timeout: a
 * partition that drops packets looks like a hang, and waiting the full timeout for every
 * request in flight would break the p99 promise for the first seconds of every outage.
 */
import type { Config } from "../config.ts";

/** Below this, "slow" would fire on ordinary jitter. */
export const SLOW_FLOOR_MS = 25;
/**
 * "Slow" is the larger of two bounds, each far outside what a healthy origin does:
 * - 3 x the recent p90, for an origin whose spread is its own (brownout jitter, a far region);
 * - 2 x the recent p99, for an origin with a heavy tail.
 * Not 4 x the p99: the p99 of 256 answers is their third slowest, so three scheduling hiccups
 * set it. The p90 is 25 answers deep and ignores them. 3 x, not 4 x, the p90: a slow verdict opens
 * nothing by itself (the trip gate holds it until the health check confirms, and one stall counts
 * once), so its cost when wrong is one health check, while its delay is most of how long a
 * partition takes to detect: for a region 30 ms away (p90 about 43 ms) 4 x made detection about
 * 300 ms, at the bound; 3 x saves about 40 ms of it. Requests holding a copy no longer wait for it
 * (the copy budget answers them first).
 */
export const SLOW_P90_MULTIPLIER = 3;
export const SLOW_P99_MULTIPLIER = 2;
const WINDOW = 256;
/** Until this many answers were seen there is no baseline, and nothing counts as slow. */
const MIN_SAMPLES = 32;
const RECOMPUTE_EVERY = 32;
/**
 * The span the copy budget's p99 settles over (settledP99): a brownout or a rolling deploy shorter
 * than it does not move it; an origin that really moved farther away is followed within a minute.
 */
export const SETTLED_MS = 60_000;

export class LatencyTracker {
  private readonly samples = new Float64Array(WINDOW);
  private count = 0;
  private sinceRecompute = 0;
  private p90: number | undefined;
  private p99: number | undefined;
  /** Requests started so far; each request's number orders it against slowness already counted. */
  private started = 0;
  /** Requests numbered below this were already in flight when the last slow failure was counted. */
  private slowCountedBefore = 0;
  /** Per second with a recomputation over a full window, its lowest p99, for the last SETTLED_MS (at most 60 entries). */
  private readonly settled: { second: number; p99: number }[] = [];
  private settledCache: { second: number; p99: number | undefined } | undefined;

  /** A number for a request that is about to go to the origin. */
  begin(): number {
    return this.started++;
  }

  /**
   * Whether a request found slow should count as a breaker failure. One stall (a GC pause at
   * the origin, a busy isolate) makes every request in flight slow at once; those are one
   * failure, not fifty, or a 30 ms hiccup would open the breaker on a healthy origin. So only
   * a request sent after the last counted slowness was noticed counts again: the threshold of
   * consecutive failures then needs slowness that lasts, as a partition does.
   */
  claimSlow(request: number): boolean {
    if (request < this.slowCountedBefore) return false;
    this.slowCountedBefore = this.started;
    return true;
  }

  record(ms: number, now: number): void {
    this.samples[this.count % WINDOW] = ms;
    this.count++;
    if (++this.sinceRecompute >= RECOMPUTE_EVERY && this.count >= MIN_SAMPLES) {
      this.sinceRecompute = 0;
      const window = Array.from(this.samples.subarray(0, Math.min(this.count, WINDOW))).sort((a, b) => a - b);
      this.p90 = quantile(window, 0.9);
      this.p99 = quantile(window, 0.99);
      this.settle(this.p99, now);
    }
  }

  private settle(p99: number, now: number): void {
    this.settledCache = undefined;
    // Only full windows: a p99 of the first few dozen answers has too few tail answers to be one.
    if (this.count < WINDOW) return;
    const second = Math.floor(now / 1000);
    const last = this.settled[this.settled.length - 1];
    if (last?.second === second) last.p99 = Math.min(last.p99, p99);
    else this.settled.push({ second, p99 });
    while (this.settled.length > 0 && this.settled[0]!.second <= second - SETTLED_MS / 1000) this.settled.shift();
  }

  /**
   * The origin's p99 at its best over the last SETTLED_MS: the lowest p99 of a full window computed
   * then (the current p99 when there is none). A brownout lifts the recent p99 within a second; the
   * copy budget must not follow it up, or a request with a copy would wait for a degraded origin as
   * long as it now usually takes, past the 50 ms the copy is for. The lowest, not a quantile: a
   * new isolate's short healthy history must still outweigh a long brownout (a lower quartile rose
   * with a 32 s brownout after 10 s of health). The cost: window p99s vary, and their lowest is
   * below the typical one, so an origin slower than the budget sees a few in a hundred answers
   * served from the copy rather than one.
   */
  settledP99(now: number): number | undefined {
    const second = Math.floor(now / 1000);
    // Asked by every request that holds a copy: worked out at most once a second (and after each recomputation).
    if (this.settledCache?.second === second) return this.settledCache.p99;
    const since = second - SETTLED_MS / 1000;
    let p99: number | undefined;
    for (const s of this.settled) if (s.second > since && (p99 === undefined || s.p99 < p99)) p99 = s.p99;
    this.settledCache = { second, p99: p99 ?? this.p99 };
    return this.settledCache.p99;
  }

  /** The recent p90 and p99 of origin latency in ms, once there is a baseline. */
  recent(): { p90: number; p99: number } | undefined {
    return this.p90 === undefined || this.p99 === undefined ? undefined : { p90: this.p90, p99: this.p99 };
  }

  /** Ms after which a request counts as slow, or undefined when it never does. */
  slowAfter(setting: Config["originSlow"], timeoutMs: number): number | undefined {
    if (setting.kind === "off") return undefined;
    if (setting.kind === "fixed") return setting.ms;
    if (this.p90 === undefined || this.p99 === undefined) return undefined;
    const ms = Math.max(SLOW_FLOOR_MS, Math.ceil(this.p90 * SLOW_P90_MULTIPLIER), Math.ceil(this.p99 * SLOW_P99_MULTIPLIER));
    return ms < timeoutMs ? ms : undefined;
  }
}

/** `sorted` ascending and not empty. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Most route classes with their own baseline per origin; the rest share one. */
export const ROUTE_CLASSES_MAX = 256;
/** Longer first segments share the overflow baseline. */
export const ROUTE_CLASS_MAX_CHARS = 64;

/**
 * The route class of a path, its first segment ("/api" for "/api/users/7"): endpoints under one
 * prefix tend to share a cost, and a class per path would never collect a baseline.
 */
export function routeClass(pathname: string): string {
  const end = pathname.indexOf("/", 1);
  return end < 0 ? pathname : pathname.slice(0, end);
}

/**
 * Latency baselines of one origin: one per route class, so an endpoint slow by design (a report,
 * a search) is slow only against its own history, not against the fast routes beside it; and one
 * for the whole origin, for deadlines that concern the origin itself (the health check).
 */
export class LatencyBaselines {
  readonly origin = new LatencyTracker();
  private readonly byClass = new Map<string, LatencyTracker>();
  /** Classes past ROUTE_CLASSES_MAX: a client inventing prefixes cannot grow the map. */
  private readonly overflow = new LatencyTracker();

  for(pathname: string): LatencyTracker {
    const name = routeClass(pathname);
    let tracker = this.byClass.get(name);
    if (tracker === undefined) {
      // A long segment is no route anyone configured; it would also pin its whole path in memory.
      if (this.byClass.size >= ROUTE_CLASSES_MAX || name.length > ROUTE_CLASS_MAX_CHARS) return this.overflow;
      tracker = new LatencyTracker();
      this.byClass.set(name, tracker);
    }
    return tracker;
  }

  /**
   * When a request of `tracker`'s class counts as slow: by its own baseline once it has one, until
   * then by the whole origin's, so a partition is still noticed on a new or rarely used route.
   */
  slowAfter(tracker: LatencyTracker, setting: Config["originSlow"], timeoutMs: number): number | undefined {
    return tracker.recent() !== undefined ? tracker.slowAfter(setting, timeoutMs) : this.origin.slowAfter(setting, timeoutMs);
  }

  /**
   * When a request of `tracker`'s class that holds a copy stops waiting (undefined: it never
   * does before `slowAfterMs` or the timeout, which answer from the copy anyway). At least the
   * settled p99 (the class's, else the origin's: see settledP99): an origin whose
   * normal latency exceeds the budget (a far region) would otherwise have every request with a copy
   * served stale while it is healthy; with the p99, about one in a hundred is. The settled p99, not
   * the recent one, so a browned-out origin does not raise the wait it is answered from a copy at.
   * No baseline yet: the budget alone.
   */
  copyBudgetAfter(tracker: LatencyTracker, budgetMs: number, slowAfterMs: number | undefined, timeoutMs: number, now: number): number | undefined {
    const p99 = tracker.recent() !== undefined ? tracker.settledP99(now) : this.origin.settledP99(now);
    const ms = p99 === undefined ? budgetMs : Math.max(budgetMs, Math.ceil(p99));
    return ms < Math.min(slowAfterMs ?? timeoutMs, timeoutMs) ? ms : undefined;
  }

  record(tracker: LatencyTracker, ms: number, now: number): void {
    tracker.record(ms, now);
    this.origin.record(ms, now);
  }
}
