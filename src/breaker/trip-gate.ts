/**
 * Whether failed requests are evidence about the origin. Five requests to one route that always
 * answers 500, or to an endpoint slow by design, are evidence about that route, and any client
 * could send them: opening the breaker on them would hand one client a 503 for everyone. So a
 * failure is held here, in the isolate, until an active check of the origin's health path (a
 * request the worker controls) says whether the origin itself is failing:
 * - the check fails: the held failures and every failure in the next CONFIRMATION_TTL_MS reach
 *   the breaker, which opens on its threshold of consecutive failures as ever. A real partition
 *   fails the check within its short deadline, so the breaker still opens within a few slow
 *   deadlines of the partition's start;
 * - the check passes: the held failures were one route's trouble and are dropped.
 * The confirmation is a span of time, not a run of requests: under load a flaky origin's
 * failures interleave with successes, and a run would end before any check could answer.
 * A whole run of threshold failures held after the last check's result starts an early check
 * (EARLY_CHECK_MIN_INTERVAL_MS): that result cannot speak for them, and waiting out
 * HEALTH_CHECK_MIN_INTERVAL_MS held the breaker for up to 1 s after a check that passed just
 * before a partition.
 *
 * Pure bookkeeping, no I/O: the caller runs the check and reports its result.
 */

/** At most one check per isolate per origin this often, unless a threshold-run asks for an early one. */
export const HEALTH_CHECK_MIN_INTERVAL_MS = 1000;
/**
 * The soonest an early check may follow the last early check. What a client can make early checks
 * cost, sending failures (a route that always answers 500, an endpoint slow by design) at any rate
 * to a quiet isolate where no success interleaves:
 * - each early check needs a fresh run of threshold failures: `held` starts over at every check's
 *   result, so one run buys at most one check, and failures held while a check is in flight count
 *   for nothing (the check's result speaks for them);
 * - never two checks in flight, early or not;
 * - early checks at least 250 ms apart, and the ordinary check at most once a second after any
 *   check: at most 1 + 4 = MAX_CHECKS_PER_SECOND (5) checks per second per isolate per origin,
 *   instead of 1, and only while the client keeps up a threshold-run every 250 ms (20 failures a
 *   second at the default threshold of 5); a slower client gets one check per threshold-run.
 * Five cheap GETs a second is a cost a health path must bear anyway. The price of the spacing:
 * a partition that begins within 250 ms after an early check (a threshold-run of one route's
 * failures just before it) waits for the rest of those 250 ms; after any other check, a
 * partition's threshold-th failure starts the check at once.
 */
export const EARLY_CHECK_MIN_INTERVAL_MS = 250;
/** The bound above, in any second: the ordinary check's share and the early checks'. */
export const MAX_CHECKS_PER_SECOND = 1000 / HEALTH_CHECK_MIN_INTERVAL_MS + 1000 / EARLY_CHECK_MIN_INTERVAL_MS;
/** How long a failed check vouches for the origin failing; then a new check must confirm again. */
export const CONFIRMATION_TTL_MS = 5000;
/** Longer than any check may take (ORIGIN_HEALTH_TIMEOUT_MS is at most 10 s): a check this old is lost. */
export const CHECK_LOST_AFTER_MS = 15_000;
/** Route classes named per dismissed span: enough to point at the broken ones, bounded per data point. */
export const MAX_ROUTES_REPORTED = 8;

export class TripGate {
  /**
   * Failures the breaker has not heard of, in a row since the last success, the last check's
   * result or reset (whichever came last): a run no check has spoken for.
   */
  private held = 0;
  private confirmedUntil = Number.NEGATIVE_INFINITY;
  private inFlight = false;
  /** When the last check of either kind started. */
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  private lastEarlyAt = Number.NEGATIVE_INFINITY;
  /** The breaker's threshold of consecutive failures: a held run this long asks for an early check. */
  private readonly threshold: number;
  /** Failures a passing check showed to be one route's trouble, for health and metrics. */
  dismissedFailures = 0;
  /**
   * Every failure held since the last check's result, success or not in between, and (a few of)
   * their route classes: what the next check's result speaks for. The breaker's consecutive
   * count needs `held`; the dashboard needs all of them.
   */
  private sinceResult = 0;
  private readonly routesSinceResult = new Set<string>();

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  /** A failed request while the breaker is closed: how many failures to pass on now, and whether to start a check. */
  failure(now: number, route?: string): { pass: number; check: boolean } {
    if (now < this.confirmedUntil) return { pass: 1, check: false };
    this.held++;
    this.sinceResult++;
    if (route !== undefined && this.routesSinceResult.size < MAX_ROUTES_REPORTED) this.routesSinceResult.add(route);
    // A check that never reported back (its waitUntil cut off) must not hold failures forever.
    const stuck = this.inFlight && now - this.lastCheckAt > CHECK_LOST_AFTER_MS;
    if (this.inFlight && !stuck) return { pass: 0, check: false };
    const due = now - this.lastCheckAt >= HEALTH_CHECK_MIN_INTERVAL_MS;
    // Enough held failures to open the breaker, and no result has spoken for them: waiting out the
    // interval would only delay the opening (see EARLY_CHECK_MIN_INTERVAL_MS for the cost bound).
    const early = !due && this.held >= this.threshold && now - this.lastEarlyAt >= EARLY_CHECK_MIN_INTERVAL_MS;
    if (!due && !early) return { pass: 0, check: false };
    this.inFlight = true;
    this.lastCheckAt = now;
    if (early) this.lastEarlyAt = now;
    return { pass: 0, check: true };
  }

  /** A request the origin answered well: the breaker counts failures in a row, so held ones before it no longer matter. */
  success(): void {
    this.held = 0;
  }

  /** The check's result: the failures to pass on now. */
  checked(originFailed: boolean, now: number): number {
    this.inFlight = false;
    const pass = this.held;
    this.held = 0;
    const held = this.sinceResult;
    const routes = [...this.routesSinceResult].sort();
    this.sinceResult = 0;
    this.routesSinceResult.clear();
    if (originFailed) {
      this.confirmedUntil = now + CONFIRMATION_TTL_MS;
      this.lastDismissed = { failures: 0, routes: [] };
      return pass;
    }
    this.dismissedFailures += held;
    this.lastDismissed = { failures: held, routes };
    return 0;
  }

  /**
   * Whether a failed check vouches, at `now`, that the origin itself is failing. While it does, a
   * slow request is the origin's slowness, not an isolate's stall: each one counts (see
   * LatencyTracker.claimSlow), so a partition reaches the threshold in one slow deadline, not one
   * slow deadline per failure.
   */
  confirmed(now: number): boolean {
    return now < this.confirmedUntil;
  }

  /** What the last check's result dismissed (nothing when it failed): for its data point. */
  lastDismissed: { failures: number; routes: string[] } = { failures: 0, routes: [] };

  /** A closed breaker starts over: an old confirmation must not let a client's failures through. */
  reset(): void {
    this.held = 0;
    this.confirmedUntil = Number.NEGATIVE_INFINITY;
  }
}
