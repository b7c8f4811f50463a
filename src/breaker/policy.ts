/** The breaker policy derived from configuration, shared by the object and the isolate view. */
import type { Config } from "../config.ts";
import type { BreakerPolicy } from "./state.ts";

export function breakerPolicy(config: Config): BreakerPolicy {
  return {
    failureThreshold: config.breaker.failureThreshold,
    openMs: config.breaker.openMs,
    openMaxMs: config.breaker.openMaxMs,
    backoffMultiplier: config.breaker.backoffMultiplier,
    // A probe is one origin request: give it the origin timeout plus a margin before another may go.
    probeLeaseMs: config.originTimeoutMs + 1000,
  };
}
