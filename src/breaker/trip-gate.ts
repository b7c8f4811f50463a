/**
 * Whether a run of failed requests is evidence about the origin. Five requests to one route
 * that always answers 500, or to an endpoint slow by design, are evidence about that route,
 * and any client could send them: opening the breaker on them would hand one client a 503 for
 * everyone. So a run of failures is held here, in the isolate, and passed to the breaker only
 * once an active check of the origin's health path (a request the worker controls) failed
 * during the same run. A real partition fails the check too, within its short deadline, so the
 * breaker still opens at the threshold-th failure or as soon as the check fails, whichever is
 * later. A check that succeeds dismisses the run as one route's trouble.
 *
 * Pure bookkeeping, no I/O: the caller runs the check and reports its result.
 */

/** At most one check per isolate per origin this often: what a client can make us cost the origin. */
export const HEALTH_CHECK_MIN_INTERVAL_MS = 1000;
/**
 * A failed check vouches for the failures that follow it in the same run for this long, then a
 * new check must confirm again: the breaker may have opened and closed meanwhile (another
 * isolate's probe), and old evidence must not let a client's failures through.
 */
export const CONFIRMATION_TTL_MS = 5000;

export class TripGate {
  /** Failures of the current run not yet passed to the breaker. */
  private held = 0;
  /** The run a failed check confirmed: its later failures pass straight through. */
  private confirmedRun = -1;
  private confirmedAt = Number.NEGATIVE_INFINITY;
  /** A success ends a run; a check's result applies only to the run it was started in. */
  private run = 0;
  private checkingRun: number | undefined;
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  /** Runs of failures a passing check showed to be one route's trouble, for health and metrics. */
  dismissedRuns = 0;
  dismissedFailures = 0;

  /** A failed request while the breaker is closed: how many failures to pass on now, and whether to start a check. */
  failure(now: number): { pass: number; check: boolean } {
    if (this.confirmedRun === this.run && now - this.confirmedAt < CONFIRMATION_TTL_MS) return { pass: 1, check: false };
    this.held++;
    const check = this.checkingRun === undefined && now - this.lastCheckAt >= HEALTH_CHECK_MIN_INTERVAL_MS;
    if (check) {
      this.checkingRun = this.run;
      this.lastCheckAt = now;
    }
    return { pass: 0, check };
  }

  /** A request the origin answered well: the run of failures, if any, is over. */
  success(): void {
    if (this.held === 0 && this.confirmedRun !== this.run && this.checkingRun === undefined) return;
    this.run++;
    this.held = 0;
  }

  /** The check's result: the failures to pass on now (the held run, once confirmed). */
  checked(originFailed: boolean, now: number): number {
    const run = this.checkingRun;
    this.checkingRun = undefined;
    // A success since the check began ended that run; its result says nothing about the new one.
    if (run !== this.run) return 0;
    if (originFailed) {
      this.confirmedRun = run;
      this.confirmedAt = now;
      const pass = this.held;
      this.held = 0;
      return pass;
    }
    this.dismissedRuns++;
    this.dismissedFailures += this.held;
    this.held = 0;
    return 0;
  }

  /** Whether a check is in flight (health page). */
  get checking(): boolean {
    return this.checkingRun !== undefined;
  }
}
