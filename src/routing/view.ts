/**
 * The isolate's view of the fleet routing controls. Requests read it from memory (`control`); it
 * re-reads the object in the background at most once per `syncMs`, applies this isolate's own
 * reports at once (so the isolate acts without waiting) and sends them after, and keeps its last
 * snapshot whenever the object is unreachable.
 */
import type { Clock } from "../clock.ts";
import type { RoutingLink } from "./link.ts";
import { apply, controlOf, EMPTY_SNAPSHOT, rampPosition, type Applied, type RoutingEvent, type RoutingPoint, type RoutingRules } from "./state.ts";
import type { WriterLease } from "../writes/types.ts";
import type { RegionControl, RoutingSnapshot } from "./types.ts";

/** After a failed or slow call, leave the object alone this long and keep the last snapshot. */
export const OBJECT_BACKOFF_MS = 5000;
/**
 * Reports kept while the object cannot be reached, oldest dropped first. Events are idempotent,
 * so resending is safe; a bound keeps a long outage from growing memory.
 */
const MAX_PENDING = 32;

export interface RoutingViewOptions {
  /** ROUTING_SYNC_MS: the least time between two background reads of the object. */
  syncMs: number;
  clock: Clock;
  /** The ramp settings, for `rampPercent` and for local applies. */
  rules: RoutingRules;
  /** Writes one routing data point: one per change the object made, or per local change it never heard of. */
  onPoint: (point: RoutingPoint) => void;
}

/** An operator's change as the admin route sees it. */
export type AdminOutcome =
  | { kind: "applied"; applied: Applied }
  | { kind: "unreachable"; error: string; timedOut: boolean };

/** The write lease as this isolate knows it, for writes/lease.ts `effectiveLease` and `writePlan`. */
export interface LeaseReading {
  /** The snapshot's lease (undefined: the fleet never promoted nor froze; effectiveLease says which region). */
  writer: WriterLease | undefined;
  /**
   * When the snapshot it came from was asked for (the start of the call that answered, so the
   * copy is at least this fresh); -Infinity before any answer and while a lease change's outcome
   * is unknown (`markLeaseUnknown`), so that writePlan trusts no copy then.
   */
  readAt: number;
}

interface Pending {
  event: RoutingEvent;
  /** The point this isolate's own apply made, written if the object turns out not to have heard of the event. */
  local: RoutingPoint | undefined;
}

export class RoutingView {
  /** The last snapshot the object gave (the fleet's state as this isolate knows it). */
  private fleet: RoutingSnapshot = EMPTY_SNAPSHOT;
  /** `fleet` with this isolate's unsent reports applied: what `control` reads. */
  private current: RoutingSnapshot = EMPTY_SNAPSHOT;
  private pending: Pending[] = [];
  private inFlight: Promise<void> | undefined;
  private lastSyncAt = Number.NEGATIVE_INFINITY;
  private objectDownUntil = 0;
  private lastReadAt = Number.NEGATIVE_INFINITY;
  private unknownUntil = Number.NEGATIVE_INFINITY;

  readonly calls = { snapshot: 0, apply: 0, errors: 0 };
  lastError: string | undefined;

  private readonly options: RoutingViewOptions;

  constructor(options: RoutingViewOptions) {
    this.options = options;
  }

  /** The fleet's generation this view last adopted. */
  get generation(): number {
    return this.fleet.generation;
  }

  /** A plain read from memory, for every request. */
  control(region: string): RegionControl {
    return controlOf(this.current, region);
  }

  /** The share of its weight a region's ramp allows now (100 when not ramping, 0 while held). */
  rampPercent(region: string, now: number): number {
    return rampPosition(controlOf(this.current, region), this.options.rules, now).percent;
  }

  /** The lease from memory, and how far to trust it (see LeaseReading.readAt). */
  lease(now: number): LeaseReading {
    return { writer: this.current.writer, readAt: now < this.unknownUntil ? Number.NEGATIVE_INFINITY : this.lastReadAt };
  }

  /** When the object last answered with a snapshot (the call's start); -Infinity before the first answer. */
  get readAt(): number {
    return this.lastReadAt;
  }

  /** Until when this isolate trusts no copy of the lease (a lease change that timed out may still land); -Infinity when it never did. */
  get leaseUnknownUntil(): number {
    return this.unknownUntil;
  }

  /** A lease change (a promotion) did not answer: it may or may not have been made, so no copy read before `until` is trusted. */
  markLeaseUnknown(until: number): void {
    this.unknownUntil = Math.max(this.unknownUntil, until);
  }

  /**
   * Work for ctx.waitUntil, or undefined (almost always): one call to the object per `syncMs` at
   * most, one in flight, none during the backoff after a failure. It reads the snapshot, or
   * first resends the reports the object has not acknowledged.
   */
  background(link: RoutingLink, now: number, urgent = false): Promise<void> | undefined {
    // `urgent`: a write that needs a fresh lease now waits for the read under way, or starts one, whatever the spacing.
    if (this.inFlight) return urgent ? this.inFlight : undefined;
    if (now < this.objectDownUntil || (!urgent && now - this.lastSyncAt < this.options.syncMs)) return undefined;
    this.lastSyncAt = now;
    return this.run(this.pending.length > 0 ? this.send(link) : this.sync(link));
  }

  /**
   * This isolate saw something (a region left, returned, a ramp step failed): applied here at
   * once, then sent. Returns the sending work for ctx.waitUntil, or undefined when the event
   * changes nothing this isolate knows of (the fleet already has it) or a send is under way
   * (which takes this one along).
   */
  report(link: RoutingLink, event: RoutingEvent, now: number): Promise<void> | undefined {
    const local = apply(this.current, event, now, this.options.rules);
    if (!local.changed) return undefined;
    this.current = local.snapshot;
    if (this.pending.length >= MAX_PENDING) this.pending.shift();
    this.pending.push({ event, local: local.point });
    if (this.inFlight || now < this.objectDownUntil) return undefined;
    return this.run(this.send(link));
  }

  /** An operator's change: only the object decides it (nothing changes here when it cannot be reached). */
  async admin(link: RoutingLink, event: RoutingEvent): Promise<AdminOutcome> {
    const startedAt = this.options.clock.now();
    try {
      this.calls.apply++;
      const applied = await link.apply(event);
      this.reached(startedAt);
      this.adopt(applied.snapshot, true);
      if (applied.point) this.options.onPoint(applied.point);
      return { kind: "applied", applied };
    } catch (err) {
      this.markDown(err);
      return { kind: "unreachable", error: describe(err), timedOut: err instanceof Error && err.name === "RoutingObjectTimeout" };
    }
  }

  /** Takes the object's snapshot, e.g. one the admin page read; only a newer generation replaces ours. */
  adopt(snapshot: RoutingSnapshot, answered = false): void {
    // The object's answer to a call made now includes every change before it; a snapshot read
    // earlier (a slow sync landing after a newer apply's answer) must not undo what came since.
    if (snapshot.generation < this.fleet.generation || (snapshot.generation === this.fleet.generation && !answered)) return;
    this.fleet = snapshot;
    this.current = this.pending.reduce((s, p) => apply(s, p.event, this.options.clock.now(), this.options.rules).snapshot, snapshot);
  }

  private run(work: Promise<void>): Promise<void> {
    const running = work.finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = running;
    return running;
  }

  private async sync(link: RoutingLink): Promise<void> {
    const startedAt = this.options.clock.now();
    try {
      this.calls.snapshot++;
      const snapshot = await link.snapshot();
      this.reached(startedAt);
      this.adopt(snapshot);
    } catch (err) {
      this.markDown(err);
      return;
    }
    // Reports made while the read was out go now, in the same background work.
    if (this.pending.length > 0) await this.send(link);
  }

  /** Sends the reports in order, one call at a time; whatever arrives meanwhile goes too. */
  private async send(link: RoutingLink): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      const startedAt = this.options.clock.now();
      let applied: Applied;
      try {
        this.calls.apply++;
        applied = await link.apply(next.event);
      } catch (err) {
        // Kept for the next try after the backoff; the fleet has not heard, so say it here, once.
        if (next.local) this.options.onPoint({ ...next.local, source: "isolate" });
        next.local = undefined;
        this.markDown(err);
        return;
      }
      this.pending.shift();
      this.reached(startedAt);
      // A malformed report would be refused however often it is sent: dropped, and said in health.
      if (applied.invalid) this.lastError = `routing object refused a report: ${applied.invalid}`;
      this.lastSyncAt = this.options.clock.now();
      this.adopt(applied.snapshot, true);
      // The object's point, unless this isolate already wrote its own for the same change.
      if (applied.point && next.local) this.options.onPoint(applied.point);
    }
  }

  /** The object answered a call made at `startedAt`: its snapshot is at least that fresh. */
  private reached(startedAt: number): void {
    this.lastReadAt = Math.max(this.lastReadAt, startedAt);
    this.lastError = undefined;
    this.objectDownUntil = 0;
  }

  private markDown(err: unknown): void {
    this.calls.errors++;
    this.lastError = describe(err);
    // Overloaded or not, retrying at once would only add load: keep the last snapshot a while.
    this.objectDownUntil = this.options.clock.now() + OBJECT_BACKOFF_MS;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
