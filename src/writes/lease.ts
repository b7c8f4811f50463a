/**
 * The writer lease as the request path uses it: which lease is in force, what one write does now
 * (pass to the writer, or queue and why), and the isolate's automatic promotion when the writer fails.
 * Pure but for AutoPromoter's memory of its last report.
 */
import type { Clock } from "../clock.ts";
import type { LeaseConfig, LeaseEvent } from "../routing/state.ts";
import type { RoutingSnapshot } from "../routing/types.ts";
import type { WritePlan, WriterLease } from "./types.ts";

/** The lease a snapshot holds, or the one a fleet that never promoted has: the configured writer at epoch 1, not frozen. */
export function effectiveLease(snapshot: Pick<RoutingSnapshot, "writer">, initialWriter: string): WriterLease {
  return snapshot.writer ?? { region: initialWriter, epoch: 1, frozen: false, reason: "initial", changedAt: 0 };
}

/**
 * What one write does now, from this isolate's copy of the lease read at `readAt`. The order
 * matters: an operator's freeze and a draining promotion hold writes whatever else is true; a copy
 * older than `trustMs` may miss a promotion another isolate started, so it cannot send a write
 * anywhere; only then does the writer's own health count.
 */
export function writePlan(lease: WriterLease, readAt: number, now: number, writerUsable: boolean, trustMs: number): WritePlan {
  if (lease.frozen) return { kind: "queue", why: "frozen" };
  if (lease.promotion) return { kind: "queue", why: "promoting" };
  if (!(now - readAt <= trustMs)) return { kind: "queue", why: "lease-unknown" };
  if (!writerUsable) return { kind: "queue", why: "writer-down" };
  return { kind: "pass", region: lease.region, epoch: lease.epoch };
}

export interface Candidate {
  name: string;
  usable: boolean;
  /** ORIGINS priority: lower first. */
  priority: number;
}

/** The region a failed writer's lease goes to: the first usable other region in failover order (priority, then ORIGINS order, which `candidates` is in). */
export function survivorFor(candidates: readonly Candidate[], writer: string): string | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (c.name === writer || !c.usable) continue;
    // Strictly lower only: a tie keeps the earlier one (ORIGINS order).
    if (best === undefined || c.priority < best.priority) best = c;
  }
  return best?.name;
}

/** Least time between two promotion reports from one isolate: every isolate sees the same failure, the object needs hear it once. */
export const AUTO_PROMOTE_INTERVAL_MS = 2000;

export interface AutoPromoterOptions {
  clock: Clock;
  configured: LeaseConfig;
  /** How long writes drain (frozen) before the new epoch starts (WritesConfig.promotionDrainMs). */
  drainMs: number;
  /** WritesConfig.leaseTrustMs: how long a report that failed or timed out leaves the lease unknown. */
  trustMs: number;
  /** Marks this isolate's lease unknown until then (RoutingView.markLeaseUnknown): a report that did not answer may still land. */
  onUnknown: (until: number) => void;
}

/**
 * One per isolate: when the writer region cannot take writes and a survivor can, reports a
 * promotion to the object, which decides (the first report starts it, later ones change nothing
 * or are refused by `expectedEpoch`). Never while frozen (an operator is in charge) or while a
 * promotion is already under way.
 */
export class AutoPromoter {
  private lastReportAt = Number.NEGATIVE_INFINITY;
  private readonly options: AutoPromoterOptions;

  constructor(options: AutoPromoterOptions) {
    this.options = options;
  }

  /** The report's work for ctx.waitUntil, or undefined when there is nothing to report (almost always). It never rejects. */
  consider(
    now: number,
    writerName: string,
    writerUsable: boolean,
    survivors: readonly Candidate[],
    lease: WriterLease,
    report: (event: LeaseEvent) => Promise<void>,
  ): Promise<void> | undefined {
    if (writerUsable || lease.frozen || lease.promotion || now - this.lastReportAt < AUTO_PROMOTE_INTERVAL_MS) return undefined;
    const to = survivorFor(survivors, writerName);
    if (to === undefined) return undefined;
    this.lastReportAt = now;
    const { configured, drainMs, trustMs, onUnknown, clock } = this.options;
    const event: LeaseEvent = { type: "promote", to, from: writerName, expectedEpoch: lease.epoch, reason: `auto: ${writerName} breaker open`, source: "isolate", drainMs, configured };
    return report(event).catch(() => {
      // Unknown, not failed: a call that timed out may still have started the promotion.
      onUnknown(clock.now() + trustMs);
    });
  }
}
