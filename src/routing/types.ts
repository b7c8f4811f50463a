/**
 * The shapes shared by routing's parts: configuration (config/routing.ts), the pure choice
 * (select.ts), the return-to-home ramp (ramp.ts), per-region hysteresis (health.ts), the fleet
 * routing object and its view (object.ts, view.ts) and the admin routes. Types only.
 */

import type { WriterLease } from "../writes/types.ts";

export type RoutingMode = "weighted" | "failover" | "latency";

/**
 * The ROUTING setting, resolved (src/config/routing.ts). Every duration in ms, every traffic share
 * in percent (0..100: gradualWeights, and RegionControl.shedPercent / RegionInput.rampPercent);
 * ratios stay ratios (0..1: stepErrorBudget, retryBudget.ratio, latency.alpha / switchMargin).
 */
export interface RoutingPolicy {
  mode: RoutingMode;
  /** How long a client keeps the region that served it, while that region is usable. */
  stickMs: number;
  /** A request header carrying the assignment instead of the cookie (undefined: cookie `edge-region`). */
  stickyHeader: string | undefined;
  /** Failures in a row (seen by this isolate) for a region to leave. */
  down: number;
  /** Successes in a row (requests or health checks) for a region that left to return. */
  up: number;
  /** Minimum time between two routing changes of one region (leave, return). */
  hysteresisMs: number;
  /** Return-to-home: the region's share of its weight, step by step; the last is 100. */
  gradualWeights: number[];
  /** How long each ramp step lasts. */
  stepDwellMs: number;
  /** A ramp step whose error rate (failed / attempted on that region) exceeds this drops the region to 0. */
  stepErrorBudget: number;
  /** Requests a step must see before its error rate is judged. */
  stepMinRequests: number;
  /** Failover retries as a share of requests (Envoy: 20 %), and the floor per second (Envoy: 3). */
  retryBudget: { ratio: number; minPerSecond: number };
  /** latency mode: EWMA smoothing (weight of the newest sample) and the margin a challenger must win by: a ratio, and at least minSwitchMs. */
  latency: { alpha: number; switchMargin: number; minSwitchMs: number };
}

export interface RegionConfig {
  name: string;
  url: URL;
  weight: number;
  /** Where traffic belongs when all is well (failover mode prefers it; return-to-home ramps back to it). */
  home: boolean;
  /** failover mode: lower is tried first; ties keep ORIGINS order. */
  priority: number;
}

/** What an operator (or the fleet) set for one region; lives in the routing Durable Object. */
export interface RegionControl {
  /**
   * active: takes traffic by weight. evacuated: weight 0 (sticky clients move too).
   * draining: no new sessions; clients already stuck to it stay until their assignment expires.
   */
  admin: "active" | "evacuated" | "draining";
  /** Percent of this region's would-be traffic turned away to other regions (0: none). */
  shedPercent: number;
  /** A return-to-home ramp in progress: started at this time (fleet clock, ms); undefined when at full weight. */
  rampStartedAt: number | undefined;
  /**
   * The region went dark (an isolate reported `left`) or its ramp aborted: its ramp is held at 0
   * until a `returned` or an operator's restore. Optional: absent reads as false.
   */
  held?: boolean;
  /** The last ramp step the fleet recorded (the object's alarm advances it), for exactly one `ramp_step` point per step. */
  rampStep?: number;
  /** Why the last change happened ("admin:evacuate", "ramp:abort error rate 12% > 5%", ...). */
  reason: string;
  changedAt: number;
}

export interface RoutingSnapshot {
  /** Grows by one on every change; a view adopts only a newer one. */
  generation: number;
  regions: Record<string, RegionControl>;
  /** The write lease (issue 11); absent until the first promotion or freeze: the configured initial writer at epoch 1 (writes/lease.ts `effectiveLease`). */
  writer?: WriterLease;
}

/** Why a request went where it went: a data point's routing reason. */
/** "refused": the request was answered before any routing (a bad request, bad configuration). "writer": a write route's request, which goes to the writer region (or the queue), never by the choice. */
export type RoutingReason = "refused" | "single" | "sticky" | "weighted" | "failover" | "latency" | "ramp" | "shed" | "no-usable-region" | "writer";

/** One region as the choice sees it: everything already read from memory. */
export interface RegionInput {
  name: string;
  /** Configured weight, before ramp and shedding. */
  weight: number;
  home: boolean;
  priority: number;
  control: RegionControl;
  /** Share (percent) of its weight the ramp allows now (100 when not ramping). */
  rampPercent: number;
  /** Breaker closed and hysteresis says it is in (health.ts). */
  usable: boolean;
  /** latency mode: smoothed answer time, undefined before the first sample. */
  latencyMs: number | undefined;
}

export interface Choice {
  /** Regions to try in order: the first is the attempt, the next the failover. Never empty when any region exists. */
  order: string[];
  reason: RoutingReason;
  /** The assignment the answer should carry (undefined: leave the client's as it is). */
  assign: string | undefined;
}
