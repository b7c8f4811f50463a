/**
 * The isolate's view of one origin's breaker. Requests decide from it without waiting on the
 * object; it mirrors the object's state when it hears from it and keeps deciding alone when the
 * object is unreachable. A healthy isolate sends the object nothing.
 */
import type { Clock } from "../clock.ts";
import { transitionRecord, type TransitionRecord } from "../metrics/schema.ts";
import type { BreakerLink } from "./link.ts";
import type { BreakerSnapshot, OutcomeRun } from "./protocol.ts";
import { acquireProbe, INITIAL, next, type BreakerPolicy, type BreakerState } from "./state.ts";

export type Decision = { kind: "forward" } | { kind: "try-probe" } | { kind: "reject"; retryAfterMs: number };

/** After a failed call, leave the object alone this long and decide locally. */
const OBJECT_BACKOFF_MS = 5000;
/** Keep syncing with the object this long after the last failure seen here. */
const TROUBLE_WINDOW_MS = 30_000;

export interface ViewOptions {
  syncIntervalMs: number;
  clock: Clock;
  onTransition: (t: TransitionRecord) => void;
}

export class BreakerView {
  state: BreakerState = INITIAL;
  /** What the object last said, for health; undefined until it has been asked. */
  objectSnapshot: (BreakerSnapshot & { receivedAt: number }) | undefined;
  objectError: string | undefined;
  readonly calls = { snapshot: 0, report: 0, acquireProbe: 0, errors: 0 };

  private objectDownUntil = 0;
  private lastTroubleAt = Number.NEGATIVE_INFINITY;
  private lastSyncAt = Number.NEGATIVE_INFINITY;
  private syncing = false;
  private acquiring = false;
  private flushing = false;
  private queue: OutcomeRun[] = [];
  /** Requests waiting on the origin, to be released the moment the breaker opens. */
  private readonly openListeners = new Set<() => void>();
  private lastQueued: "failure" | "success" | undefined;

  readonly origin: string;
  private readonly policy: BreakerPolicy;
  private readonly options: ViewOptions;

  constructor(origin: string, policy: BreakerPolicy, options: ViewOptions) {
    this.origin = origin;
    this.policy = policy;
    this.options = options;
  }

  decide(now: number): Decision {
    const s = this.state;
    if (s.kind === "closed") return { kind: "forward" };
    if (s.kind === "open" && now < s.until) return { kind: "reject", retryAfterMs: s.until - now };
    if (s.kind === "half-open" && now < s.probeLeaseUntil) return { kind: "reject", retryAfterMs: s.probeLeaseUntil - now };
    return { kind: "try-probe" };
  }

  /**
   * Calls `listener` once when this view's breaker next opens (from here or from the object);
   * returns the unsubscribe. A set of listeners, not a shared promise: racing thousands of
   * requests against one long-pending promise would pile reactions onto it for as long as the
   * breaker stays closed.
   */
  onOpen(listener: () => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** Only reached while the breaker is open: asks the object for the fleet-wide lease, else decides alone. */
  async acquireProbe(link: BreakerLink, now: number): Promise<"probe" | "forward" | "reject"> {
    // When the open period ends under load, every request in flight would ask at once; one asks.
    if (this.acquiring) return "reject";
    if (this.objectReachable(now)) {
      this.acquiring = true;
      try {
        this.calls.acquireProbe++;
        const { granted, snapshot } = await link.acquireProbe(this.origin);
        this.mirror(snapshot);
        if (granted) return "probe";
        return snapshot.state.kind === "closed" ? "forward" : "reject";
      } catch (err) {
        this.markDown(err, now);
      } finally {
        this.acquiring = false;
      }
    }
    const result = acquireProbe(this.state, now, this.policy);
    if (!result.granted) return "reject";
    this.setLocal(result.state, "probe-granted", now);
    return "probe";
  }

  record(outcome: "failure" | "success", probe: boolean, now: number): void {
    const before = this.state;
    this.setLocal(next(before, { type: outcome, probe }, now, this.policy), probe ? `probe-${outcome}` : outcome, now);
    if (outcome === "failure") {
      this.lastTroubleAt = now;
      // Failures that land while we already hold the breaker open are stragglers the object ignores.
      if (probe || before.kind === "closed") this.enqueue(outcome, probe);
    } else if (probe || this.lastQueued === "failure") {
      // The object hears only the first success after a failure.
      this.enqueue(outcome, probe);
    }
  }

  /** Work for ctx.waitUntil, or undefined when there is none (the healthy case). */
  background(link: BreakerLink, now: number): Promise<void> | undefined {
    const flush = this.queue.length > 0 && !this.flushing ? this.flush(link) : undefined;
    const sync = this.needsSync(now) ? this.sync(link, now) : undefined;
    if (!flush && !sync) return undefined;
    return Promise.all([flush, sync]).then(() => undefined);
  }

  private needsSync(now: number): boolean {
    if (this.syncing || this.flushing || now - this.lastSyncAt < this.options.syncIntervalMs) return false;
    if (!this.objectReachable(now)) return false;
    const s = this.state;
    return s.kind !== "closed" || s.failures > 0 || now - this.lastTroubleAt < TROUBLE_WINDOW_MS;
  }

  private async sync(link: BreakerLink, now: number): Promise<void> {
    this.syncing = true;
    this.lastSyncAt = now;
    try {
      this.calls.snapshot++;
      this.mirror(await link.snapshot(this.origin));
    } catch (err) {
      this.markDown(err, this.options.clock.now());
    } finally {
      this.syncing = false;
    }
  }

  private async flush(link: BreakerLink): Promise<void> {
    this.flushing = true;
    try {
      // One call in flight per origin per isolate; whatever arrives meanwhile goes in the next batch.
      while (this.queue.length > 0) {
        const runs = this.queue.splice(0);
        const now = this.options.clock.now();
        if (!this.objectReachable(now)) continue;
        try {
          this.calls.report++;
          this.mirror(await link.report(this.origin, runs));
          this.lastSyncAt = this.options.clock.now();
        } catch (err) {
          this.markDown(err, this.options.clock.now());
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private enqueue(outcome: "failure" | "success", probe: boolean): void {
    this.lastQueued = outcome;
    const last = this.queue[this.queue.length - 1];
    if (last && last.outcome === outcome && last.probe === probe) last.count++;
    else this.queue.push({ outcome, count: 1, probe });
  }

  /** Take the object's word, e.g. after an operator forced the breaker. */
  adopt(snapshot: BreakerSnapshot): void {
    this.mirror(snapshot);
  }

  private mirror(snapshot: BreakerSnapshot): void {
    const now = this.options.clock.now();
    this.objectSnapshot = { ...snapshot, receivedAt: now };
    this.objectError = undefined;
    this.setState(snapshot.state);
  }

  private setLocal(after: BreakerState, cause: string, now: number): void {
    const before = this.state;
    this.setState(after);
    // While the object is reachable it reports the fleet's transitions; ours are only news when we decide alone.
    if (before.kind !== after.kind && !this.objectReachable(now)) {
      this.options.onTransition(transitionRecord(this.origin, before, after, cause, "isolate", now));
    }
  }

  private setState(after: BreakerState): void {
    const before = this.state;
    this.state = after;
    if (after.kind === "open" && before.kind !== "open" && this.openListeners.size > 0) {
      const listeners = [...this.openListeners];
      this.openListeners.clear();
      for (const listener of listeners) listener();
    }
  }

  private objectReachable(now: number): boolean {
    return now >= this.objectDownUntil;
  }

  private markDown(err: unknown, now: number): void {
    this.calls.errors++;
    this.objectError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    // Overloaded or not, retrying right away would only add load; decide locally for a while.
    this.objectDownUntil = now + OBJECT_BACKOFF_MS;
  }
}
