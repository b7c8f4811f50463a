/** The breaker policy derived from configuration, shared by the object and the isolate view. */
import type { Config } from "../config.ts";
import type { BreakerPolicy } from "./state.ts";

export function breakerPolicy(config: Config): BreakerPolicy {
  return {
    failureThreshold: config.breaker.failureThreshold,
    openMs: config.breaker.openMs,
    openMaxMs: config.breaker.openMaxMs,
    backoffMultiplier: config.breaker.backoffMultiplier,
    // A probe is one origin request (the health check, or a client's request without one): give
    // it its timeout plus a margin before another may go.
    probeLeaseMs: (config.health.path === undefined ? config.originTimeoutMs : config.health.timeoutMs) + 1000,
  };
}
