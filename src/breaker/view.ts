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
/**
 * Failures in a row an isolate keeps to itself before telling the object (or the threshold, if
 * lower). One or two failures followed by a success are a blip on a healthy origin (a GC pause,
 * a lost packet); reporting each would have a healthy fleet calling the object all day. A real
 * outage reaches three within milliseconds under any traffic, and the whole run is reported.
 */
const REPORT_AFTER_FAILURES = 3;

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
  /** Failures in a row seen here that the object has not heard of (a blip, so far). */
  private heldFailures = 0;
  /** A local transition left to the object to report; written here if the object turns out unreachable. */
  private unreported: TransitionRecord | undefined;

  readonly origin: string;
  /** The line to this origin's object; connected per env (tests bring their own bindings), see Runtimes.for. */
  link: BreakerLink | undefined;
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
  async acquireProbe(now: number): Promise<"probe" | "forward" | "reject"> {
    // When the open period ends under load, every request in flight would ask at once; one asks.
    if (this.acquiring) return "reject";
    const link = this.link;
    if (link && this.objectReachable(now)) {
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
    const after = next(before, { type: outcome, probe }, now, this.policy);
    this.setLocal(after, probe ? `probe-${outcome}` : outcome, now);
    if (outcome === "success") {
      this.heldFailures = 0;
      // The object hears only the first success after a failure it heard of.
      if (probe || this.lastQueued === "failure") this.enqueue(outcome, probe, 1);
      return;
    }
    const reportAfter = Math.min(REPORT_AFTER_FAILURES, this.policy.failureThreshold);
    const blip = !probe && before.kind === "closed" && after.kind === "closed" && this.lastQueued !== "failure" && this.heldFailures + 1 < reportAfter;
    if (blip) {
      this.heldFailures++;
      return;
    }
    this.lastTroubleAt = now;
    // Failures that land while we already hold the breaker open are stragglers the object ignores.
    if (probe || before.kind === "closed") this.enqueue(outcome, probe, this.heldFailures + 1);
    this.heldFailures = 0;
  }

  /** Work for ctx.waitUntil, or undefined when there is none (the healthy case). */
  background(now: number): Promise<void> | undefined {
    const link = this.link;
    if (!link) return undefined;
    const flush = this.queue.length > 0 && !this.flushing ? this.flush(link) : undefined;
    const sync = this.needsSync(now) ? this.sync(link, now) : undefined;
    if (!flush && !sync) return undefined;
    return Promise.all([flush, sync]).then(() => undefined);
  }

  private needsSync(now: number): boolean {
    if (this.syncing || this.flushing || now - this.lastSyncAt < this.options.syncIntervalMs) return false;
    if (!this.objectReachable(now)) return false;
    const s = this.state;
    // While open until a known time, the probe-lease call at that time brings the fleet's state:
    // with open periods of a second or two, a sync in between would only add calls (an isolate
    // then calls the object about once per open period, as before the periods were short).
    if (s.kind === "open" && now < s.until) return false;
    // Half-open within the lease, a probe is out (ours, or one the object granted another
    // isolate); its report, or the next lease call, brings the outcome.
    if (s.kind === "half-open" && now < s.probeLeaseUntil) return false;
    // A blip kept in this isolate (heldFailures) is no reason to ask: the object knows nothing of it.
    return s.kind !== "closed" || this.lastQueued === "failure" || now - this.lastTroubleAt < TROUBLE_WINDOW_MS;
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

  private enqueue(outcome: "failure" | "success", probe: boolean, count: number): void {
    this.lastQueued = outcome;
    const last = this.queue[this.queue.length - 1];
    if (last && last.outcome === outcome && last.probe === probe) last.count += count;
    else this.queue.push({ outcome, count, probe });
  }

  /** Take the object's word, e.g. after an operator forced the breaker. */
  adopt(snapshot: BreakerSnapshot): void {
    this.mirror(snapshot);
  }

  private mirror(snapshot: BreakerSnapshot): void {
    const now = this.options.clock.now();
    this.objectSnapshot = { ...snapshot, receivedAt: now };
    this.objectError = undefined;
    this.unreported = undefined;
    this.setState(snapshot.state);
  }

  private setLocal(after: BreakerState, cause: string, now: number): void {
    const before = this.state;
    this.setState(after);
    if (before.kind === after.kind) return;
    // While the object is reachable it reports the fleet's transitions; ours are only news when we decide alone.
    const record = transitionRecord(this.origin, before, after, cause, "isolate", now);
    if (this.objectReachable(now)) this.unreported = record;
    else this.options.onTransition(record);
  }

  /** Called when this view's breaker closes, from here or from the object (another isolate's probe, an operator). */
  onClosed: (() => void) | undefined;

  private setState(after: BreakerState): void {
    const before = this.state;
    this.state = after;
    if (after.kind === "closed" && before.kind !== "closed") this.onClosed?.();
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
    // We counted on the object to report our last transition; it will not.
    if (this.unreported) this.options.onTransition(this.unreported);
    this.unreported = undefined;
  }
}
