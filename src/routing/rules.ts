/** The ramp and dwell settings the fleet object and the isolate views take from configuration. */
import type { Config } from "../config.ts";
import type { RoutingRules } from "./state.ts";

export function routingRules(config: Config): RoutingRules {
  const { routing } = config;
  return { gradualWeights: routing.gradualWeights, stepDwellMs: routing.stepDwellMs, hysteresisMs: routing.hysteresisMs };
}
