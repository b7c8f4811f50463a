/** What isolates and the breaker object say to each other over RPC. */
import type { BreakerState } from "./state.ts";

export interface OutcomeRun {
  outcome: "failure" | "success";
  count: number;
  probe: boolean;
}

export interface BreakerSnapshot {
  origin: string;
  state: BreakerState;
  /** The object's clock when it answered, so callers can see skew. */
  at: number;
}

export type ForceAction = "open" | "close" | "reset";
