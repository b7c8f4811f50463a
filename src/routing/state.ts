/** The fleet's routing controls as a pure reducer: operators' and isolates' events in, the next snapshot and its data point out. */
import { effectiveLease } from "../writes/lease.ts";
import type { WriterLease } from "../writes/types.ts";
import type { RegionControl, RoutingPolicy, RoutingSnapshot } from "./types.ts";

/** The settings the reducer needs: the ramp's shape and the dwell between two changes of one region. */
export type RoutingRules = Pick<RoutingPolicy, "gradualWeights" | "stepDwellMs" | "hysteresisMs">;

export type AdminAction = "evacuate" | "drain" | "shed" | "restore";
export const ADMIN_ACTIONS: readonly AdminAction[] = ["evacuate", "drain", "shed", "restore"];

/** Who caused a change: an operator, an isolate's report, or the object itself (ramp steps on its alarm). */
export type RoutingSource = "admin" | "isolate" | "object";

/**
 * What the lease events need of configuration, sent by the caller so the reducer stays pure: the
 * writer a fleet that never promoted has (WRITES.writer, default the home region) and the ORIGINS
 * names, the only regions a lease may name.
 */
export interface LeaseConfig {
  writer: string;
  regions: string[];
}

/** The write lease's events (issue 11): a promotion, its completion once drained, and an operator's freeze. */
export type LeaseEvent =
  /**
   * Refused unless `to` is configured and not the writer, no promotion to another region is under
   * way and, when given, `from` is the writer and `expectedEpoch` the epoch (an isolate's report
   * about a lease that has since moved on). Writes are frozen for `drainMs`, then `promote_complete`.
   */
  | { type: "promote"; to: string; from?: string; expectedEpoch?: number; reason: string; source: "admin" | "isolate"; drainMs: number; configured: LeaseConfig }
  /** The object's alarm or a lease read at or after `completesAt`: region = to, epoch + 1. */
  | { type: "promote_complete"; configured: LeaseConfig }
  | { type: "freeze" | "unfreeze"; reason: string; configured: LeaseConfig };

export type RoutingEvent =
  | LeaseEvent
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
export type RoutingAction =
  | "evacuate"
  | "drain"
  | "shed"
  | "restore"
  | "left"
  | "returned"
  | "ramp_step"
  | "ramp_abort"
  | "ramp_done"
  | "leader"
  /** Lease points: region = the writer (promote: the region promoted), percent = the epoch (promote_done: the new one). */
  | "promote"
  | "promote_done"
  | "freeze"
  | "unfreeze";

export interface RoutingPoint {
  region: string;
  action: RoutingAction;
  reason: string;
  source: RoutingSource;
  /** Ramp percent, or shed percent for `shed`, or the lease epoch for the lease actions. */
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
  /** Why the event was refused (answered 409): it would leave no region taking traffic, or a lease change does not fit the lease. */
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
/** A promotion's drain is ORIGIN_TIMEOUT_MS and a few syncs; an hour bounds a typo (ms given as s * 1000 twice). */
const MAX_DRAIN_MS = 3_600_000;

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
  if (isLeaseEvent(event)) return leaseEventProblem(event);
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
  if (isLeaseEvent(event)) return applyLease(snapshot, event, now);
  const before = controlOf(snapshot, event.region);
  const unchanged: Applied = { snapshot, changed: false };
  const change = (control: RegionControl, point: Omit<RoutingPoint, "region" | "generation">): Applied => {
    const generation = snapshot.generation + 1;
    return {
      // Spread first: a region's change keeps the write lease (and any later field) as it is.
      snapshot: { ...snapshot, generation, regions: { ...snapshot.regions, [event.region]: control } },
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

export function isLeaseEvent(event: RoutingEvent): event is LeaseEvent {
  return event.type === "promote" || event.type === "promote_complete" || event.type === "freeze" || event.type === "unfreeze";
}

/**
 * The lease's transitions. `region` is only ever replaced by a promotion's `to`, which must be
 * configured, so exactly one configured region holds the lease at every generation; the epoch
 * grows by exactly one per completed promotion, and never otherwise.
 */
function applyLease(snapshot: RoutingSnapshot, event: LeaseEvent, now: number): Applied {
  const lease = effectiveLease(snapshot, event.configured.writer);
  const unchanged: Applied = { snapshot, changed: false };
  const refuse = (refused: string): Applied => ({ ...unchanged, refused });
  const change = (writer: WriterLease, point: Omit<RoutingPoint, "generation">): Applied => {
    const generation = snapshot.generation + 1;
    return { snapshot: { ...snapshot, generation, writer }, changed: true, point: { ...point, generation } };
  };

  switch (event.type) {
    case "promote": {
      const { to } = event;
      if (!event.configured.regions.includes(to)) return refuse(`region ${JSON.stringify(to)} is not configured (ORIGINS: ${event.configured.regions.join(", ")})`);
      const under = lease.promotion;
      // Many isolates see the same writer fail and report the same promotion: the first starts it, the rest change nothing.
      if (under?.to === to) return unchanged;
      if (under) return refuse(`a promotion from ${JSON.stringify(under.from)} to ${JSON.stringify(under.to)} is in progress (completes at ${new Date(under.completesAt).toISOString()})`);
      if (event.expectedEpoch !== undefined && event.expectedEpoch !== lease.epoch) return refuse(`the lease is at epoch ${lease.epoch}, not ${event.expectedEpoch}: it changed since it was read`);
      if (event.from !== undefined && event.from !== lease.region) return refuse(`the writer is ${JSON.stringify(lease.region)}, not ${JSON.stringify(event.from)}`);
      if (lease.region === to) return refuse(`region ${JSON.stringify(to)} is the writer already (epoch ${lease.epoch})`);
      const promotion = { to, from: lease.region, startedAt: now, completesAt: now + event.drainMs, reason: event.reason };
      return change(
        { ...lease, promotion, reason: `promote:${event.reason}`, changedAt: now },
        { region: to, action: "promote", reason: `${lease.region} -> ${to}: ${event.reason}`, source: event.source, percent: lease.epoch, step: 0 },
      );
    }
    case "promote_complete": {
      const under = lease.promotion;
      if (!under || now < under.completesAt) return unchanged;
      const { promotion: _done, ...rest } = lease;
      // Configuration dropped the region while writes drained: the lease stays where it is, the
      // epoch too (nothing was promoted), so the lease never names a region the fleet cannot route to.
      if (!event.configured.regions.includes(under.to)) {
        const reason = `cancelled: ${JSON.stringify(under.to)} is no longer configured`;
        return change({ ...rest, reason: `promote:${reason}`, changedAt: now }, { region: lease.region, action: "promote_done", reason, source: "object", percent: lease.epoch, step: 0 });
      }
      const epoch = lease.epoch + 1;
      return change(
        { ...rest, region: under.to, epoch, reason: `promoted:${under.reason}`, changedAt: now },
        { region: under.to, action: "promote_done", reason: `${under.from} -> ${under.to}: ${under.reason}`, source: "object", percent: epoch, step: 0 },
      );
    }
    case "freeze":
    case "unfreeze": {
      const frozen = event.type === "freeze";
      if (lease.frozen === frozen) return unchanged;
      return change({ ...lease, frozen, reason: `${event.type}:${event.reason}`, changedAt: now }, { region: lease.region, action: event.type, reason: event.reason, source: "admin", percent: lease.epoch, step: 0 });
    }
  }
}

function leaseEventProblem(event: LeaseEvent): string | undefined {
  const { configured } = event;
  if (typeof configured !== "object" || configured === null || !isNameList(configured.regions)) return "configured.regions must be the list of configured region names";
  if (!isName(configured.writer) || !configured.regions.includes(configured.writer)) return `configured.writer must be one of configured.regions, got ${JSON.stringify(configured.writer)}`;
  switch (event.type) {
    case "promote_complete":
      return undefined;
    case "freeze":
    case "unfreeze":
      return reasonProblem(event.reason);
    case "promote":
      if (!isName(event.to)) return `to must be 1-63 letters, digits, '-' or '_', got ${JSON.stringify(event.to)}`;
      if (event.from !== undefined && !isName(event.from)) return `from must be a region name, got ${JSON.stringify(event.from)}`;
      if (event.expectedEpoch !== undefined && (!Number.isInteger(event.expectedEpoch) || event.expectedEpoch < 1)) return `expectedEpoch must be a whole number from 1, got ${JSON.stringify(event.expectedEpoch)}`;
      if (event.source !== "admin" && event.source !== "isolate") return `source must be "admin" or "isolate", got ${JSON.stringify(event.source)}`;
      if (typeof event.drainMs !== "number" || !Number.isInteger(event.drainMs) || event.drainMs < 0 || event.drainMs > MAX_DRAIN_MS) return `drainMs must be whole ms 0..${MAX_DRAIN_MS}, got ${JSON.stringify(event.drainMs)}`;
      return reasonProblem(event.reason);
    default:
      return `unknown event type ${JSON.stringify((event as { type: unknown }).type)}`;
  }
}

function isName(value: unknown): value is string {
  return typeof value === "string" && REGION_NAME.test(value);
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.length <= MAX_REGIONS && value.every(isName);
}

function reasonProblem(reason: unknown): string | undefined {
  return typeof reason === "string" && reason.length <= MAX_TEXT ? undefined : `reason must be a string of at most ${MAX_TEXT} characters`;
}
