import { describe, expect, it } from "vitest";
import { acquireProbe, INITIAL, next, openDuration, restore, type BreakerPolicy, type BreakerState } from "../src/breaker/state.ts";

const policy: BreakerPolicy = { failureThreshold: 3, openMs: 1000, openMaxMs: 5000, backoffMultiplier: 2, probeLeaseMs: 2000 };
const fail = { type: "failure", probe: false } as const;
const ok = { type: "success", probe: false } as const;
const probeFail = { type: "failure", probe: true } as const;
const probeOk = { type: "success", probe: true } as const;

function run(events: Parameters<typeof next>[1][], at = 0): BreakerState {
  return events.reduce<BreakerState>((s, e) => next(s, e, at, policy), INITIAL);
}

describe("breaker state machine", () => {
  it("stays closed below the threshold and counts consecutive failures", () => {
    expect(run([fail, fail])).toEqual({ kind: "closed", failures: 2 });
  });

  it("a success resets the consecutive count", () => {
    expect(run([fail, fail, ok, fail])).toEqual({ kind: "closed", failures: 1 });
  });

  it("opens on the threshold-th consecutive failure for openMs", () => {
    expect(run([fail, fail, fail], 100)).toEqual({ kind: "open", openedAt: 100, until: 1100, attempt: 1 });
  });

  it("grants no probe before the open period ends, one at its end", () => {
    const open = run([fail, fail, fail], 0);
    expect(acquireProbe(open, 999, policy)).toEqual({ granted: false, state: open });
    const granted = acquireProbe(open, 1000, policy);
    expect(granted).toEqual({ granted: true, state: { kind: "half-open", probeLeaseUntil: 3000, attempt: 1 } });
  });

  it("grants only one probe per lease while half-open, and a new one once the lease has lapsed", () => {
    const half: BreakerState = { kind: "half-open", probeLeaseUntil: 3000, attempt: 1 };
    expect(acquireProbe(half, 2999, policy).granted).toBe(false);
    expect(acquireProbe(half, 3000, policy)).toEqual({ granted: true, state: { kind: "half-open", probeLeaseUntil: 5000, attempt: 1 } });
  });

  it("a successful probe closes the breaker", () => {
    expect(next({ kind: "half-open", probeLeaseUntil: 3000, attempt: 3 }, probeOk, 1500, policy)).toEqual(INITIAL);
  });

  it("a failed probe re-opens with a doubled open period, capped at openMaxMs", () => {
    expect(next({ kind: "half-open", probeLeaseUntil: 3000, attempt: 1 }, probeFail, 1000, policy)).toEqual({ kind: "open", openedAt: 1000, until: 3000, attempt: 2 });
    expect(next({ kind: "half-open", probeLeaseUntil: 3000, attempt: 2 }, probeFail, 1000, policy)).toEqual({ kind: "open", openedAt: 1000, until: 5000, attempt: 3 });
    expect(next({ kind: "half-open", probeLeaseUntil: 3000, attempt: 3 }, probeFail, 1000, policy)).toEqual({ kind: "open", openedAt: 1000, until: 6000, attempt: 4 });
    expect([1, 2, 3, 4, 10].map((a) => openDuration(policy, a))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it("does NOT let straggler outcomes move an open or half-open breaker", () => {
    const open: BreakerState = { kind: "open", openedAt: 0, until: 1000, attempt: 1 };
    expect(next(open, ok, 10, policy)).toBe(open);
    expect(next(open, fail, 10, policy)).toBe(open);
    const half: BreakerState = { kind: "half-open", probeLeaseUntil: 3000, attempt: 1 };
    expect(next(half, ok, 10, policy)).toBe(half);
    expect(next(half, fail, 10, policy)).toBe(half);
  });

  it("force-open, force-close and reset do what they say", () => {
    expect(next(INITIAL, { type: "force-open" }, 50, policy)).toEqual({ kind: "open", openedAt: 50, until: 1050, attempt: 1 });
    expect(next({ kind: "open", openedAt: 0, until: 1000, attempt: 2 }, { type: "force-close" }, 5, policy)).toEqual(INITIAL);
    expect(next({ kind: "closed", failures: 2 }, { type: "reset" }, 5, policy)).toEqual(INITIAL);
  });

  it("restores a saved half-open state as open until its lease would have ended", () => {
    expect(restore({ kind: "half-open", probeLeaseUntil: 7000, attempt: 2 })).toEqual({ kind: "open", openedAt: 7000, until: 7000, attempt: 2 });
    const open: BreakerState = { kind: "open", openedAt: 1, until: 2, attempt: 1 };
    expect(restore(open)).toBe(open);
  });
});
