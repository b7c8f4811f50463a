/** The raw record of one drill run that every judgement reads: the clients' results, the worker's data points, its binding counters, what the drill did. */
import type { DrillRouting } from "../regions.ts";
import { isMultiRegion } from "../regions.ts";
import { HOSTILE_USER, type AdminActionName, type FaultSetting, type Phase, type Plan, type RequestResult } from "../types.ts";
import type { WriteEntry } from "../../lib/write-log.ts";

/** Start of the run left out of the healthy baseline: a fresh workerd compiles its code on the first requests. */
export const WARMUP_MS = 2000;

/** When a phase's setting reached an origin (and, with --netns, its partition): the fault's onset as the origin applied it. */
export interface FaultRecord {
  phase: number;
  /** The origin's name (a region's, in a multi-region plan). */
  region: string;
  setting: FaultSetting;
  appliedAt: number;
}

export interface DataPoint {
  timestamp: number;
  indexes?: string[];
  blobs?: string[];
  doubles?: number[];
}

export interface CounterSample {
  at: number;
  counters: Record<string, number>;
}

export interface DrillData {
  plan: Plan;
  /** Epoch ms when the load started; RequestResult times are relative to it. */
  startedAt: number;
  /** Phase boundaries in ms since start: phase i runs from bounds[i] to bounds[i + 1]. */
  bounds: number[];
  results: RequestResult[];
  points: DataPoint[];
  counters: CounterSample[];
  /** Requests each origin received, per epoch second. */
  originPerSecond: Record<string, Record<string, number>>;
  settings: {
    maxAgeS: number;
    threshold: number;
    openMaxMs: number;
    timeoutMs: number;
    /**
     * Rate used / the plan's rate (1 unless calibration lowered it). Shared-tier writes are per
     * key and second, not per request, so their per-1,000 budgets scale by its inverse.
     */
    rateScale?: number;
    /** LKG_SHARED_WRITES_PER_SECOND: how long the first fill of the plan's hot keys takes. */
    sharedWritesPerSecond?: number;
  };
  /** When each phase's setting reached each origin (epoch ms); absent in unit runs that do not need it. */
  faults?: FaultRecord[];
  /** Multi-region plans: the routing settings and the admin actions sent. */
  regionRun?: RegionRun;
  /** Plans with writes: the origins' write logs, the backlog samples, the 202s' status resources. */
  writes?: WriteRunData;
}

/** What the drill did in a multi-region run, beside the load. Times are epoch ms. */
export interface RegionRun {
  routing: DrillRouting;
  /** ROUTING_SYNC_MS: how often an isolate re-reads the routing object. */
  syncMs: number;
  actions: ActionRecord[];
  faults: FaultRecord[];
}

/** One admin action the drill sent, and its answer. */
export interface ActionRecord {
  phase: number;
  region: string;
  action: AdminActionName;
  percent?: number;
  sentAt: number;
  answeredAt: number;
  /** 0 when no answer came. */
  status: number;
  /** The answer's control.changedAt (the object's decision), when it gave one. */
  decidedAt?: number;
  /** The answer's body (or the error), shortened. */
  detail: string;
}


/** One read of GET /__edge/admin/writes. Epoch ms. */
export interface BacklogSample {
  at: number;
  /** The read answered 200 with a lease and a backlog; else `error` says what it got. */
  ok: boolean;
  length: number;
  /** How long the oldest queued write has waited (0 when none). */
  oldestAgeMs: number;
  dead: number;
  region: string;
  epoch: number;
  frozen: boolean;
  promoting: boolean;
  error?: string;
}

/** A 202's status resource, read after the drain. */
export interface StatusRead {
  /** HTTP status of the read (0: no answer). */
  status: number;
  /** The resource's state ("delivered", "failed", "queued", ...), "" when unreadable. */
  state: string;
  reason?: string;
}

export interface WriteRunData {
  /** Every fake region's write log. */
  logs: Record<string, WriteEntry[]>;
  /** Entries a region's log dropped (a log with drops cannot prove anything). */
  dropped: Record<string, number>;
  samples: BacklogSample[];
  /** By the 202's Location. */
  statuses: Record<string, StatusRead>;
}

/** Per 1,000 healthy requests at the plan's own rate (issue #8's fleet targets). */
export const KV_WRITES_PER_1000 = 10;
export const CACHE_WRITES_PER_1000 = 50;

export interface Interval {
  from: number;
  to: number;
}

/** Epoch-ms intervals during which the breaker object held the origin open (or half-open); with `origin`, that origin's object only. */
export function openIntervals(points: DataPoint[], end: number, origin?: string): Interval[] {
  const transitions = points
    .filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[4] === "object" && (origin === undefined || p.indexes?.[0] === origin))
    .sort((a, b) => a.timestamp - b.timestamp);
  const out: Interval[] = [];
  let openedAt: number | undefined;
  for (const t of transitions) {
    const to = t.blobs?.[2];
    if (to !== "closed" && openedAt === undefined) openedAt = t.timestamp;
    if (to === "closed" && openedAt !== undefined) {
      out.push({ from: openedAt, to: t.timestamp });
      openedAt = undefined;
    }
  }
  if (openedAt !== undefined) out.push({ from: openedAt, to: end });
  return out;
}

/** The growth of one counter and of the request count over several windows (epoch ms), summed. */
export function countersOver(samples: CounterSample[], windows: Interval[], counter: string): { writes: number; requests: number } {
  let writes = 0;
  let requests = 0;
  for (const w of windows) {
    const before = [...samples].reverse().find((s) => s.at <= w.from) ?? samples[0];
    const after = [...samples].reverse().find((s) => s.at <= w.to);
    if (!before || !after || after.at <= before.at) continue;
    writes += (after.counters[counter] ?? 0) - (before.counters[counter] ?? 0);
    requests += (after.counters["requests"] ?? 0) - (before.counters["requests"] ?? 0);
  }
  return { writes, requests };
}

/** How long before the baseline's end the pre checks start (run.ts), plus a margin for the counters' sampling. */
export const PRE_CHECKS_LEAD_MS = 2000;

/** Counter deltas between two times, per 1,000 requests the worker handled in between. */
export function callsPer1000(samples: CounterSample[], from: number, to: number, objectCalls = "doCalls") {
  const before = [...samples].reverse().find((s) => s.at <= from) ?? samples[0];
  const after = [...samples].reverse().find((s) => s.at <= to);
  if (!before || !after || after === before) return undefined;
  const requests = (after.counters["requests"] ?? 0) - (before.counters["requests"] ?? 0);
  if (requests <= 0) return undefined;
  const per = (k: string) => ((after.counters[k] ?? 0) - (before.counters[k] ?? 0)) * (1000 / requests);
  return { requests, doCalls: per(objectCalls), kvReads: per("kvReads"), kvWrites: per("kvWrites") };
}


/** Cache-Status detail of a copy served because the origin had not answered within ORIGIN_COPY_BUDGET_MS. */
export const OVER_BUDGET_DETAIL = "detail=stale-origin-over-budget";

/**
 * The detection bound: from a fault's onset (as the origin applied it) to the breaker opening, or
 * to traffic on a survivor. Requests without a copy wait at most about this long for a clean answer.
 */
export const DETECTION_LIMIT_MS = 300;

/** One run as the judgements read it: the users' requests (hostile clients are judged apart), its phases and baseline. */
export interface RunView {
  d: DrillData;
  phases: Phase[];
  /** The users' requests that were sent. */
  sent: RequestResult[];
  /** The baseline phase's answers after WARMUP_MS. */
  baseline: RequestResult[];
  /** Epoch ms when the last phase ended. */
  end: number;
  multi: boolean;
}

export function runView(all: DrillData): RunView {
  const d: DrillData = { ...all, results: all.results.filter((r) => r.user !== HOSTILE_USER) };
  const phases = d.plan.phases;
  const sent = d.results.filter((r) => r.error !== "unsent");
  const baseline = sent.filter((r) => phases[r.phase]?.baseline === true && r.intendedAt >= WARMUP_MS);
  return { d, phases, sent, baseline, end: d.startedAt + d.bounds[d.bounds.length - 1]!, multi: isMultiRegion(d.plan) };
}

/** When phase `i`'s setting reached `origin`, ms since the load started: the recorded onset, else the phase's scheduled start. */
export function onsetOf(d: DrillData, i: number, origin: string): number {
  const applied = d.faults?.find((f) => f.phase === i && f.region === origin);
  return applied ? applied.appliedAt - d.startedAt : d.bounds[i]!;
}
