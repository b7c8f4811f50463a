/** The ROUTING setting (JSON) -> a resolved RoutingPolicy, reporting every problem at once. */
import type { RoutingMode, RoutingPolicy } from "../routing/types.ts";
import { FieldReader, parseObject } from "./fields.ts";

/** The documented defaults, in ROUTING's own units (seconds, ratios). */
export const ROUTING_DEFAULTS = {
  mode: "failover" as RoutingMode,
  stick_seconds: 900,
  sticky_header: null as string | null,
  down: 3,
  up: 2,
  hysteresis_s: 30,
  gradual_weights: [10, 30, 60, 100] as readonly number[],
  step_dwell_s: 10,
  step_error_budget: 0.05,
  step_min_requests: 20,
  retry_budget: { ratio: 0.2, min_per_second: 3 },
  latency: { alpha: 0.2, switch_margin: 0.2, min_switch_ms: 5 },
};

const MODES: readonly RoutingMode[] = ["weighted", "failover", "latency"];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers that cannot carry the assignment: the worker removes the assignment header before
 * forwarding, so naming one of these would strip what the origin or HTTP itself needs, or one
 * the worker writes itself.
 */
const UNFIT_STICKY_HEADERS = new Set([
  "cookie",
  "set-cookie",
  "authorization",
  "proxy-authorization",
  "host",
  "connection",
  "content-length",
  "content-type",
  "content-encoding",
  "transfer-encoding",
  "te",
  "upgrade",
  "x-edge-region",
]);

/** Every field is optional; an absent or empty ROUTING is all defaults. */
export function readRouting(raw: unknown, problems: string[]): RoutingPolicy {
  const fields = parseObject(raw, { name: "ROUTING", label: "routing", what: "the JSON routing policy", example: '{"mode":"failover"}' }, problems);
  const r = new RoutingFields("ROUTING", fields, problems);
  r.unknown(Object.keys(ROUTING_DEFAULTS));

  const mode = r.oneOf("mode", MODES, ROUTING_DEFAULTS.mode);
  // A day at most: an assignment outliving that is no longer a session.
  const stickSeconds = r.number("stick_seconds", ROUTING_DEFAULTS.stick_seconds, 0, 86_400, true);
  const stickyHeader = r.stickyHeader("sticky_header");
  const down = r.number("down", ROUTING_DEFAULTS.down, 1, 100, true);
  const up = r.number("up", ROUTING_DEFAULTS.up, 1, 100, true);
  const hysteresisS = r.number("hysteresis_s", ROUTING_DEFAULTS.hysteresis_s, 0, 3600, false);
  const gradualWeights = r.gradualWeights("gradual_weights");
  // Above 0: a ramp whose steps last no time would take a region from 0 to 100 % at once.
  const stepDwellS = r.number("step_dwell_s", ROUTING_DEFAULTS.step_dwell_s, 0.1, 3600, false);
  const stepErrorBudget = r.number("step_error_budget", ROUTING_DEFAULTS.step_error_budget, 0, 1, false);
  const stepMinRequests = r.number("step_min_requests", ROUTING_DEFAULTS.step_min_requests, 1, 1_000_000, true);

  const retry = r.nested("retry_budget", ROUTING_DEFAULTS.retry_budget);
  const ratio = retry.number("ratio", ROUTING_DEFAULTS.retry_budget.ratio, 0, 1, false);
  const minPerSecond = retry.number("min_per_second", ROUTING_DEFAULTS.retry_budget.min_per_second, 0, 10_000, true);

  const latency = r.nested("latency", ROUTING_DEFAULTS.latency);
  // Above 0: an average that never moves would keep the first sample for good.
  const alpha = latency.number("alpha", ROUTING_DEFAULTS.latency.alpha, 0.001, 1, false);
  const switchMargin = latency.number("switch_margin", ROUTING_DEFAULTS.latency.switch_margin, 0, 1, false);
  const minSwitchMs = latency.number("min_switch_ms", ROUTING_DEFAULTS.latency.min_switch_ms, 0, 10_000, false);

  return {
    mode,
    stickMs: stickSeconds * 1000,
    stickyHeader,
    down,
    up,
    hysteresisMs: Math.round(hysteresisS * 1000),
    gradualWeights,
    stepDwellMs: Math.round(stepDwellS * 1000),
    stepErrorBudget,
    stepMinRequests,
    retryBudget: { ratio, minPerSecond },
    latency: { alpha, switchMargin, minSwitchMs },
  };
}

/** ROUTING's own fields beyond the generic ones. */
class RoutingFields extends FieldReader {
  /** null (absent): the cookie carries the assignment. Lower-cased, as Headers compares names. */
  stickyHeader(name: string): string | undefined {
    const value = this.fields[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || !HEADER_NAME.test(value)) {
      this.problems.push(`${this.path}.${name} must be null or an HTTP header name, got ${JSON.stringify(value)}`);
      return undefined;
    }
    const lower = value.toLowerCase();
    if (UNFIT_STICKY_HEADERS.has(lower)) {
      this.problems.push(`${this.path}.${name} ${JSON.stringify(value)} cannot carry the assignment (the worker removes it before forwarding): use a header of your own, such as x-edge-assignment`);
      return undefined;
    }
    return lower;
  }

  /** Strictly increasing percents ending at 100, at least two steps: no region goes from 0 to 100 % at once. */
  gradualWeights(name: string): number[] {
    const value = this.fields[name];
    if (value === undefined) return [...ROUTING_DEFAULTS.gradual_weights];
    const where = `${this.path}.${name}`;
    if (!Array.isArray(value) || value.length < 2 || value.length > 20) {
      this.problems.push(`${where} must be a list of 2 to 20 percents rising to 100, like [10,30,60,100], got ${JSON.stringify(value)}`);
      return [...ROUTING_DEFAULTS.gradual_weights];
    }
    let ok = true;
    value.forEach((w: unknown, i) => {
      if (typeof w !== "number" || !Number.isFinite(w) || w < 1 || w > 100) {
        this.problems.push(`${where}[${i}] must be a number from 1 to 100, got ${JSON.stringify(w)}`);
        ok = false;
      } else if (i > 0 && typeof value[i - 1] === "number" && w <= (value[i - 1] as number)) {
        this.problems.push(`${where}[${i}] must be above the step before it (${value[i - 1]}), got ${w}`);
        ok = false;
      }
    });
    if (ok && value[value.length - 1] !== 100) {
      this.problems.push(`${where} must end at 100 (the region's full weight), got ${JSON.stringify(value)}`);
      ok = false;
    }
    return ok ? [...(value as number[])] : [...ROUTING_DEFAULTS.gradual_weights];
  }

}
