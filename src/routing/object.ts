/** The fleet's routing controls: one SQLite-backed Durable Object per worker (`idFromName("fleet")`) that loads, applies and saves. */
import { DurableObject } from "cloudflare:workers";
import { systemClock, type Clock } from "../clock.ts";
import { resolveConfig, type Config } from "../config.ts";
import type { Env } from "../env.ts";
import { emit, type MetricsSink } from "../metrics/writer.ts";
import { routingPoint } from "./point.ts";
import { routingRules } from "./rules.ts";
import { effectiveLease } from "../writes/lease.ts";
import { leaseConfig } from "../writes/lease-settings.ts";
import type { WriterLease } from "../writes/types.ts";
import { apply, EMPTY_SNAPSHOT, eventProblem, isLeaseEvent, nextRampDeadline, type Applied, type LeaseConfig, type RoutingEvent, type RoutingRules } from "./state.ts";
import type { RoutingSnapshot } from "./types.ts";

/** The one object's name: routing is fleet-wide, unlike the breakers (one per origin). */
export const ROUTING_OBJECT_NAME = "fleet";

interface Row extends Record<string, SqlStorageValue> {
  snapshot: string;
}

export class RoutingObject extends DurableObject<Env> {
  /** Replaced in tests to drive time without waiting. */
  clock: Clock = systemClock;
  /** The ramp and hysteresis settings; from configuration unless a test sets them. */
  rules: RoutingRules | undefined;
  /** Where the object's own changes (ramp steps on its alarm) are written; the METRICS binding unless a test captures them. */
  sink: MetricsSink | undefined;
  /** The configured writer and regions the alarm completes promotions with; from configuration unless a test sets them. */
  leaseConfig: LeaseConfig | undefined;
  private config: Config | undefined;
  private current: RoutingSnapshot = EMPTY_SNAPSHOT;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Nothing is answered before the row is read: a fresh instance never serves generation 0 over a saved one.
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS routing (id INTEGER PRIMARY KEY CHECK (id = 1), snapshot TEXT NOT NULL, updated_at INTEGER NOT NULL)");
      this.load();
    });
  }

  private load(): void {
    const row = this.ctx.storage.sql.exec<Row>("SELECT snapshot FROM routing WHERE id = 1").toArray()[0];
    if (row) this.current = JSON.parse(row.snapshot) as RoutingSnapshot;
  }

  snapshot(): RoutingSnapshot {
    this.fixInitialLease();
    return this.current;
  }

  /**
   * With WRITES, the first read stores the initial lease (the configured writer at epoch 1), so a
   * later change of WRITES.writer, the home flag or the ORIGINS order cannot give two versions of the
   * worker two writers at epoch 1: from then on only a promotion moves the lease.
   */
  private fixInitialLease(): void {
    if (this.current.writer !== undefined || !this.writesConfigured()) return;
    const configured = this.configuredLease();
    const lease: WriterLease = { region: configured.writer, epoch: 1, frozen: false, reason: `initial: ${configured.writer} (WRITES.writer, else the home region)`, changedAt: this.clock.now() };
    this.commit({ snapshot: { ...this.current, generation: this.current.generation + 1, writer: lease }, changed: true });
  }

  private writesConfigured(): boolean {
    try {
      return this.resolved().writes !== undefined;
    } catch {
      // An invalid configuration is reported by every request; the lease waits for a valid one.
      return false;
    }
  }

  /**
   * Applies one event; the answer carries the new snapshot and, for a change, its data point (the
   * caller writes it). A malformed event is answered, not thrown: it changes nothing.
   */
  apply(event: RoutingEvent): Applied {
    const invalid = eventProblem(event, this.current);
    if (invalid) return { snapshot: this.current, changed: false, invalid };
    // A lease change judged against a promotion that is over (its alarm not run yet) would be refused for it.
    if (isLeaseEvent(event)) this.completePromotion(event.configured);
    return this.commit(apply(this.current, event, this.clock.now(), this.policy()));
  }

  /**
   * The write lease, strongly: the row is read again (an instance that was replaced fails here
   * rather than answer from memory), and a promotion past its drain completes before the answer,
   * so a late alarm never holds writes longer. Throws for a malformed `configured`.
   */
  lease(configured: LeaseConfig): WriterLease {
    const invalid = eventProblem({ type: "promote_complete", configured }, this.current);
    if (invalid) throw new Error(`lease: ${invalid}`);
    this.load();
    this.completePromotion(configured);
    return effectiveLease(this.current, configured.writer);
  }

  /** Ramp steps and promotions happen on the object's clock, so each moves once, fleet-wide. Alarms run at least once: every tick is idempotent. */
  override async alarm(): Promise<void> {
    const now = this.clock.now();
    for (const region of Object.keys(this.current.regions)) {
      const applied = this.commit(apply(this.current, { type: "ramp_tick", region }, now, this.policy()));
      this.write(applied);
    }
    if (this.current.writer?.promotion) this.completePromotion(this.configuredLease());
    // An alarm that fired early moved nothing and committed nothing: ask for the same deadline again.
    this.schedule();
  }

  private completePromotion(configured: LeaseConfig): void {
    if (!this.current.writer?.promotion) return;
    this.write(this.commit(apply(this.current, { type: "promote_complete", configured }, this.clock.now(), this.policy())));
  }

  /** The object's own changes (ramp steps, completed promotions) are written here; callers' changes by the caller. */
  private write(applied: Applied): void {
    if (applied.point) emit(this.sink ?? this.env.METRICS, routingPoint(applied.point));
  }

  private commit(applied: Applied): Applied {
    if (!applied.changed) return applied;
    this.current = applied.snapshot;
    this.ctx.storage.sql.exec(
      "INSERT INTO routing (id, snapshot, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at",
      JSON.stringify(applied.snapshot),
      this.clock.now(),
    );
    this.schedule();
    return applied;
  }

  /** One alarm, at the earliest deadline: the next ramp step of any region, or the end of a promotion's drain. */
  private schedule(): void {
    let next = this.current.writer?.promotion?.completesAt;
    for (const control of Object.values(this.current.regions)) {
      const deadline = nextRampDeadline(control, this.policy());
      if (deadline !== undefined && (next === undefined || deadline < next)) next = deadline;
    }
    // Not awaited: the output gate holds our reply until the alarm write is durable.
    if (next !== undefined) void this.ctx.storage.setAlarm(next);
  }

  private policy(): RoutingRules {
    this.rules ??= routingRules(this.resolved());
    return this.rules;
  }

  private configuredLease(): LeaseConfig {
    this.leaseConfig ??= leaseConfig(this.resolved());
    return this.leaseConfig;
  }

  private resolved(): Config {
    if (!this.config) {
      const resolved = resolveConfig(this.env, this.env);
      if (!resolved.ok) throw new Error(`invalid configuration: ${resolved.problems.join("; ")}`);
      this.config = resolved.config;
    }
    return this.config;
  }
}
