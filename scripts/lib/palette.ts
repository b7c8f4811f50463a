/**
 * One palette for the drill report (scripts/drill/report.ts) and the dashboard
 * (scripts/dashboard/render.ts): the same outcome, breaker state or quantile has the same colour
 * in both, so a reader can put a report chart next to a dashboard panel.
 */

/**
 * How an answer ended. Keys are the worker's `Outcome` (blob2 of a request point), plus the two
 * kinds only the client sees: a 4xx on the wire, and no answer at all.
 */
export const OUTCOME_COLORS = {
  /** The origin answered and that answer was passed on (the report's "2xx from origin"). */
  origin_ok: "#8cc084",
  /** A copy of 30 s or less stood in for the origin (the report's "fallback (LKG)"). */
  lkg_served: "#2f6fdb",
  /** The origin failed and no usable copy was there: a 5xx was passed on (the report's "5xx"). */
  no_lkg: "#d0312d",
  /** The origin's failure passed on without a lookup (not an LKG route). */
  origin_error: "#e8743b",
  /** Refused before reaching the origin. */
  rejected: "#8d6e63",
  /** A 4xx as the client saw it. */
  client_4xx: "#f2a93b",
  /** No HTTP answer (connection error or client timeout). */
  no_answer: "#2b2b2b",
} as const;

/** Breaker states; `unknown` where no state is known. */
export const BREAKER_COLORS: Record<string, string> = {
  closed: "#2e9d48",
  "half-open": "#f2b705",
  open: "#d7322b",
};
export const UNKNOWN_STATE_COLOR = "#bdbdbd";

/** Breaker trips (closed -> open) when counted as a series. */
export const BREAKER_TRIP_COLOR = "#6a1b9a";

/** Why the origin path failed (the worker's failure classes, blob3). */
export const FAILURE_COLORS: Record<string, string> = {
  timeout: "#ad1457",
  connection: "#6a1b9a",
  http_5xx: "#ef6c00",
  slow: "#f9a825",
  breaker_open: "#455a64",
};

/** Latency and age quantiles, in the report's latency chart and the dashboard's latency and age panels. */
export const QUANTILE_COLORS: Record<string, string> = {
  p50: "#4c78a8",
  p95: "#f58518",
  p99: "#d62728",
  max: "#7b4173",
};

/** Dashed reference lines: the 50 ms p99 target, the 30 s age cap. */
export const TARGET_LINE_COLOR = "#555555";

/** The x-axis label of every chart of drill data, report and dashboard alike. */
export const DRILL_TIME_LABEL = "time since drill start (s)";

/**
 * Regions, in name order, in every region panel (answers, share, ramp): the first entries of the
 * drill charts' default palette, so a two-region report chart and the dashboard agree.
 */
export const REGION_COLORS = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#9d755d"] as const;
/** An answer no region gave: a stored copy, or the worker's own error. */
export const NO_REGION_COLOR = "#9e9e9e";

/**
 * The write path's outcomes (write_outcomes panel): at the edge (blob17 of a request point) and in
 * the queue (blob2 of a write point). Delivered and passed share the origin's green, refusals are
 * warm like a client's 4xx, a dead letter is the red of an answer lost.
 */
export const WRITE_COLORS: Record<string, string> = {
  passed: OUTCOME_COLORS.origin_ok,
  queued: "#2f6fdb",
  replayed: "#72b7b2",
  in_flight: "#f2a93b",
  mismatch: "#e8743b",
  missing_key: "#8d6e63",
  too_large: "#ad1457",
  delivered: "#2e9d48",
  duplicate_dropped: "#9e9e9e",
  retry: "#f2b705",
  dead_lettered: "#d0312d",
  replayed_dead: "#6a1b9a",
};
