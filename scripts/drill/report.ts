/**
 * Writes a drill's report: report.json (everything measured, plus pass), report.md (for
 * people: command, plan, phases, targets, totals, environment, charts) and three SVG charts
 * (latency, status mix, breaker and fault timeline) under charts/.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BREAKER_COLORS, DRILL_TIME_LABEL, QUANTILE_COLORS, TARGET_LINE_COLOR, UNKNOWN_STATE_COLOR } from "../lib/palette.ts";
import type { Calibration } from "./calibrate.ts";
import type { ActionRecord } from "./judge/data.ts";
import type { RoutingChange } from "./region-points.ts";
import { disturbedBy, rowMark, verdictOf, type Verdict } from "./judge/verdict.ts";
import type { Plan, SecondStats, TargetResult } from "./types.ts";
import { STATUS_COLORS, formatNumber, lineChart, segmentsFromChanges, stackedBars, stateTimeline, type Band, type TimelineSegment } from "./svg.ts";

export interface PhaseWindow {
  name: string;
  fromS: number;
  toS: number;
  fault: boolean;
  origins: Record<string, unknown>;
}

/** One breaker transition, as the worker's `breaker` data point recorded it. */
export interface BreakerTransition {
  /** Ms since the load started (the zero of `seconds` and `phaseWindows`), to the ms. */
  at: number;
  /** The new state (blob3): "closed", "open", "half-open". */
  to: string;
  /** The state before (blob2). */
  from?: string;
  /** Why (blob4), e.g. "failure", "probe-granted". */
  cause?: string;
  /** The origin (index1). */
  origin?: string;
  /** Who decided (blob5): "object" (the Durable Object) or "isolate" (an isolate alone). */
  source?: string;
}

/** A captured Analytics Engine point, as far as the breaker transitions need it. */
interface PointLike {
  timestamp: number;
  indexes?: string[];
  blobs?: string[];
}

/**
 * The breaker transitions among a run's data points (`blob1 = "breaker"`, decided by the
 * object or by an isolate), in time order, with `at` in ms since `loadStartedAtEpochMs`.
 */
export function breakerTransitionsFrom(points: PointLike[], loadStartedAtEpochMs: number): BreakerTransition[] {
  return points
    .filter((p) => p.blobs?.[0] === "breaker" && (p.blobs[4] === "object" || p.blobs[4] === "isolate"))
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((p) => ({ at: p.timestamp - loadStartedAtEpochMs, to: p.blobs![2]!, from: p.blobs![1], cause: p.blobs![3], origin: p.indexes?.[0], source: p.blobs![4] }));
}

export interface ReportInput {
  plan: Plan;
  /** ISO time the run started. */
  startedAt: string;
  durationS: number;
  command: string;
  seconds: SecondStats[];
  targets: TargetResult[];
  phaseWindows: PhaseWindow[];
  /** Free-form: requests, answered, fallback answers, DO calls per 1000, ... */
  totals: Record<string, number | string>;
  /** node/workerd versions, cores, runtime path, ... */
  environment: Record<string, string>;
  notes: string[];
  /** Relative name of the captured Analytics Engine points file, linked from the report. */
  dataPointsFile?: string;
  /**
   * Epoch ms when the load started: the zero of every time in this report (`seconds`,
   * `phaseWindows`, `breakerTransitions`). The drill's dashboard uses it for the same time axis.
   */
  loadStartedAtEpochMs?: number;
  /**
   * Every breaker transition of the run (see breakerTransitionsFrom). When present, the breaker
   * chart is drawn from these, each state from its real start to its real end; without it, from
   * the state sampled once a second (`seconds[].breaker`).
   */
  breakerTransitions?: BreakerTransition[];
  /** What this machine sustained before the plan ran, and the rate the plan ran at. */
  calibration?: Calibration;
  /** Multi-region plans: the regions, the ROUTING used, the admin actions sent and the routing changes the worker recorded. */
  regions?: {
    names: string[];
    urls: Record<string, string>;
    routing: Record<string, unknown>;
    actions: ActionRecord[];
    /** Epoch ms, as the routing points carry them. */
    changes: RoutingChange[];
  };
}

const VERDICT_TITLE: Record<Verdict, string> = { pass: "PASS ✅", fail: "FAIL ❌", inconclusive: "INCONCLUSIVE ⚠️" };

function calibrationSection(c: Calibration): string[] {
  const out = ["## Calibration", ""];
  out.push(`Plan rate ${c.planRate} req/s, **rate used ${c.rateUsed} req/s**: ${c.reason}.`, "");
  if (c.bare && c.ours) {
    out.push(
      `Measured in this run before the plan (${fmtValue(c.durationS)} s), with the plan's mix against a healthy origin, both workers with the drill's instrumentation; a rate is sustained when p95 < 50 ms, < 1 % of sends are late and every answer is below 500 (the p95: a worker past capacity queues and lifts it; a single GC pause lifts only the p99). Ladders stop at ${c.cap} req/s (the plan's rate with headroom).`,
      "",
    );
    out.push("| worker | sustained req/s | rungs (req/s: p95 / p99 ms) |", "|---|---|---|");
    for (const [name, ladder] of [["bare", c.bare], ["ours", c.ours]] as const) {
      out.push(`| ${name} | ${ladder.sustained} | ${ladder.rungs.map((r) => `${r.rate}: ${r.p95} / ${r.p99}${r.sustained ? "" : " ✗"}`).join(", ")} |`);
    }
    out.push("");
    if (c.recheck) {
      const rung = (r: { p95: number; p99: number; sustained: boolean }) => `${r.p95} / ${r.p99}${r.sustained ? "" : " ✗"}`;
      out.push(
        `The ladders put ours under 0.8 x bare, so both were measured again at ${c.recheck.rate} req/s, ours first and bare right after as the control (outcome: ${c.recheck.outcome}): ${c.recheck.attempts.map((a, i) => `${i + 1}. ours ${rung(a.ours)}${a.bare ? `, bare ${rung(a.bare)}` : ""}`).join("; ")} (p95 / p99 ms).`,
        "",
      );
    }
  }
  return out;
}

/** The p99 latency target while the origin fails (DESIGN.md), drawn on the latency chart. */
export const LATENCY_TARGET_MS = 50;

const CHART_NAMES = ["latency", "status", "breaker"] as const;

/** Escapes a value for one markdown table cell. */
function cell(v: string): string {
  // Escape what would start an HTML tag (not a bare "< 50 ms"), pipes and line breaks.
  return v.replace(/\\/g, "\\\\").replace(/<(?=[A-Za-z/!?])/g, "&lt;").replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

function fmtValue(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

/** The targets as a markdown table (also printed on the console after a drill). */
export function formatTargetsTable(targets: TargetResult[]): string {
  const lines = ["| target | required | measured | result |", "|---|---|---|---|"];
  const disturbed = disturbedBy(targets).length > 0;
  for (const t of targets) lines.push(`| ${cell(t.name)} | ${cell(t.target)} | ${cell(t.measured)} | ${rowMark(t, disturbed)} |`);
  if (targets.length === 0) lines.push("| (no targets) | | | |");
  return lines.join("\n");
}

/** Short label for what an origin does in a phase, for the timeline ("HTTP 503", "flaky 30% 503"). */
export function faultLabel(setting: unknown): string {
  const s = (setting ?? {}) as { mode?: string; status?: number; latencyMs?: number; jitterMs?: number; failRate?: number };
  const slow = s.latencyMs ? ` +${s.latencyMs}${s.jitterMs ? `±${s.jitterMs}` : ""} ms` : "";
  switch (s.mode) {
    case "healthy":
      return slow ? `slow${slow}` : "healthy";
    case "status":
      return `HTTP ${s.status ?? "?"}${slow}`;
    case "blackhole":
      return "blackhole";
    case "partition":
      return "partition";
    case "reset":
      return "conn reset";
    case "truncate":
      return "truncated body";
    case "stall-body":
      return "stalled body";
    case "flaky":
      return `flaky ${Math.round((s.failRate ?? 0) * 100)}% ${s.status ?? 500}`;
    default:
      return s.mode ?? "unknown";
  }
}

/** Longer description for the phase table. */
function faultDescription(setting: unknown): string {
  const s = (setting ?? {}) as { mode?: string; status?: number; latencyMs?: number; jitterMs?: number; failRate?: number };
  const latency = s.latencyMs ? `, ${s.latencyMs}${s.jitterMs ? ` ± ${s.jitterMs}` : ""} ms` : "";
  switch (s.mode) {
    case "healthy":
      return `healthy${latency}`;
    case "status":
      return `answers ${s.status ?? "?"}${latency}`;
    case "blackhole":
      return "blackhole (accepts, never answers)";
    case "partition":
      return "partition (replies dropped in a network namespace with --netns; else as blackhole)";
    case "reset":
      return "resets connections";
    case "truncate":
      return "truncates bodies";
    case "stall-body":
      return "stalls mid-body";
    case "flaky":
      return `flaky: ${Math.round((s.failRate ?? 0) * 100)} % answer ${s.status ?? 500}${latency}`;
    default:
      return JSON.stringify(setting);
  }
}

function mix(a: string, b: string, t: number): string {
  const pa = parseInt(a.slice(1), 16);
  const pb = parseInt(b.slice(1), 16);
  const ch = [16, 8, 0].map((sh) => Math.round(((pa >> sh) & 255) * (1 - t) + ((pb >> sh) & 255) * t));
  return `#${ch.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

/** Colour of a fault state on the timeline; never one of the breaker colours. */
function faultColor(setting: unknown): string {
  const s = (setting ?? {}) as { mode?: string; status?: number; latencyMs?: number; failRate?: number };
  switch (s.mode) {
    case "healthy":
      return s.latencyMs ? "#b39ddb" : "#d5dde5";
    case "status":
      return (s.status ?? 500) >= 500 ? "#8e24aa" : "#ab47bc";
    case "blackhole":
    case "partition":
      return "#263238";
    case "reset":
      return "#6d4c41";
    case "truncate":
      return "#00838f";
    case "stall-body":
      return "#546e7a";
    case "flaky":
      return mix("#f8bbd0", "#880e4f", Math.min(1, Math.max(0, s.failRate ?? 0.5)));
    default:
      return "#9e9e9e";
  }
}

/** Names of every origin the plan's phases mention, in first-seen order. */
function originNames(windows: PhaseWindow[]): string[] {
  const names: string[] = [];
  for (const w of windows) for (const n of Object.keys(w.origins)) if (!names.includes(n)) names.push(n);
  return names;
}

function faultBands(windows: PhaseWindow[]): Band[] {
  return windows.filter((w) => w.fault).map((w) => ({ from: w.fromS, to: w.toS, label: w.name }));
}

function msTick(v: number): string {
  return v >= 1000 ? `${formatNumber(v / 1000)} s` : `${formatNumber(v)} ms`;
}

/**
 * The breaker rows of the timeline. From the transitions when the input has them: one row per
 * origin for the object's decisions, and one more for an isolate's own when there are any
 * (their views can differ while the object is unreachable). Else from the per-second samples.
 */
function breakerRows(input: ReportInput, xDomain: [number, number]): { label: string; segments: TimelineSegment[] }[] {
  if (!input.breakerTransitions) {
    return [{ label: "breaker", segments: input.seconds.map((s) => ({ from: s.second, to: s.second + 1, state: s.breaker || "unknown" })) }];
  }
  const all = input.breakerTransitions;
  const origins = [...new Set(all.map((t) => t.origin ?? ""))];
  if (origins.length === 0) origins.push("");
  const rows: { label: string; segments: TimelineSegment[] }[] = [];
  for (const origin of origins) {
    const mine = all.filter((t) => (t.origin ?? "") === origin);
    const isolate = mine.filter((t) => t.source === "isolate");
    const object = mine.filter((t) => t.source !== "isolate");
    const name = origins.length > 1 ? `breaker ${origin}` : "breaker";
    const segs = (ts: BreakerTransition[]) => segmentsFromChanges(ts.map((t) => ({ at: t.at / 1000, to: t.to, from: t.from })), xDomain[0], xDomain[1]);
    rows.push({ label: isolate.length ? `${name} (object)` : name, segments: segs(object) });
    if (isolate.length) rows.push({ label: `${name} (isolate alone)`, segments: segs(isolate) });
  }
  return rows;
}

/** Answers per second by the region that answered (multi-region plans), with the admin actions' phases shaded. */
export function renderRegionChart(input: ReportInput): string | undefined {
  if (!input.regions) return undefined;
  const names = [...input.regions.names, "edge (copy or own answer)"];
  return stackedBars({
    title: `${input.plan.name}: answers per second by region (x-edge-region)`,
    xLabel: DRILL_TIME_LABEL,
    yLabel: "answers / s",
    categories: names,
    rows: input.seconds.map((s) => ({
      x: s.second,
      values: Object.fromEntries(names.map((n, i) => [n, s.regions?.[i === names.length - 1 ? "" : n] ?? 0])),
    })),
    bands: faultBands(input.phaseWindows),
    xDomain: [0, Math.max(1, input.durationS, ...input.seconds.map((s) => s.second + 1))],
  });
}

/** The three charts as SVG strings, keyed by file stem. */
export function renderCharts(input: ReportInput): Record<(typeof CHART_NAMES)[number], string> {
  const bands = faultBands(input.phaseWindows);
  const xDomain: [number, number] = [0, Math.max(1, input.durationS, ...input.seconds.map((s) => s.second + 1))];
  const xLabel = DRILL_TIME_LABEL;
  const measured = (v: number): number => (Number.isFinite(v) && v > 0 ? v : NaN);
  const series = (["p50", "p95", "p99"] as const).map((k) => ({
    name: k,
    color: QUANTILE_COLORS[k]!,
    points: input.seconds.map((s): [number, number] => [s.second + 0.5, measured(s[k])]),
  }));
  const latency = lineChart({
    title: `${input.plan.name}: latency per second (from intended send time, log scale)`,
    xLabel,
    yLabel: "latency",
    series,
    bands,
    yLog: true,
    horizontalLines: [{ y: LATENCY_TARGET_MS, label: `p99 target ${LATENCY_TARGET_MS} ms`, color: TARGET_LINE_COLOR }],
    xDomain,
    yTickFormat: msTick,
  });

  const cats = { ok: "2xx from origin", fallback: "fallback (LKG)", c4: "4xx", c5: "5xx", err: "no answer" };
  const colors: Record<string, string> = {
    [cats.ok]: STATUS_COLORS["2xx"]!,
    [cats.fallback]: STATUS_COLORS.fallback!,
    [cats.c4]: STATUS_COLORS["4xx"]!,
    [cats.c5]: STATUS_COLORS["5xx"]!,
    [cats.err]: STATUS_COLORS.err!,
  };
  const anyOrigin = input.seconds.some((s) => s.originRequests > 0);
  const status = stackedBars({
    title: `${input.plan.name}: answers per second by kind`,
    xLabel,
    yLabel: "requests / s",
    categories: Object.values(cats),
    colors,
    rows: input.seconds.map((s) => {
      const ok = s.statuses["2xx"] ?? 0;
      // Fallback answers are 2xx on the wire; show them apart from the origin's own 2xx.
      return {
        x: s.second,
        values: {
          [cats.ok]: Math.max(0, ok - s.fallback),
          [cats.fallback]: s.fallback,
          [cats.c4]: s.statuses["4xx"] ?? 0,
          [cats.c5]: s.statuses["5xx"] ?? 0,
          [cats.err]: s.statuses.err ?? 0,
        },
      };
    }),
    lines: anyOrigin ? [{ name: "origin requests/s", color: "#111111", dashed: true, points: input.seconds.map((s): [number, number] => [s.second + 0.5, s.originRequests]) }] : [],
    bands,
    xDomain,
  });

  const timelineColors: Record<string, string> = { ...BREAKER_COLORS, unknown: UNKNOWN_STATE_COLOR };
  const rows = breakerRows(input, xDomain);
  for (const origin of originNames(input.phaseWindows)) {
    let current: unknown = { mode: "healthy" };
    const segments: TimelineSegment[] = [];
    for (const w of input.phaseWindows) {
      if (origin in w.origins) current = w.origins[origin];
      const state = faultLabel(current);
      timelineColors[state] ??= faultColor(current);
      segments.push({ from: w.fromS, to: w.toS, state });
    }
    rows.push({ label: `origin ${origin}`, segments });
  }
  const breaker = stateTimeline({
    title: `${input.plan.name}: breaker state and origin faults`,
    xLabel,
    rows,
    colors: timelineColors,
    bands,
    xDomain,
    tipFormat: (v) => `${v.toFixed(3)} s`,
  });
  return { latency, status, breaker };
}

function phaseTable(input: ReportInput): string {
  const lines = ["| # | phase | from (s) | to (s) | rate (req/s) | fault | origins |", "|---|---|---|---|---|---|---|"];
  input.phaseWindows.forEach((w, i) => {
    const phase = input.plan.phases.find((p) => p.name === w.name) ?? input.plan.phases[i];
    const origins = Object.entries(w.origins).map(([n, s]) => `${n}: ${faultDescription(s)}`).join("; ") || "(unchanged)";
    const rate = phase ? String(phase.rate) : "";
    const tags = [w.fault ? "yes" : "no", phase?.baseline ? "(baseline)" : ""].filter(Boolean).join(" ");
    lines.push(`| ${i + 1} | ${cell(w.name)} | ${fmtValue(w.fromS)} | ${fmtValue(w.toS)} | ${rate} | ${tags} | ${cell(origins)} |`);
  });
  return lines.join("\n");
}

function transitionsTable(transitions: BreakerTransition[]): string {
  if (transitions.length === 0) return "No breaker transitions: the breaker stayed closed.";
  const lines = ["| at (s) | lasted (ms) | origin | from | to | cause | decided by |", "|---|---|---|---|---|---|---|"];
  transitions.forEach((t, i) => {
    // How long the new state lasted: until the next transition of the same origin and source.
    const next = transitions.slice(i + 1).find((n) => n.origin === t.origin && n.source === t.source);
    const lasted = next ? String(Math.round(next.at - t.at)) : "";
    lines.push(`| ${(t.at / 1000).toFixed(3)} | ${lasted} | ${cell(t.origin ?? "")} | ${cell(t.from ?? "")} | ${cell(t.to)} | ${cell(t.cause ?? "")} | ${cell(t.source ?? "")} |`);
  });
  return lines.join("\n");
}

/** The regions, the ROUTING used, the admin actions sent and the worker's routing changes. */
function regionsSection(input: ReportInput): string[] {
  const r = input.regions!;
  const t0 = input.loadStartedAtEpochMs ?? 0;
  const specs = input.plan.regions ?? [];
  const out = ["## Regions", "", "| region | fake origin | weight | home | priority |", "|---|---|---|---|---|"];
  specs.forEach((g, i) => out.push(`| ${cell(g.name)} | ${cell(r.urls[g.name] ?? "")} | ${g.weight ?? 1} | ${g.home === true || (i === 0 && !specs.some((x) => x.home)) ? "yes" : ""} | ${g.priority ?? i} |`));
  out.push("", `ROUTING: \`${JSON.stringify(r.routing)}\` (the contract's defaults for the rest).`, "", "### Admin actions", "");
  if (r.actions.length === 0) out.push("None.");
  else {
    out.push("| at (s) | phase | region | action | status | answered in (ms) | answer |", "|---|---|---|---|---|---|---|");
    for (const a of r.actions) {
      const phase = input.plan.phases[a.phase]?.name ?? String(a.phase);
      out.push(`| ${((a.sentAt - t0) / 1000).toFixed(3)} | ${cell(phase)} | ${cell(a.region)} | ${a.action}${a.percent !== undefined ? ` ${a.percent} %` : ""} | ${a.status || "no answer"} | ${Math.round(a.answeredAt - a.sentAt)} | ${cell(a.detail.slice(0, 160))} |`);
    }
  }
  out.push("", "### Routing changes (the worker's routing data points)", "");
  if (r.changes.length === 0) out.push("None recorded.");
  else {
    out.push("| at (s) | region | action | reason | source | percent | step | generation |", "|---|---|---|---|---|---|---|---|");
    for (const c of r.changes.slice(0, 200)) out.push(`| ${((c.at - t0) / 1000).toFixed(3)} | ${cell(c.region)} | ${cell(c.action)} | ${cell(c.reason)} | ${cell(c.source)} | ${c.percent} | ${c.step} | ${c.generation} |`);
    if (r.changes.length > 200) out.push("", `(${r.changes.length - 200} more in datapoints.json)`);
  }
  out.push("");
  return out;
}

function keyValueTable(head: [string, string], rec: Record<string, number | string>): string {
  const entries = Object.entries(rec);
  if (entries.length === 0) return "(none)";
  return [`| ${head[0]} | ${head[1]} |`, "|---|---|", ...entries.map(([k, v]) => `| ${cell(k)} | ${cell(fmtValue(v))} |`)].join("\n");
}

function secondsTable(seconds: SecondStats[], windows: PhaseWindow[]): string {
  const lines = [
    "| s | phase | sent | answered | 2xx | fallback | 4xx | 5xx | err | p50 ms | p95 ms | p99 ms | max ms | breaker | origin req | late | unsent |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : "");
  for (const s of seconds) {
    const phase = windows[s.phase]?.name ?? String(s.phase);
    lines.push(
      `| ${s.second} | ${cell(phase)} | ${s.sent} | ${s.answered} | ${s.statuses["2xx"] ?? 0} | ${s.fallback} | ${s.statuses["4xx"] ?? 0} | ${s.statuses["5xx"] ?? 0} | ${s.statuses.err ?? 0} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${ms(s.max)} | ${cell(s.breaker)} | ${s.originRequests} | ${s.late} | ${s.unsent} |`,
    );
  }
  return lines.join("\n");
}

function renderMarkdown(input: ReportInput): string {
  const passed = input.targets.filter((t) => t.pass).length;
  const { verdict, reason } = verdictOf(input.targets);
  const out: string[] = [];
  out.push(`# Drill \`${input.plan.name}\`: ${VERDICT_TITLE[verdict]}`);
  out.push("");
  out.push(`Started ${input.startedAt}, ${fmtValue(input.durationS)} s of load; ${passed} of ${input.targets.length} targets met.`);
  if (verdict === "inconclusive") out.push("", `Inconclusive: ${reason}.`);
  out.push("");
  out.push("```sh", input.command, "```");
  out.push("");
  out.push("## Plan", "", input.plan.description, "");
  const m = input.plan.mix;
  out.push(
    `Mix: ${m.hotKeys} hot keys (${Math.round(m.hotShare * 100)} % of reads), ${m.coldKeys} cold keys, ${Math.round(m.credentialedShare * 100)} % credentialed requests from ${m.users} users, ${Math.round(m.writeShare * 100)} % writes.`,
  );
  if (input.plan.vars && Object.keys(input.plan.vars).length > 0) {
    out.push("", `Worker vars for this plan: ${Object.entries(input.plan.vars).map(([k, v]) => `\`${k}=${v}\``).join(", ")}.`);
  }
  out.push("", "### Phases", "", phaseTable(input), "");
  if (input.calibration) out.push(...calibrationSection(input.calibration));
  out.push("## Targets", "", formatTargetsTable(input.targets), "");
  if (input.plan.unsupported?.length) {
    out.push("### Not supported yet", "", "Fields and checks of the plan this drill cannot act on yet: listed, not passed.", "");
    out.push(...input.plan.unsupported.map((u) => `- not supported yet: \`${u.field}\`: ${u.reason}`), "");
  }
  if (input.plan.translation?.length) out.push("### How the seed plan was translated", "", ...input.plan.translation.map((t) => `- ${t}`), "");
  out.push("## Charts", "");
  out.push("Shaded bands are the fault phases. Latency is measured from each request's intended send time.", "");
  out.push(
    input.breakerTransitions
      ? "The breaker row is drawn from the breaker's transitions, each state from its real start to its real end (to the ms); a state too short to see at this scale is marked by a small triangle above the row."
      : "The breaker row shows the state sampled once a second (this run's report has no transition list).",
    "",
  );
  out.push("![latency per second](charts/latency.svg)", "");
  out.push("![answers per second by kind](charts/status.svg)", "");
  out.push("![breaker state and origin faults](charts/breaker.svg)", "");
  if (input.regions) out.push("![answers per second by region](charts/regions.svg)", "");
  if (input.breakerTransitions) out.push("### Breaker transitions", "", transitionsTable(input.breakerTransitions), "");
  if (input.regions) out.push(...regionsSection(input));
  out.push("## Totals", "", keyValueTable(["metric", "value"], input.totals), "");
  out.push("## Environment", "", keyValueTable(["what", "value"], input.environment), "");
  if (input.notes.length > 0) out.push("## Notes", "", ...input.notes.map((n) => `- ${n}`), "");
  out.push("## Data", "");
  out.push("- [report.json](report.json): this report as data (plan, per-second series, targets, totals, environment)");
  if (input.dataPointsFile) out.push(`- [${input.dataPointsFile}](${encodeURI(input.dataPointsFile)}): the Analytics Engine data points the worker wrote during the run`);
  out.push(`- charts: [latency.svg](charts/latency.svg), [status.svg](charts/status.svg), [breaker.svg](charts/breaker.svg)${input.regions ? ", [regions.svg](charts/regions.svg)" : ""}`);
  out.push("");
  out.push("<details><summary>Per-second series</summary>", "", secondsTable(input.seconds, input.phaseWindows), "", "</details>", "");
  return out.join("\n");
}

/** Writes report.json, report.md and charts/{latency,status,breaker}.svg into `dir`. */
export async function writeReport(dir: string, input: ReportInput): Promise<{ json: string; md: string; charts: string[] }> {
  const pass = input.targets.every((t) => t.pass);
  const { verdict, reason } = verdictOf(input.targets);
  await mkdir(join(dir, "charts"), { recursive: true });
  const svgs: Record<string, string> = { ...renderCharts(input) };
  const regionChart = renderRegionChart(input);
  if (regionChart) svgs["regions"] = regionChart;
  const charts: string[] = [];
  for (const [name, svg] of Object.entries(svgs)) {
    const path = join(dir, "charts", `${name}.svg`);
    await writeFile(path, svg);
    charts.push(path);
  }
  const json = join(dir, "report.json");
  await writeFile(json, `${JSON.stringify({ pass, verdict, verdictReason: reason, ...input }, null, 2)}\n`);
  const md = join(dir, "report.md");
  await writeFile(md, renderMarkdown(input));
  return { json, md, charts };
}
