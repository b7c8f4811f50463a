/** The routing settings the fleet object and the isolate views take from configuration. */
import type { Config } from "../config.ts";
import type { RoutingRules } from "./state.ts";
import type { RoutingPolicy } from "./types.ts";

/** The contract's defaults: `gradual_weights` [10,30,60,100], `step_dwell_s` 10, `hysteresis_s` 30. */
export const DEFAULT_RULES: RoutingRules = Object.freeze({ gradualWeights: Object.freeze([10, 30, 60, 100]) as number[], stepDwellMs: 10_000, hysteresisMs: 30_000 });
/** `ROUTING_SYNC_MS`'s default: how often an isolate re-reads the routing object. */
export const DEFAULT_ROUTING_SYNC_MS = 1000;

/**
 * `config.routing` and `config.routingSyncMs` come with the ROUTING reader (config/routing.ts),
 * built beside this; until both are in one tree, a configuration without them routes by the
 * contract's defaults. Read through a widened type so this file compiles either way.
 */
type WithRouting = Config & { routing?: RoutingPolicy; routingSyncMs?: number };

export function routingRules(config: Config): RoutingRules {
  const routing = (config as WithRouting).routing;
  if (!routing) return DEFAULT_RULES;
  return { gradualWeights: routing.gradualWeights, stepDwellMs: routing.stepDwellMs, hysteresisMs: routing.hysteresisMs };
}

export function routingSyncMs(config: Config): number {
  return (config as WithRouting).routingSyncMs ?? DEFAULT_ROUTING_SYNC_MS;
}
