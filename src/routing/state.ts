/** The fleet's routing controls as a pure reducer: operators' and isolates' events in, the next snapshot and its data point out. */
import type { RegionControl, RoutingPolicy, RoutingSnapshot } from "./types.ts";

/** The settings the reducer needs: the ramp's shape and the dwell between two changes of one region. */
export type RoutingRules = Pick<RoutingPolicy, "gradualWeights" | "stepDwellMs" | "hysteresisMs">;

export type AdminAction = "evacuate" | "drain" | "shed" | "restore";
export const ADMIN_ACTIONS: readonly AdminAction[] = ["evacuate", "drain", "shed", "restore"];

/** Who caused a change: an operator, an isolate's report, or the object itself (ramp steps on its alarm). */
export type RoutingSource = "admin" | "isolate" | "object";

export type RoutingEvent =
  /** `configured`: the caller's ORIGINS names, so regions the snapshot has never seen count as the active regions they are. */
  | { type: "evacuate" | "drain"; region: string; configured: string[]; force: boolean }
  | { type: "shed"; region: string; percent: number; configured: string[]; force: boolean }
  | { type: "restore"; region: string }
  /** An isolate saw the region go dark: its ramp is held at 0 until it returns. */
  | { type: "left"; region: string; why: string }
  /** An isolate saw it healthy again (after its own `up` successes and dwell). */
  | { type: "returned"; region: string; why: string }
  /** A ramp step failed its error budget; `rampStartedAt` names the ramp judged, so a late abort cannot end a newer ramp. */
  | { type: "ramp_abort"; region: string; reason: string; rampStartedAt?: number }
  /** The object's alarm: advances a ramp to the step its clock says, or ends it. */
  | { type: "ramp_tick"; region: string };

/** The routing data point's actions (blob2); `leader` is written by the latency choice, not here. */
export type RoutingAction = "evacuate" | "drain" | "shed" | "restore" | "left" | "returned" | "ramp_step" | "ramp_abort" | "ramp_done" | "leader";

export interface RoutingPoint {
  region: string;
  action: RoutingAction;
  reason: string;
  source: RoutingSource;
  /** Ramp percent, or shed percent for `shed`. */
  percent: number;
  /** Ramp step index (0 when not ramping). */
  step: number;
  generation: number;
}

export interface Applied {
  snapshot: RoutingSnapshot;
  /** False for a repeated event, a stale one, or a refusal: the snapshot (and its generation) is the one given. */
  changed: boolean;
  /** The data point describing the change, when there was one. */
  point?: RoutingPoint;
  /** Why the event was refused (answered 409): it would leave no region taking traffic. */
  refused?: string;
  /** What is wrong with a malformed event (the object's own check; callers validate first). */
  invalid?: string;
}

export const EMPTY_SNAPSHOT: RoutingSnapshot = Object.freeze({ generation: 0, regions: Object.freeze({}) }) as RoutingSnapshot;

/** What a region the object has never heard of has: configuration may add regions at any time. */
export const DEFAULT_CONTROL: RegionControl = Object.freeze({ admin: "active", shedPercent: 0, rampStartedAt: undefined, reason: "default", changedAt: 0 });

/** Region names as ORIGINS allows them (config.ts), checked again here: the object stores what it is sent. */
export const REGION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
/** The snapshot is one row read by every isolate every second; a bound keeps it small whatever callers send. */
export const MAX_REGIONS = 64;
const MAX_TEXT = 200;

export function controlOf(snapshot: RoutingSnapshot, region: string): RegionControl {
  return snapshot.regions[region] ?? DEFAULT_CONTROL;
}

/**
 * Where a region's return-to-home ramp stands: step i = floor((now - rampStartedAt) / stepDwellMs),
 * percent = gradualWeights[i], 100 once past the last step or when not ramping. Held (dark, or an
 * aborted ramp) and a ramp that starts later (a return within the hysteresis dwell) are at 0.
 */
export function rampPosition(control: RegionControl, rules: RoutingRules, now: number): { step: number; percent: number } {
  if (control.held) return { step: 0, percent: 0 };
  const started = control.rampStartedAt;
  if (started === undefined) return { step: 0, percent: 100 };
  if (now < started) return { step: 0, percent: 0 };
  const weights = rules.gradualWeights;
  const step = rules.stepDwellMs > 0 ? Math.floor((now - started) / rules.stepDwellMs) : weights.length;
  if (step >= weights.length) return { step: weights.length - 1, percent: 100 };
  return { step, percent: weights[step]! };
}

/** When the ramp next moves (a step boundary or its end), for the object's alarm; undefined when not ramping. */
export function nextRampDeadline(control: RegionControl, rules: RoutingRules): number | undefined {
  const started = control.rampStartedAt;
  if (control.held || started === undefined) return undefined;
  const next = (control.rampStep ?? 0) + 1;
  return started + Math.max(0, rules.stepDwellMs) * Math.min(next, rules.gradualWeights.length);
}

/** A problem with an event's shape, or undefined: the object refuses malformed events before they touch its row. */
export function eventProblem(event: RoutingEvent, snapshot: RoutingSnapshot): string | undefined {
  if (typeof event !== "object" || event === null) return "an event must be an object";
  if (typeof event.region !== "string" || !REGION_NAME.test(event.region)) return `region must be 1-63 letters, digits, '-' or '_', got ${JSON.stringify(event.region)}`;
  if (!(event.region in snapshot.regions) && Object.keys(snapshot.regions).length >= MAX_REGIONS) return `the snapshot already holds ${MAX_REGIONS} regions`;
  switch (event.type) {
    case "shed":
    case "evacuate":
    case "drain":
      if (event.type === "shed" && (!Number.isInteger(event.percent) || event.percent < 0 || event.percent > 100)) {
        return `percent must be an integer 0..100, got ${JSON.stringify(event.percent)}`;
      }
      if (!Array.isArray(event.configured) || event.configured.length > MAX_REGIONS || !event.configured.every((n) => typeof n === "string" && REGION_NAME.test(n))) {
        return "configured must be the list of configured region names";
      }
      return typeof event.force === "boolean" ? undefined : "force must be a boolean";
    case "restore":
    case "ramp_tick":
      return undefined;
    case "left":
    case "returned":
      return typeof event.why === "string" && event.why.length <= MAX_TEXT ? undefined : `why must be a string of at most ${MAX_TEXT} characters`;
    case "ramp_abort":
      if (typeof event.reason !== "string" || event.reason.length > MAX_TEXT) return `reason must be a string of at most ${MAX_TEXT} characters`;
      return event.rampStartedAt === undefined || Number.isFinite(event.rampStartedAt) ? undefined : "rampStartedAt must be a number";
    default:
      return `unknown event type ${JSON.stringify((event as { type: unknown }).type)}`;
  }
}

/**
 * Applies one event. Idempotent: an event that finds its effect already in place changes nothing
 * (same snapshot, same generation), so isolates may resend and alarms may run twice.
 */
export function apply(snapshot: RoutingSnapshot, event: RoutingEvent, now: number, rules: RoutingRules): Applied {
  const before = controlOf(snapshot, event.region);
  const unchanged: Applied = { snapshot, changed: false };
  const change = (control: RegionControl, point: Omit<RoutingPoint, "region" | "generation">): Applied => {
    const generation = snapshot.generation + 1;
    return {
      snapshot: { generation, regions: { ...snapshot.regions, [event.region]: control } },
      changed: true,
      point: { region: event.region, generation, ...point },
    };
  };
  const notRamping = { rampStartedAt: undefined, rampStep: undefined };
  const first = rules.gradualWeights[0] ?? 100;

  switch (event.type) {
    case "evacuate":
    case "drain": {
      const admin = event.type === "evacuate" ? "evacuated" : "draining";
      if (before.admin === admin) return unchanged;
      const refused = event.force ? undefined : noneLeft(snapshot, event.region, event.configured, event.type === "evacuate" ? "evacuating" : "draining");
      if (refused) return { ...unchanged, refused };
      const reason = event.force ? "admin (forced)" : "admin";
      return change({ ...before, ...notRamping, admin, reason: `admin:${event.type}`, changedAt: now }, { action: event.type, reason, source: "admin", percent: 0, step: 0 });
    }
    case "shed": {
      if (before.admin !== "active") return { ...unchanged, refused: `region ${JSON.stringify(event.region)} is ${before.admin}: restore it before shedding a share of its traffic` };
      if (before.shedPercent === event.percent) return unchanged;
      const refused = event.percent === 100 && !event.force ? noneLeft(snapshot, event.region, event.configured, "shedding all traffic of") : undefined;
      if (refused) return { ...unchanged, refused };
      const reason = event.force ? "admin (forced)" : "admin";
      const position = rampPosition(before, rules, now);
      return change({ ...before, shedPercent: event.percent, reason: `admin:shed ${event.percent}%`, changedAt: now }, { action: "shed", reason, source: "admin", percent: event.percent, step: position.step });
    }
    case "restore": {
      const warm = before.admin === "active" && !before.held && before.shedPercent < 100;
      // Nothing to restore: a ramp already under way keeps its pace, a region at full weight stays there.
      if (warm && before.shedPercent === 0) return unchanged;
      const point = { action: "restore", reason: "admin", source: "admin" } as const;
      // A region that kept taking part of its traffic is warm: lifting its shed is not a return from 0.
      if (warm) return change({ ...before, shedPercent: 0, reason: "admin:restore", changedAt: now }, { ...point, ...rampPosition(before, rules, now) });
      return change({ ...before, admin: "active", shedPercent: 0, held: false, rampStartedAt: now, rampStep: 0, reason: "admin:restore", changedAt: now }, { ...point, percent: first, step: 0 });
    }
    case "left": {
      if (before.held) return unchanged;
      return change({ ...before, ...notRamping, held: true, reason: `left:${event.why}`, changedAt: now }, { action: "left", reason: event.why, source: "isolate", percent: 0, step: 0 });
    }
    case "returned": {
      if (!before.held) {
        if (before.rampStartedAt !== undefined) return unchanged;
        // The fleet never saw it leave (a report lost on the way), yet an isolate did: ramp, never jump.
        return change({ ...before, held: false, rampStartedAt: now, rampStep: 0, reason: `returned:${event.why}`, changedAt: now }, { action: "returned", reason: event.why, source: "isolate", percent: first, step: 0 });
      }
      // Within the dwell after it left (or its ramp aborted), the return is kept but its ramp starts
      // only when the dwell ends: no region changes twice per hysteresis_s, and no return is lost.
      const startsAt = Math.max(now, before.changedAt + rules.hysteresisMs);
      const reason = startsAt > now ? `${event.why}; ramp starts in ${Math.ceil((startsAt - now) / 1000)} s (hysteresis)` : event.why;
      return change({ ...before, held: false, rampStartedAt: startsAt, rampStep: 0, reason: `returned:${reason}`, changedAt: now }, { action: "returned", reason, source: "isolate", percent: first, step: 0 });
    }
    case "ramp_abort": {
      if (before.held || before.rampStartedAt === undefined) return unchanged;
      if (event.rampStartedAt !== undefined && event.rampStartedAt !== before.rampStartedAt) return unchanged;
      const position = rampPosition(before, rules, now);
      return change({ ...before, ...notRamping, held: true, reason: `ramp:abort ${event.reason}`, changedAt: now }, { action: "ramp_abort", reason: event.reason, source: "isolate", percent: 0, step: position.step });
    }
    case "ramp_tick": {
      const started = before.rampStartedAt;
      if (before.held || started === undefined || now < started) return unchanged;
      const steps = rules.gradualWeights.length;
      if (now >= started + Math.max(0, rules.stepDwellMs) * steps) {
        return change({ ...before, ...notRamping, reason: "ramp:done", changedAt: now }, { action: "ramp_done", reason: `${steps} steps of ${rules.stepDwellMs / 1000} s`, source: "object", percent: 100, step: steps - 1 });
      }
      const position = rampPosition(before, rules, now);
      if (position.step <= (before.rampStep ?? 0)) return unchanged;
      return change({ ...before, rampStep: position.step, reason: `ramp:step ${position.step} (${position.percent}%)`, changedAt: now }, { action: "ramp_step", reason: `step ${position.step}: ${position.percent}%`, source: "object", ...position });
    }
  }
}

/** Takes traffic now: active, not shedding all of it, not held dark. */
function takesTraffic(control: RegionControl): boolean {
  return control.admin === "active" && control.shedPercent < 100 && !control.held;
}

function noneLeft(snapshot: RoutingSnapshot, region: string, configured: string[], verb: string): string | undefined {
  const names = configured.length > 0 ? configured : Object.keys(snapshot.regions);
  const others = names.filter((name) => name !== region);
  if (others.some((name) => takesTraffic(controlOf(snapshot, name)))) return undefined;
  const why = others.length === 0 ? "it is the only region" : others.map((name) => `${name} is ${describe(controlOf(snapshot, name))}`).join(", ");
  return `${verb} ${JSON.stringify(region)} would leave no active region (${why}); add ?force=1 to do it anyway`;
}

function describe(control: RegionControl): string {
  if (control.admin !== "active") return control.admin;
  if (control.held) return "held at 0 (dark)";
  return "shedding 100 %";
}
