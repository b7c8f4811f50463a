/** The circuit breaker as a pure state machine: no I/O, time passed in, so every transition is testable. */

export type BreakerState =
  | { kind: "closed"; failures: number }
  | { kind: "open"; openedAt: number; until: number; attempt: number }
  | { kind: "half-open"; probeLeaseUntil: number; attempt: number };

export interface BreakerPolicy {
  failureThreshold: number;
  openMs: number;
  openMaxMs: number;
  backoffMultiplier: number;
  /** How long a granted probe may stay out before another one may be sent. */
  probeLeaseMs: number;
}

export type BreakerEvent =
  | { type: "failure"; probe: boolean }
  | { type: "success"; probe: boolean }
  | { type: "force-open" }
  | { type: "force-close" }
  | { type: "reset" };

export const INITIAL: BreakerState = { kind: "closed", failures: 0 };

/** Open duration for the n-th consecutive opening: base * multiplier^(n-1), capped. */
export function openDuration(policy: BreakerPolicy, attempt: number): number {
  return Math.min(policy.openMaxMs, Math.round(policy.openMs * policy.backoffMultiplier ** Math.max(0, attempt - 1)));
}

function open(policy: BreakerPolicy, now: number, attempt: number): BreakerState {
  return { kind: "open", openedAt: now, until: now + openDuration(policy, attempt), attempt };
}

export function next(state: BreakerState, event: BreakerEvent, now: number, policy: BreakerPolicy): BreakerState {
  switch (event.type) {
    case "force-open":
      return open(policy, now, state.kind === "closed" ? 1 : state.attempt);
    case "force-close":
    case "reset":
      return INITIAL;
    case "success":
      if (state.kind === "closed") return state.failures === 0 ? state : INITIAL;
      // Only the probe speaks for the origin while it is suspect: a straggler that started
      // before the breaker opened proves nothing about the origin now.
      if (state.kind === "half-open" && event.probe) return INITIAL;
      return state;
    case "failure":
      if (state.kind === "closed") {
        const failures = state.failures + 1;
        return failures >= policy.failureThreshold ? open(policy, now, 1) : { kind: "closed", failures };
      }
      if (state.kind === "half-open" && event.probe) return open(policy, now, state.attempt + 1);
      return state;
  }
}

/** Ask to send the one half-open probe; granted at most once per lease, fleet-wide when kept in the object. */
export function acquireProbe(state: BreakerState, now: number, policy: BreakerPolicy): { granted: boolean; state: BreakerState } {
  if (state.kind === "closed") return { granted: false, state };
  if (state.kind === "open" && now < state.until) return { granted: false, state };
  if (state.kind === "half-open" && now < state.probeLeaseUntil) return { granted: false, state };
  return { granted: true, state: { kind: "half-open", probeLeaseUntil: now + policy.probeLeaseMs, attempt: state.attempt } };
}

/**
 * A saved half-open state restores as open until its lease would have ended: a restarted
 * object must never believe its probe is still in flight, nor grant a second one early.
 */
export function restore(saved: BreakerState): BreakerState {
  if (saved.kind !== "half-open") return saved;
  return { kind: "open", openedAt: saved.probeLeaseUntil, until: saved.probeLeaseUntil, attempt: saved.attempt };
}

/** When the state next changes by itself (for alarms and Retry-After), or undefined. */
export function nextDeadline(state: BreakerState): number | undefined {
  if (state.kind === "open") return state.until;
  if (state.kind === "half-open") return state.probeLeaseUntil;
  return undefined;
}
