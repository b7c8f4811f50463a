/**
 * The isolate's side of the writer lease: the lease a write is planned on (refreshed from the
 * object first when this isolate's copy is too old to trust), and the automatic promotion when
 * the writer region fails while a survivor is well.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { RequestContext } from "../request/context.ts";
import type { Router } from "../routing/router.ts";
import type { Region } from "../runtime.ts";
import { AutoPromoter, effectiveLease } from "./lease.ts";
import { leaseConfig } from "./lease-settings.ts";
import type { WriterLease, WritesConfig } from "./types.ts";

export interface PlannedLease {
  lease: WriterLease;
  /** When the copy was read (-Infinity while a lease change's outcome is unknown). */
  readAt: number;
}

export class LeaseKeeper {
  private readonly writes: WritesConfig;
  private readonly router: Router;
  private readonly promoter: AutoPromoter | undefined;

  constructor(config: Config & { writes: WritesConfig }, router: Router, clock: Clock) {
    this.writes = config.writes;
    this.router = router;
    this.promoter =
      config.writes.autoPromote && config.origins.length > 1
        ? new AutoPromoter({ clock, configured: leaseConfig(config), drainMs: config.writes.promotionDrainMs, trustMs: config.writes.leaseTrustMs, onUnknown: (until) => router.view.markLeaseUnknown(until) })
        : undefined;
  }

  /**
   * The lease to plan a write on. A copy older than the trust window (a quiet isolate, whose
   * background sync runs only on traffic) is refreshed first: the write waits for one object call
   * (bounded by its timeout) rather than being queued for want of a recent read.
   */
  async current(now: number): Promise<PlannedLease> {
    const view = this.router.view;
    let reading = view.lease(now);
    if (!(now - reading.readAt <= this.writes.leaseTrustMs) && this.router.link && now >= view.leaseUnknownUntil) {
      const sync = view.background(this.router.link, now, true);
      if (sync) await sync;
      reading = view.lease(now);
    }
    return { lease: effectiveLease(reading, this.writes.initialWriter), readAt: reading.readAt };
  }

  /** The writer region can take a write now: its breaker closed and (several regions) not left. */
  usable(region: Region | undefined): boolean {
    return region !== undefined && region.view.state.kind === "closed" && (region.route?.health.usable ?? true);
  }

  /** After any request: if the writer failed and a survivor is well, report a promotion (at most every 2 s per isolate). */
  considerPromotion(x: RequestContext, now: number): void {
    const link = this.router.link;
    if (!this.promoter || !link) return;
    const view = this.router.view;
    const lease = effectiveLease(view.lease(now), this.writes.initialWriter);
    const writer = x.runtime.regions.get(lease.region);
    if (this.usable(writer)) return;
    const candidates = this.router.regions.map((r) => ({ name: r.origin.name, usable: this.usable(r), priority: r.origin.priority }));
    const work = this.promoter.consider(now, lease.region, false, candidates, lease, async (event) => {
      const outcome = await view.admin(link, event);
      if (outcome.kind === "unreachable") throw new Error(outcome.error);
    });
    if (work) x.ctx.waitUntil(work);
  }
}
