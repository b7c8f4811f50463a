/**
 * A multi-region plan as the drill reads it: the worker's ORIGINS and ROUTING, the routing
 * settings its targets need (with the multi-region contract's defaults), and what every region
 * is doing in each phase (its fault, its admin state), from which the targets know which region
 * was usable when and what share of traffic it should carry.
 */
import { readRouting } from "../../src/config/routing.ts";
import type { RoutingMode } from "../../src/routing/types.ts";
import type { AdminAction, FaultSetting, Plan, RegionSpec } from "./types.ts";

/** The ROUTING fields of the contract (issue 10); the worker refuses any other. */
export const ROUTING_FIELDS = [
  "mode",
  "stick_seconds",
  "sticky_header",
  "down",
  "up",
  "hysteresis_s",
  "gradual_weights",
  "step_dwell_s",
  "step_error_budget",
  "step_min_requests",
  "retry_budget",
  "latency",
] as const;

/** The part of ROUTING the drill's targets read, resolved: ms and percents. */
export interface DrillRouting {
  mode: RoutingMode;
  stickMs: number;
  stickyHeader: string | undefined;
  down: number;
  up: number;
  hysteresisMs: number;
  gradualWeights: number[];
  stepDwellMs: number;
}

/** ROUTING_SYNC_MS's default: how often an isolate re-reads the fleet routing object. */
export const ROUTING_SYNC_DEFAULT_MS = 1000;

export function isMultiRegion(plan: Plan): plan is Plan & { regions: RegionSpec[] } {
  return (plan.regions?.length ?? 0) >= 2;
}

/** The routing settings the worker will run with (ROUTING as the plan gives it, defaults for the rest). */
export function drillRouting(raw: Record<string, unknown> | undefined): DrillRouting {
  // The worker's own reader and defaults: the drill judges what the worker will run with. Its
  // problems are the worker's to report (validated before anything starts); bad fields read as defaults.
  const p = readRouting(raw ?? {}, []);
  return {
    mode: p.mode,
    stickMs: p.stickMs,
    stickyHeader: p.stickyHeader?.toLowerCase(),
    down: p.down,
    up: p.up,
    hysteresisMs: p.hysteresisMs,
    gradualWeights: p.gradualWeights,
    stepDwellMs: p.stepDwellMs,
  };
}

/**
 * What the drill must be able to read in a plan's ROUTING (the worker validates the rest, and
 * refuses unknown fields: so does this, before anything starts).
 */
export function routingProblems(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [`routing must be an object of ROUTING fields, got ${JSON.stringify(raw)}`];
  const r = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(r)) if (!(ROUTING_FIELDS as readonly string[]).includes(k)) problems.push(`routing.${k} is not a ROUTING field (${ROUTING_FIELDS.join(", ")})`);
  if (r["mode"] !== undefined && !["weighted", "failover", "latency"].includes(r["mode"] as string)) problems.push(`routing.mode must be weighted, failover or latency, got ${JSON.stringify(r["mode"])}`);
  for (const k of ["stick_seconds", "hysteresis_s", "step_dwell_s"]) {
    if (r[k] !== undefined && !(typeof r[k] === "number" && (r[k] as number) >= 0)) problems.push(`routing.${k} must be a number of seconds >= 0, got ${JSON.stringify(r[k])}`);
  }
  for (const k of ["down", "up"]) if (r[k] !== undefined && !(Number.isInteger(r[k]) && (r[k] as number) >= 1)) problems.push(`routing.${k} must be a whole number >= 1, got ${JSON.stringify(r[k])}`);
  if (r["sticky_header"] !== undefined && r["sticky_header"] !== null && !(typeof r["sticky_header"] === "string" && /^[a-z0-9-]{1,64}$/i.test(r["sticky_header"]))) {
    problems.push(`routing.sticky_header must be a header name or null, got ${JSON.stringify(r["sticky_header"])}`);
  }
  const w = r["gradual_weights"];
  if (w !== undefined) {
    const ok = Array.isArray(w) && w.length > 0 && w.every((x, i) => typeof x === "number" && x >= 1 && x <= 100 && (i === 0 || x > (w[i - 1] as number))) && w[w.length - 1] === 100;
    if (!ok) problems.push(`routing.gradual_weights must be percents from 1 to 100, strictly increasing, ending at 100; got ${JSON.stringify(w)}`);
  }
  return problems;
}

/** The worker's ORIGINS for a multi-region plan: each region at its fake origin's URL. */
export function originsVar(regions: RegionSpec[], urls: Record<string, string>): string {
  return JSON.stringify(
    regions.map((r) => ({
      name: r.name,
      url: urls[r.name],
      weight: r.weight ?? 1,
      ...(r.home !== undefined ? { home: r.home } : {}),
      ...(r.priority !== undefined ? { priority: r.priority } : {}),
    })),
  );
}

type AdminState = "active" | "evacuated" | "draining";

export interface RegionState {
  fault: FaultSetting;
  admin: AdminState;
  shedPercent: number;
}

/** Every region's state during one phase (faults and admin actions take effect at the phase's start). */
export interface PhaseRegions {
  phase: number;
  /** Ms since the load started. */
  from: number;
  to: number;
  regions: Record<string, RegionState>;
}

/** The fault modes in which a region answers nothing usable: a hard outage. */
export function hardDown(f: FaultSetting): boolean {
  return f.mode === "partition" || f.mode === "blackhole" || f.mode === "reset" || f.mode === "truncate" || f.mode === "stall-body" || (f.mode === "status" && f.status >= 500);
}

/** Answering as in the baseline: healthy with no added latency. */
export function clean(f: FaultSetting): boolean {
  return f.mode === "healthy" && !f.latencyMs && !f.jitterMs;
}

/** Healthy enough to take every read: answering, and not failing a share of them. */
export function healthy(f: FaultSetting): boolean {
  return f.mode === "healthy";
}

function adminOf(phase: Plan["phases"][number]): AdminAction[] {
  return phase.admin ?? [];
}

/** Each phase's region states, following the plan's faults (which persist until changed) and admin actions. */
export function phaseRegions(plan: Plan & { regions: RegionSpec[] }, bounds: number[]): PhaseRegions[] {
  const state: Record<string, RegionState> = {};
  for (const r of plan.regions) state[r.name] = { fault: { mode: "healthy" }, admin: "active", shedPercent: 0 };
  return plan.phases.map((phase, i) => {
    for (const [name, fault] of Object.entries(phase.origins)) if (state[name]) state[name] = { ...state[name], fault };
    for (const a of adminOf(phase)) {
      const s = state[a.region];
      if (!s) continue;
      if (a.action === "evacuate") state[a.region] = { ...s, admin: "evacuated", shedPercent: 0 };
      else if (a.action === "drain") state[a.region] = { ...s, admin: "draining" };
      else if (a.action === "restore") state[a.region] = { ...s, admin: "active", shedPercent: 0 };
      else state[a.region] = { ...s, shedPercent: a.percent ?? 0 };
    }
    return { phase: i, from: bounds[i]!, to: bounds[i + 1]!, regions: structuredClone(state) };
  });
}

/**
 * The share (0..1) of new sessions each region takes at full weight, given the others' states:
 * only active regions that are not hard down take new sessions. failover: all to the first by
 * priority (home first on a tie, then ORIGINS order); weighted: by weight. latency mode follows
 * the measured leader, which no plan can know: undefined.
 */
export function normalShares(regions: RegionSpec[], states: Record<string, RegionState>, mode: RoutingMode): Record<string, number> | undefined {
  if (mode === "latency") return undefined;
  const open = regions.map((r, i) => ({ r, i })).filter(({ r }) => states[r.name]?.admin === "active" && !hardDown(states[r.name]!.fault));
  const out: Record<string, number> = Object.fromEntries(regions.map((r) => [r.name, 0]));
  if (open.length === 0) return out;
  if (mode === "failover") {
    const homeIndex = Math.max(0, regions.findIndex((r) => r.home === true));
    const first = [...open].sort((a, b) => (a.r.priority ?? a.i) - (b.r.priority ?? b.i) || Number(b.i === homeIndex) - Number(a.i === homeIndex) || a.i - b.i)[0]!;
    out[first.r.name] = 1;
    return out;
  }
  const total = open.reduce((sum, { r }) => sum + (r.weight ?? 1), 0);
  for (const { r } of open) out[r.name] = total > 0 ? (r.weight ?? 1) / total : 0;
  return out;
}
