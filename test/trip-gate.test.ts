/** TripGate on its own: failures held until a check, what a failed or passing check does, and how often checks run (early ones too). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHECK_LOST_AFTER_MS,
  CONFIRMATION_TTL_MS,
  EARLY_CHECK_MIN_INTERVAL_MS,
  HEALTH_CHECK_MIN_INTERVAL_MS,
  MAX_CHECKS_PER_SECOND,
  MAX_ROUTES_REPORTED,
  TripGate,
} from "../src/breaker/trip-gate.ts";
import { SEED } from "./property-arbitraries.ts";

const T0 = 1_000_000;
/** The breaker's threshold of consecutive failures (wrangler.toml's and the default). */
const THRESHOLD = 5;

describe("TripGate", () => {
  it("holds failures until a check answers, and starts one check for the first", () => {
    const gate = new TripGate(THRESHOLD);
    expect(gate.failure(T0)).toEqual({ pass: 0, check: true });
    expect(gate.failure(T0 + 1)).toEqual({ pass: 0, check: false });
    expect(gate.failure(T0 + 2)).toEqual({ pass: 0, check: false });
  });

  it("a failed check passes every held failure and confirms for CONFIRMATION_TTL_MS: failures then pass one by one, unchecked", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.failure(T0 + 1);
    gate.failure(T0 + 2);
    expect(gate.checked(true, T0 + 100)).toBe(3);
    expect(gate.failure(T0 + 100)).toEqual({ pass: 1, check: false });
    expect(gate.failure(T0 + 100 + CONFIRMATION_TTL_MS - 1)).toEqual({ pass: 1, check: false });
    expect(gate.dismissedFailures).toBe(0);
  });

  it("confirmed() says whether a failed check vouches for the origin failing: from its result for CONFIRMATION_TTL_MS, never after a passing one or a reset", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    expect(gate.confirmed(T0 + 50)).toBe(false);
    gate.checked(true, T0 + 100);
    expect(gate.confirmed(T0 + 100)).toBe(true);
    expect(gate.confirmed(T0 + 100 + CONFIRMATION_TTL_MS - 1)).toBe(true);
    expect(gate.confirmed(T0 + 100 + CONFIRMATION_TTL_MS)).toBe(false);
    gate.checked(true, T0 + 200);
    gate.reset();
    expect(gate.confirmed(T0 + 300)).toBe(false);
    const passed = new TripGate(THRESHOLD);
    passed.failure(T0);
    passed.checked(false, T0 + 100);
    expect(passed.confirmed(T0 + 100)).toBe(false);
  });

  it("once the confirmation has lapsed a failure is held again and starts a new check", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.checked(true, T0 + 100);
    expect(gate.failure(T0 + 100 + CONFIRMATION_TTL_MS)).toEqual({ pass: 0, check: true });
    expect(gate.checked(true, T0 + 100 + CONFIRMATION_TTL_MS + 50)).toBe(1);
  });

  it("a passing check dismisses the held failures (counted in dismissedFailures) and passes none", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.failure(T0 + 1);
    expect(gate.checked(false, T0 + 100)).toBe(0);
    expect(gate.dismissedFailures).toBe(2);
    // Nothing confirmed: the next failure is held, not passed.
    expect(gate.failure(T0 + 200).pass).toBe(0);
    expect(gate.checked(false, T0 + 300)).toBe(0);
    expect(gate.dismissedFailures).toBe(3);
  });

  it("starts at most one check per HEALTH_CHECK_MIN_INTERVAL_MS, even once the last one answered", () => {
    const gate = new TripGate(THRESHOLD);
    expect(gate.failure(T0).check).toBe(true);
    gate.checked(false, T0 + 10);
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS - 1)).toEqual({ pass: 0, check: false });
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS)).toEqual({ pass: 0, check: true });
  });

  it("starts no second check while one is in flight, however long it takes", () => {
    const gate = new TripGate(THRESHOLD);
    expect(gate.failure(T0).check).toBe(true);
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS).check).toBe(false);
    expect(gate.failure(T0 + 10 * HEALTH_CHECK_MIN_INTERVAL_MS).check).toBe(false);
    expect(gate.checked(true, T0 + 10 * HEALTH_CHECK_MIN_INTERVAL_MS + 1)).toBe(3);
  });

  it("a success clears the held failures: a failed check after it passes only those since", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.failure(T0 + 1);
    gate.success();
    gate.failure(T0 + 2);
    expect(gate.checked(true, T0 + 100)).toBe(1);
  });

  it("a passing check accounts for every failure held since the last result, successes between or not, with their route classes", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0, "/err");
    gate.success();
    gate.failure(T0 + 1, "/report");
    gate.failure(T0 + 2, "/err");
    expect(gate.checked(false, T0 + 100)).toBe(0);
    expect(gate.dismissedFailures).toBe(3);
    expect(gate.lastDismissed).toEqual({ failures: 3, routes: ["/err", "/report"] });
    // A failing check dismisses nothing.
    gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS + 200, "/x");
    gate.checked(true, T0 + HEALTH_CHECK_MIN_INTERVAL_MS + 300);
    expect(gate.lastDismissed).toEqual({ failures: 0, routes: [] });
  });

  it("names at most MAX_ROUTES_REPORTED route classes per result", () => {
    const gate = new TripGate(THRESHOLD);
    for (let i = 0; i < 20; i++) gate.failure(T0 + i, `/r${i}`);
    gate.checked(false, T0 + 100);
    expect(gate.lastDismissed.failures).toBe(20);
    expect(gate.lastDismissed.routes).toHaveLength(MAX_ROUTES_REPORTED);
  });

  it("reset drops the confirmation and the held failures: the next failure is held and checked again", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.checked(true, T0 + 100);
    gate.failure(T0 + 200);
    gate.reset();
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS + 200)).toEqual({ pass: 0, check: true });
    expect(gate.checked(true, T0 + HEALTH_CHECK_MIN_INTERVAL_MS + 300)).toBe(1);
  });

  it("reset leaves the check interval alone: a failure right after reset starts no check inside HEALTH_CHECK_MIN_INTERVAL_MS", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.checked(true, T0 + 10);
    gate.reset();
    expect(gate.failure(T0 + 20)).toEqual({ pass: 0, check: false });
  });
});

describe("a lost check", () => {
  it("one that never reported back stops holding failures: a new check goes out after CHECK_LOST_AFTER_MS", () => {
    const gate = new TripGate(THRESHOLD);
    expect(gate.failure(T0).check).toBe(true);
    expect(gate.failure(T0 + CHECK_LOST_AFTER_MS).check).toBe(false);
    expect(gate.failure(T0 + CHECK_LOST_AFTER_MS + 1).check).toBe(true);
  });
});

/** `count` failures at `at`, `at + 1`, ...: whether each started a check. */
function failures(gate: TripGate, at: number, count: number): boolean[] {
  return Array.from({ length: count }, (_, i) => gate.failure(at + i).check);
}

describe("an early check, inside HEALTH_CHECK_MIN_INTERVAL_MS", () => {
  it("starts at the threshold-th failure held after a passing check's result, and a failing one passes the whole run on at once", () => {
    const gate = new TripGate(THRESHOLD);
    expect(gate.failure(T0).check).toBe(true);
    expect(gate.checked(false, T0 + 10)).toBe(0);
    // A partition begins: the run is held, and its threshold-th failure starts the check.
    expect(failures(gate, T0 + 20, THRESHOLD)).toEqual([false, false, false, false, true]);
    expect(T0 + 20 + THRESHOLD - T0).toBeLessThan(HEALTH_CHECK_MIN_INTERVAL_MS);
    expect(gate.checked(true, T0 + 130)).toBe(THRESHOLD);
    expect(gate.failure(T0 + 131)).toEqual({ pass: 1, check: false });
  });

  it("a passing early check still dismisses the run: one route's trouble never reaches the breaker", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0, "/err");
    gate.checked(false, T0 + 10);
    expect(failures(gate, T0 + 20, THRESHOLD).at(-1)).toBe(true);
    expect(gate.checked(false, T0 + 40)).toBe(0);
    expect(gate.dismissedFailures).toBe(1 + THRESHOLD);
    // Nothing confirmed: the next failure is held again.
    expect(gate.failure(T0 + 50).pass).toBe(0);
  });

  it("needs the run unbroken: a success in between starts it over", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.checked(false, T0 + 10);
    failures(gate, T0 + 20, THRESHOLD - 1);
    gate.success();
    expect(failures(gate, T0 + 30, THRESHOLD - 1)).not.toContain(true);
    expect(gate.failure(T0 + 40).check).toBe(true);
  });

  it("counts only failures held after the last result: those held while a check was in flight were its to speak for", () => {
    const gate = new TripGate(THRESHOLD);
    expect(gate.failure(T0).check).toBe(true);
    expect(failures(gate, T0 + 1, 3 * THRESHOLD)).not.toContain(true);
    expect(gate.checked(false, T0 + 50)).toBe(0);
    expect(failures(gate, T0 + 60, THRESHOLD)).toEqual([false, false, false, false, true]);
  });

  it("one early check per run, never two in flight: the failures after it wait for its result", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.checked(false, T0 + 10);
    expect(failures(gate, T0 + 20, THRESHOLD).at(-1)).toBe(true);
    expect(failures(gate, T0 + 30, 4 * THRESHOLD)).not.toContain(true);
    gate.checked(false, T0 + EARLY_CHECK_MIN_INTERVAL_MS + 100);
    // A new run, past the early spacing: one more early check.
    expect(failures(gate, T0 + EARLY_CHECK_MIN_INTERVAL_MS + 110, THRESHOLD).at(-1)).toBe(true);
  });

  it("early checks start at least EARLY_CHECK_MIN_INTERVAL_MS apart: a run inside it waits, then its next failure checks", () => {
    const gate = new TripGate(THRESHOLD);
    gate.failure(T0);
    gate.checked(false, T0 + 10);
    const first = T0 + 20 + THRESHOLD - 1;
    expect(failures(gate, T0 + 20, THRESHOLD).at(-1)).toBe(true);
    gate.checked(false, first + 5);
    expect(failures(gate, first + 10, 2 * THRESHOLD)).not.toContain(true);
    expect(gate.failure(first + EARLY_CHECK_MIN_INTERVAL_MS - 1).check).toBe(false);
    expect(gate.failure(first + EARLY_CHECK_MIN_INTERVAL_MS).check).toBe(true);
  });

  it("a threshold of 1 (every failure a run) is held to the same spacing", () => {
    const gate = new TripGate(1);
    expect(gate.failure(T0).check).toBe(true);
    gate.checked(false, T0 + 5);
    expect(gate.failure(T0 + 10).check).toBe(true);
    gate.checked(false, T0 + 15);
    expect(gate.failure(T0 + 20).check).toBe(false);
    expect(gate.failure(T0 + 10 + EARLY_CHECK_MIN_INTERVAL_MS).check).toBe(true);
  });
});

/**
 * A client's flood on a healthy origin: `gaps` between failures (a route that always answers 500),
 * each check answered passing `checkMs` later. The start times of the checks.
 */
function flood(gaps: number[], checkMs: number, threshold = THRESHOLD): number[] {
  const gate = new TripGate(threshold);
  const started: number[] = [];
  let answerAt = Number.POSITIVE_INFINITY;
  let now = T0;
  for (const gap of gaps) {
    now += gap;
    if (answerAt <= now) {
      gate.checked(false, answerAt);
      answerAt = Number.POSITIVE_INFINITY;
    }
    if (!gate.failure(now).check) continue;
    // Never two in flight: a check starts only once the last one answered.
    expect(answerAt).toBe(Number.POSITIVE_INFINITY);
    started.push(now);
    answerAt = now + checkMs;
  }
  return started;
}

/** The most check starts in any window [t, t + 1000). */
function mostInASecond(starts: number[]): number {
  return Math.max(0, ...starts.map((t) => starts.filter((s) => s >= t && s < t + 1000).length));
}

describe("what a client can make checks cost", () => {
  it("MAX_CHECKS_PER_SECOND is the ordinary check's once a second plus the early checks' spacing: 5", () => {
    expect(MAX_CHECKS_PER_SECOND).toBe(5);
  });

  it("a flood of N failures in 1 s starts at most MAX_CHECKS_PER_SECOND checks, however fast the flood and the checks", () => {
    for (const n of [10, 50, 200, 1000, 10_000]) {
      for (const checkMs of [0, 1, 5, 50]) {
        const starts = flood(Array.from({ length: n }, (_, i) => (i === 0 ? 0 : 1000 / n)), checkMs);
        expect(starts.length).toBeGreaterThanOrEqual(1);
        expect(starts.length).toBeLessThanOrEqual(MAX_CHECKS_PER_SECOND);
        // And never more than the first plus one per run of threshold failures.
        expect(starts.length).toBeLessThanOrEqual(1 + Math.floor(n / THRESHOLD));
      }
    }
  });

  it("a flood kept up for 10 s stays within MAX_CHECKS_PER_SECOND in every second", () => {
    const starts = flood(Array.from({ length: 20_000 }, () => 0.5), 2);
    expect(mostInASecond(starts)).toBe(MAX_CHECKS_PER_SECOND);
    expect(starts.length).toBeLessThanOrEqual(10 * MAX_CHECKS_PER_SECOND);
  });

  it("any flood, any check time, any threshold: at most MAX_CHECKS_PER_SECOND starts in any second, the first plus one per run", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 0, max: 900 }),
        fc.integer({ min: 1, max: 10 }),
        (gaps, checkMs, threshold) => {
          const starts = flood(gaps, checkMs, threshold);
          expect(mostInASecond(starts)).toBeLessThanOrEqual(MAX_CHECKS_PER_SECOND);
          expect(starts.length).toBeLessThanOrEqual(1 + Math.floor(gaps.length / threshold) + Math.floor(gaps.reduce((a, b) => a + b, 0) / HEALTH_CHECK_MIN_INTERVAL_MS));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
