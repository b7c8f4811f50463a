/**
 * Every deadline of one origin request on one timer: when a client holding a copy stops waiting
 * (the copy budget), when the request counts as slow, the time to the headers, and the stall of
 * a body passed on untouched. Setting and clearing a timer costs tens of microseconds in workerd,
 * and three per request were a tenth of a pass-through request's CPU. The timer fires at the
 * earliest deadline; if the request has moved on, it re-arms for what is left of the next one, or
 * ends.
 */

/** A deadline that judges the wait for the headers, and what to call when it is reached. */
export interface Judgement {
  afterMs: number;
  signal: () => void;
}

export interface WatchDeadlines {
  /** The copy budget: not a failure, the client is answered from its copy. */
  budget?: Judgement | undefined;
  /** The slow deadline: a failure for the breaker. */
  slow?: Judgement | undefined;
}

/**
 * A timer this much later than it was due means the isolate itself was busy (a timer in workerd
 * fires within a millisecond or two of its time on an idle isolate).
 */
export const ISOLATE_LATE_MS = 5;

export class OriginWatch {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer was due, to tell how late the isolate was in firing it. */
  private dueAt = 0;
  /** "body-pending": headers in, body not (yet) piped under this watch. */
  private phase: "headers" | "body-pending" | "body" | "done" = "headers";
  private bodyDeadline = 0;
  /** Judgements not yet reached, earliest first. */
  private readonly pending: Judgement[];
  /** How late the isolate was in firing this watch's timer: time the origin is not blamed for. */
  private isolateLateMs = 0;
  /** The copy budget's judgement, judged on the wall clock (see watchHeaders). */
  private readonly budget: Judgement | undefined;
  /** The current judgement had its late firing excused once already. */
  private excused = false;
  private readonly started: number;
  private readonly timeoutMs: number;
  private readonly controller: AbortController;

  constructor(started: number, timeoutMs: number, controller: AbortController, deadlines: WatchDeadlines = {}) {
    this.started = started;
    this.timeoutMs = timeoutMs;
    this.controller = controller;
    const { budget, slow } = deadlines;
    // A budget at or past the slow deadline is moot: the slow deadline answers from the copy too.
    this.pending = [budget !== undefined && (slow === undefined || budget.afterMs < slow.afterMs) ? budget : undefined, slow].filter(
      (j): j is Judgement => j !== undefined && j.afterMs < timeoutMs,
    );
    this.budget = budget;
    this.arm(this.pending[0]?.afterMs ?? timeoutMs);
  }

  headersArrived(): void {
    if (this.phase === "headers") this.phase = "body-pending";
  }

  /** A body passed on untouched from now on: it must end within `idleMs`, or the fetch is aborted. */
  bodyUnder(idleMs: number): void {
    this.phase = "body";
    this.bodyDeadline = Date.now() + idleMs;
    if (this.timer === undefined) this.arm(idleMs);
  }

  done(): void {
    this.phase = "done";
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.dueAt = Date.now() + ms;
    this.timer = setTimeout(this.fire, ms);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    if (this.phase === "headers") this.watchHeaders(now);
    else if (this.phase === "body") {
      const left = this.bodyDeadline - now;
      // Aborting the fetch errors the body, which errors the client's stream.
      if (left <= 0) this.controller.abort(new DOMException(`origin body stalled for ${this.timeoutMs} ms`, "TimeoutError"));
      else this.arm(left);
    }
    // "body-pending" or "done": nothing left to watch; the timer ends here.
  };

  /**
   * Why lateness is excused: a timer that fires well after its time says the isolate was busy
   * (other requests' work, a starved CPU), and the origin's headers may have arrived in that time
   * and be waiting in the queue behind this very timer. So a late firing first gives them one
   * turn. Then each deadline is judged on its own clock:
   * - the slow deadline blames the origin, so it is judged on the time the origin had: the
   *   elapsed time minus the isolate's own lateness (on a starved machine three verdicts on wall
   *   time made a healthy region leave);
   * - the copy budget blames nobody: it is the client's wait, on the wall clock. A client holding a
   *   copy is answered as soon as the turn shows no answer; stretching its wait by the isolate's
   *   stall would only add our delay to its answer.
   * A second late firing is not excused again.
   */
  private watchHeaders(now: number): void {
    const late = now - this.dueAt;
    const elapsed = now - this.started;
    if (late > ISOLATE_LATE_MS) {
      this.isolateLateMs += late;
      if (this.pending.length > 0 && !this.excused && elapsed < this.timeoutMs) {
        this.excused = true;
        this.arm(0);
        return;
      }
    }
    this.excused = false;
    const originElapsed = elapsed - this.isolateLateMs;
    const waited = (j: Judgement) => (j === this.budget ? elapsed : originElapsed);
    let due = 0;
    while (due < this.pending.length && waited(this.pending[due]!) >= this.pending[due]!.afterMs) due++;
    // Only the latest one reached speaks: slow, when both are, answers from the copy anyway.
    if (due > 0) this.pending.splice(0, due).at(-1)!.signal();
    // No timeout option on fetch, and AbortSignal.timeout would keep the request context alive.
    if (elapsed >= this.timeoutMs) {
      this.controller.abort(new DOMException("origin timeout", "TimeoutError"));
      return;
    }
    const upcoming = this.pending[0];
    const left = this.timeoutMs - elapsed;
    this.arm(upcoming === undefined ? left : Math.min(left, upcoming.afterMs - waited(upcoming)));
  }
}

/**
 * A deadline that blames the origin when it passes, on one timer (the health check's). When it
 * fires late by more than ISOLATE_LATE_MS the isolate itself was busy, and the origin's answer may
 * be waiting behind this very timer: it gets one turn first. Without it a starved isolate failed its
 * own confirming checks, and a failed check vouches for the origin failing: with a test suite busy
 * beside a regions drill, every region left at once. Returns the cancel.
 */
export function originDeadline(ms: number, onTimeout: () => void): () => void {
  let due = Date.now() + ms;
  let excused = false;
  let timer: ReturnType<typeof setTimeout>;
  const fire = (): void => {
    if (!excused && Date.now() - due > ISOLATE_LATE_MS) {
      excused = true;
      due = Date.now();
      timer = setTimeout(fire, 0);
      return;
    }
    onTimeout();
  };
  timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
}
