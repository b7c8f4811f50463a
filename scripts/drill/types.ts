/** Shapes shared by the drill's parts: plans, raw request results, per-second series, targets. */
import type { LatencyProfile } from "../lib/latency-profile.ts";

/** What one fake origin does during a phase (see scripts/lib/fake-origin.ts for the modes). */
export type FaultSetting = (
  | { mode: "healthy"; latencyMs?: number; jitterMs?: number }
  | { mode: "status"; status: number; latencyMs?: number }
  | { mode: "blackhole" }
  /** A network partition: with --netns the origin's replies are really dropped; else as blackhole. */
  | { mode: "partition" }
  | { mode: "reset" }
  | { mode: "truncate" }
  | { mode: "stall-body" }
  | { mode: "flaky"; failRate: number; status?: number; latencyMs?: number; jitterMs?: number }
) & {
  /** The version stamp in the origin's answers (default "v1"): regions with different ones fail env_parity. */
  version?: string;
};

/** One origin region of a multi-region plan: its ORIGINS entry (the URL is the drill's fake origin). */
export interface RegionSpec {
  name: string;
  weight?: number;
  home?: boolean;
  priority?: number;
}

export const ADMIN_ACTIONS = ["evacuate", "drain", "shed", "restore"] as const;
export type AdminActionName = (typeof ADMIN_ACTIONS)[number];

/** An operator's routing decision, sent to POST /__edge/admin/regions/<region>/<action> at its phase's start. */
export interface AdminAction {
  region: string;
  action: AdminActionName;
  /** shed only: the share of the region's traffic turned away. */
  percent?: number;
  /** ?force=1: allowed to leave no active region. */
  force?: boolean;
}

/** An operator's write-lease decision, sent to POST /__edge/admin/writes/<action> at its phase's start (issue 11). */
export type WriteAdminAction = { action: "promote"; region: string; reason?: string } | { action: "freeze" | "unfreeze"; reason?: string };
export const WRITE_ADMIN_ACTIONS = ["promote", "freeze", "unfreeze"] as const;

/**
 * The write mix (issue 11), shares of all requests: new writes (POST `path`, a new
 * Idempotency-Key each), client retries of an earlier key (some with a changed payload, which
 * must be refused 422), and webhook events (POST `webhookPath` with JSON {event_id, rev, ...},
 * no key: the worker derives the dedupe key) with sender retries of an earlier event.
 */
export interface WriteMix {
  share: number;
  /** Default "/api/orders". */
  path?: string;
  /** Of all write sends, the share that retries a recent key (default 0.1). */
  retryShare?: number;
  /** Of the retries, the share that changes the payload (default 0.3). */
  changedShare?: number;
  webhookShare: number;
  /** Default "/hooks/payments". */
  webhookPath?: string;
  /** Of all webhook sends, the share that retries a recent event (default 0.2). */
  webhookRetryShare?: number;
}

/** A plan's write path (issue 11): the worker's WRITES setting and how the drill drives and judges it. */
export interface PlanWrites {
  /** The worker's WRITES setting, passed as written (the drill adds auto_promote from `promote`). */
  config: Record<string, unknown>;
  /** "auto": the worker promotes a survivor when the writer's breaker opens; "admin": the phases' writeAdmin promote. */
  promote: "auto" | "admin";
  /** Webhooks must be delivered only from this region once it holds the lease (the seed's webhook_policy.emit_from). */
  emitFrom?: string;
  /**
   * The seed's freeze_writes_on_followers: true. The worker always enforces it (a follower never
   * takes a direct write); the drill judges it from the origins' logs.
   */
  freezeFollowers?: boolean;
}

/** Checks the drill runs itself, before the incident ("pre", at the baseline's end) or after the load ("post"). */
export const DRILL_CHECKS = ["env_parity", "index_hash_equal", "cache_warm", "answers_equal", "cache_rewarmed", "index_hash"] as const;
export type DrillCheckName = (typeof DRILL_CHECKS)[number];

/** A field of a seed plan (or a check it names) the drill cannot act on yet, and why. */
export interface Unsupported {
  field: string;
  reason: string;
}

export interface HostileStream {
  name: string;
  share: number;
  setting: FaultSetting;
}

/** The user name of hostile requests in results: kept out of every target about other users. */
export const HOSTILE_USER = "hostile";

export interface Phase {
  name: string;
  durationS: number;
  /** Requests per second sent during this phase (open loop). */
  rate: number;
  /** Behaviour per origin name; origins not named stay as they were. */
  origins: Record<string, FaultSetting>;
  /** True for phases whose latency counts as "during the fault" in the targets. */
  fault: boolean;
  /** True for the phase whose p95 is the healthy baseline. */
  baseline?: boolean;
  /** True for phases in which the mix's hostile clients send (see Plan.mix.hostile). */
  hostile?: boolean;
  /** Multi-region plans: routing decisions sent with the admin bearer at the phase's start, after its faults. */
  admin?: AdminAction[];
  /** Plans with writes: write-lease decisions sent after the phase's routing decisions. */
  writeAdmin?: WriteAdminAction[];
}

export interface Plan {
  name: string;
  description: string;
  /** Worker [vars] overrides for this plan (strings, as wrangler passes them). */
  vars?: Record<string, string>;
  mix: {
    hotKeys: number;
    coldKeys: number;
    /** Share of reads that go to hot keys (the rest to cold keys). */
    hotShare: number;
    /** Share of requests made by credentialed users (Authorization: Bearer user-N). */
    credentialedShare: number;
    users: number;
    /** Share of requests that are writes (POST). */
    writeShare: number;
    /**
     * Hostile clients inside the mix (drill `broken-route`): each sends this share of all
     * requests to its own route, `/s/hostile-<name>/<n>` (a new key every time, as `/err/$i`
     * would be), which the fake origin answers with `setting` for the whole run.
     */
    hostile?: HostileStream[];
    /**
     * Sticky clients (multi-region plans): this share of all requests comes from `clients`
     * clients that each keep the worker's assignment (cookie jar, or the assignment header),
     * sending anonymous reads of the same keys as everyone else.
     */
    sticky?: { clients: number; share: number };
    /** Writes with Idempotency-Keys and webhook events (plans with `writes`). */
    writes?: WriteMix;
  };
  phases: Phase[];
  /**
   * Two or more origin regions: the worker's ORIGINS (one fake origin process each), which the
   * phases' `origins` name. Absent: one origin per name the phases use, as single-origin plans.
   */
  regions?: RegionSpec[];
  /** The worker's ROUTING setting (the contract's fields, passed as written). */
  routing?: Record<string, unknown>;
  /**
   * Each origin's network distance (by origin or region name): a log-normal delay on every answer
   * of every phase, under the phase's own added latency. Absent (or `--loopback`): loopback-fast.
   */
  latency?: Record<string, LatencyProfile>;
  checks?: { pre?: DrillCheckName[]; post?: DrillCheckName[] };
  /** The write path (issue 11): WRITES, how the survivor is promoted, the webhook policy. */
  writes?: PlanWrites;
  /** What the drill cannot act on yet (from a seed plan): listed in the report, never passed. */
  unsupported?: Unsupported[];
  /** How a seed plan became this plan, one line per decision: in the report. */
  translation?: string[];
}

/** One request as the load generator saw it. Times are ms since the run started. */
export interface RequestResult {
  /** When the request should have been sent (open loop: the schedule, not the actual send). */
  intendedAt: number;
  /** How late the actual send was compared with intendedAt. */
  sendDelayMs: number;
  /** Latency from intendedAt to the end of the response body (coordinated-omission free). */
  latencyMs: number;
  /** 0 when no HTTP answer arrived (connection error or client timeout). */
  status: number;
  phase: number;
  key: string;
  method: string;
  /** "anonymous" or "auth:user-N": who sent it. */
  user: string;
  /** Raw Cache-Status header or "". */
  cacheStatus: string;
  /** Age header in seconds, or -1 when absent. */
  age: number;
  /** x-origin-user header of the answer, "" when absent. */
  originUser: string;
  /** x-origin-served-at header (origin's clock when it produced the answer), or 0. */
  originServedAt: number;
  /** Error text when status is 0. */
  error?: string;
  /** x-edge-region: the region that answered ("" for a copy, the worker's own answer, or no answer). */
  region: string;
  /** x-fake-region: the fake region that produced the body (a copy keeps its producer's), or "". */
  fakeRegion: string;
  /** A sticky client's name ("sticky-3"); undefined for every other request. */
  client?: string;
  /** The region of the assignment a sticky client sent with this request, if it had one. */
  stuckTo?: string;
  /** The assignment token the answer gave (Set-Cookie edge-region or x-edge-assignment), sticky clients only. */
  assignment?: string;
  /** Writes and webhook events of the write mix: what was sent and what the answer said. */
  write?: WriteSent;
}

/** One write or webhook send, as the client knows it. */
export interface WriteSent {
  kind: "write" | "webhook";
  /** The Idempotency-Key (writes) or `event_id:rev` (webhooks): what the origins' logs are joined on. */
  ref: string;
  /** A retry of an earlier send of the same ref. */
  retry: boolean;
  /** A retry with a changed payload (writes only): must be refused 422. */
  changed: boolean;
  /** Idempotency-Replayed: true on the answer. */
  replayed: boolean;
  /** The status resource path (Location of a 202), "" when none. */
  location: string;
  /** x-edge-queued on a 202: why it was queued (writer-down, webhook, outcome-unknown, ...), "" when none. */
  queuedBecause: string;
}

export interface SecondStats {
  second: number;
  phase: number;
  sent: number;
  answered: number;
  late: number;
  unsent: number;
  /** Status class counts: "2xx", "4xx", "5xx", "err". */
  statuses: Record<string, number>;
  /** Answers served from the LKG store (Cache-Status contains "; hit"). */
  fallback: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Breaker state seen in this second (from the worker's data points), e.g. "closed". */
  breaker: string;
  /** Requests the fake origins received in this second. */
  originRequests: number;
  /** Multi-region plans: answers per answering region ("" for a copy or the worker's own answer). */
  regions?: Record<string, number>;
}

export interface TargetResult {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
  /**
   * A timing target (latency, detection, dwell, drain time): a run that could not measure time
   * (see `disturbs`) leaves it unverified. Every other target is correctness, judged in every run.
   */
  latency?: boolean;
  /**
   * A timing target judged against a baseline from the same run (a p95 within 25 % of it): late
   * sends in the baseline inflate the baseline too, so in a disturbed run even its pass is unverified.
   */
  relative?: boolean;
  /** A timing target this run could not judge for a reason of its own (the calibration's recheck): unverified, never passed. */
  inconclusive?: boolean;
  /** This target failing means the run could not measure time (schedule missed, machine too slow): latency targets go unverified. */
  disturbs?: boolean;
}
