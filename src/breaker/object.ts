/** The fleet's breaker for one origin: a thin SQLite-backed Durable Object that loads, applies and saves. */
import { DurableObject } from "cloudflare:workers";
import { systemClock, type Clock } from "../clock.ts";
import { resolveConfig } from "../config.ts";
import type { Env } from "../env.ts";
import { transitionPoint, transitionRecord } from "../metrics/schema.ts";
import { emit } from "../metrics/writer.ts";
import { breakerPolicy } from "./policy.ts";
import type { BreakerSnapshot, ForceAction, OutcomeRun } from "./protocol.ts";
import { acquireProbe, INITIAL, next, nextDeadline, restore, type BreakerEvent, type BreakerPolicy, type BreakerState } from "./state.ts";

interface Row extends Record<string, SqlStorageValue> {
  origin: string;
  state: string;
}

export class BreakerObject extends DurableObject<Env> {
  /** Replaced in tests to drive time without waiting. */
  clock: Clock = systemClock;
  private state: BreakerState | undefined;
  private origin = "";
  private cachedPolicy: BreakerPolicy | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS breaker (id INTEGER PRIMARY KEY CHECK (id = 1), origin TEXT NOT NULL, state TEXT NOT NULL, updated_at INTEGER NOT NULL)");
  }

  snapshot(origin: string): BreakerSnapshot {
    this.load(origin);
    return this.view();
  }

  /** Outcomes in the order they happened, runs of the same outcome merged by the caller. */
  report(origin: string, runs: OutcomeRun[]): BreakerSnapshot {
    this.load(origin);
    for (const run of runs) {
      for (let i = 0; i < Math.min(run.count, 10_000); i++) {
        const cause = run.probe ? `probe-${run.outcome}` : run.outcome;
        this.apply({ type: run.outcome, probe: run.probe }, cause);
      }
    }
    return this.view();
  }

  /** Grants the single fleet-wide half-open probe, or says why not through the returned state. */
  acquireProbe(origin: string): { granted: boolean; snapshot: BreakerSnapshot } {
    this.load(origin);
    const now = this.clock.now();
    const result = acquireProbe(this.current(), now, this.policy());
    if (result.granted) this.save(result.state, "probe-granted");
    return { granted: result.granted, snapshot: this.view() };
  }

  force(origin: string, action: ForceAction): BreakerSnapshot {
    this.load(origin);
    const event: BreakerEvent = action === "open" ? { type: "force-open" } : action === "close" ? { type: "force-close" } : { type: "reset" };
    this.apply(event, `force-${action}`);
    return this.view();
  }

  /**
   * Fires when a probe lease ends. Alarms run at least once, so this only acts if the same lease is
   * still outstanding: a probe that never reported back counts as a failed probe.
   */
  override async alarm(): Promise<void> {
    const state = this.current();
    if (state.kind === "half-open" && this.clock.now() >= state.probeLeaseUntil) {
      this.apply({ type: "failure", probe: true }, "probe-lost");
    }
  }

  private policy(): BreakerPolicy {
    if (!this.cachedPolicy) {
      const resolved = resolveConfig(this.env, this.env);
      if (!resolved.ok) throw new Error(`invalid configuration: ${resolved.problems.join("; ")}`);
      this.cachedPolicy = breakerPolicy(resolved.config);
    }
    return this.cachedPolicy;
  }

  private load(origin: string): void {
    if (this.state) return;
    const row = this.ctx.storage.sql.exec<Row>("SELECT origin, state FROM breaker WHERE id = 1").toArray()[0];
    this.origin = row?.origin ?? origin;
    this.state = row ? restore(JSON.parse(row.state) as BreakerState) : INITIAL;
  }

  private current(): BreakerState {
    this.load(this.origin);
    return this.state!;
  }

  private apply(event: BreakerEvent, cause: string): void {
    const before = this.current();
    const after = next(before, event, this.clock.now(), this.policy());
    if (after !== before) this.save(after, cause);
  }

  private save(after: BreakerState, cause: string): void {
    const before = this.current();
    const now = this.clock.now();
    this.state = after;
    this.ctx.storage.sql.exec(
      "INSERT INTO breaker (id, origin, state, updated_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET origin = excluded.origin, state = excluded.state, updated_at = excluded.updated_at",
      this.origin,
      JSON.stringify(after),
      now,
    );
    const deadline = after.kind === "half-open" ? nextDeadline(after) : undefined;
    // Not awaited: the output gate holds our reply until the alarm write is durable.
    if (deadline !== undefined) void this.ctx.storage.setAlarm(deadline);
    if (before.kind !== after.kind) {
      emit(this.env.METRICS, transitionPoint(transitionRecord(this.origin, before, after, cause, "object", now)));
    }
  }

  private view(): BreakerSnapshot {
    return { origin: this.origin, state: this.current(), at: this.clock.now() };
  }
}
