/** TripGate on its own: failures held until a check, what a failed or passing check does, and how often checks run. */
import { describe, expect, it } from "vitest";
import { CHECK_LOST_AFTER_MS, CONFIRMATION_TTL_MS, HEALTH_CHECK_MIN_INTERVAL_MS, MAX_ROUTES_REPORTED, TripGate } from "../src/breaker/trip-gate.ts";

const T0 = 1_000_000;

describe("TripGate", () => {
  it("holds failures until a check answers, and starts one check for the first", () => {
    const gate = new TripGate();
    expect(gate.failure(T0)).toEqual({ pass: 0, check: true });
    expect(gate.failure(T0 + 1)).toEqual({ pass: 0, check: false });
    expect(gate.failure(T0 + 2)).toEqual({ pass: 0, check: false });
  });

  it("a failed check passes every held failure and confirms for CONFIRMATION_TTL_MS: failures then pass one by one, unchecked", () => {
    const gate = new TripGate();
    gate.failure(T0);
    gate.failure(T0 + 1);
    gate.failure(T0 + 2);
    expect(gate.checked(true, T0 + 100)).toBe(3);
    expect(gate.failure(T0 + 100)).toEqual({ pass: 1, check: false });
    expect(gate.failure(T0 + 100 + CONFIRMATION_TTL_MS - 1)).toEqual({ pass: 1, check: false });
    expect(gate.dismissedFailures).toBe(0);
  });

  it("once the confirmation has lapsed a failure is held again and starts a new check", () => {
    const gate = new TripGate();
    gate.failure(T0);
    gate.checked(true, T0 + 100);
    expect(gate.failure(T0 + 100 + CONFIRMATION_TTL_MS)).toEqual({ pass: 0, check: true });
    expect(gate.checked(true, T0 + 100 + CONFIRMATION_TTL_MS + 50)).toBe(1);
  });

  it("a passing check dismisses the held failures (counted in dismissedFailures) and passes none", () => {
    const gate = new TripGate();
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
    const gate = new TripGate();
    expect(gate.failure(T0).check).toBe(true);
    gate.checked(false, T0 + 10);
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS - 1)).toEqual({ pass: 0, check: false });
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS)).toEqual({ pass: 0, check: true });
  });

  it("starts no second check while one is in flight, however long it takes", () => {
    const gate = new TripGate();
    expect(gate.failure(T0).check).toBe(true);
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS).check).toBe(false);
    expect(gate.failure(T0 + 10 * HEALTH_CHECK_MIN_INTERVAL_MS).check).toBe(false);
    expect(gate.checked(true, T0 + 10 * HEALTH_CHECK_MIN_INTERVAL_MS + 1)).toBe(3);
  });

  it("a success clears the held failures: a failed check after it passes only those since", () => {
    const gate = new TripGate();
    gate.failure(T0);
    gate.failure(T0 + 1);
    gate.success();
    gate.failure(T0 + 2);
    expect(gate.checked(true, T0 + 100)).toBe(1);
  });

  it("a passing check accounts for every failure held since the last result, successes between or not, with their route classes", () => {
    const gate = new TripGate();
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
    const gate = new TripGate();
    for (let i = 0; i < 20; i++) gate.failure(T0 + i, `/r${i}`);
    gate.checked(false, T0 + 100);
    expect(gate.lastDismissed.failures).toBe(20);
    expect(gate.lastDismissed.routes).toHaveLength(MAX_ROUTES_REPORTED);
  });

  it("reset drops the confirmation and the held failures: the next failure is held and checked again", () => {
    const gate = new TripGate();
    gate.failure(T0);
    gate.checked(true, T0 + 100);
    gate.failure(T0 + 200);
    gate.reset();
    expect(gate.failure(T0 + HEALTH_CHECK_MIN_INTERVAL_MS + 200)).toEqual({ pass: 0, check: true });
    expect(gate.checked(true, T0 + HEALTH_CHECK_MIN_INTERVAL_MS + 300)).toBe(1);
  });

  it("reset leaves the check interval alone: a failure right after reset starts no check inside HEALTH_CHECK_MIN_INTERVAL_MS", () => {
    const gate = new TripGate();
    gate.failure(T0);
    gate.checked(true, T0 + 10);
    gate.reset();
    expect(gate.failure(T0 + 20)).toEqual({ pass: 0, check: false });
  });
});

describe("a lost check", () => {
  it("one that never reported back stops holding failures: a new check goes out after CHECK_LOST_AFTER_MS", () => {
    const gate = new TripGate();
    expect(gate.failure(T0).check).toBe(true);
    expect(gate.failure(T0 + CHECK_LOST_AFTER_MS).check).toBe(false);
    expect(gate.failure(T0 + CHECK_LOST_AFTER_MS + 1).check).toBe(true);
  });
});
