/**
 * The shapes shared by the write path's parts: configuration (config/writes.ts), the request path
 * (writes/intake.ts), the idempotency ledger (writes/ledger*.ts), the writer lease (routing state and
 * writes/lease.ts), the queue consumer (writes/consumer.ts), the backlog object (writes/backlog.ts)
 * and the admin and status routes. Types and constants only.
 */

/** Where Idempotency-Key is required (draft-ietf-httpapi-idempotency-key-header): "optional" lets keyless writes pass through without dedupe. */
export type KeyRequirement = "required" | "optional";

/** One configured write route: a path pattern (LKG_ROUTES syntax: exact, "/prefix/" or "/prefix*") and the methods it covers. */
export interface WriteRoute {
  pattern: string;
  methods: string[];
  idempotency: KeyRequirement;
}

/**
 * How a webhook's dedupe key is read from the sender's request:
 * - header: the value of one request header (e.g. "x-event-id"),
 * - field: one JSON body field, a dotted path (e.g. "data.id"),
 * - sha256: the plan format's `sha256(event_id+rev)`: the hex SHA-256 of the listed JSON fields'
 *   values (strings as they are, numbers in JSON form) joined with "+" ... see config/writes.ts.
 */
export type DedupeRule =
  | { kind: "header"; name: string }
  | { kind: "field"; path: string[] }
  | { kind: "sha256"; fields: string[][] };

export interface WebhookRoute {
  pattern: string;
  /** Methods accepted on it (default ["POST"]). */
  methods: string[];
  dedupe: DedupeRule;
  /** The source text of the rule, as configured (shown on admin pages and in metrics). */
  dedupeText: string;
}

/** The WRITES setting, resolved. Durations in ms, sizes in bytes. */
export interface WritesConfig {
  routes: WriteRoute[];
  webhooks: WebhookRoute[];
  /** The region holding the write lease when the fleet has never promoted one (default: the home region). */
  initialWriter: string;
  /** Promote the first usable survivor (failover order) when the writer's breaker opens. Default true. */
  autoPromote: boolean;
  /** How long a key is remembered after its write completed (default 24 h); published in answers. */
  keyLifetimeMs: number;
  /** Largest write body that can be queued (default 100 KiB; the Queues message limit is 128 KB). */
  maxQueuedBodyBytes: number;
  /** Largest origin answer body kept for replays (default 64 KiB); above it a replay has status and headers only. */
  maxStoredResultBytes: number;
  /** Queued writes one consumer invocation delivers per second at most (default 50; with max_concurrency = 1 the queue's rate). */
  replayPerSecond: number;
  /**
   * A promotion freezes writes (all queued) this long before the new epoch starts, so no write the old
   * writer may still receive overlaps the new writer's. Derived: lease trust + ORIGIN_TIMEOUT_MS + 1 s.
   */
  promotionDrainMs: number;
  /** A pass-through write trusts the isolate's lease only if read from the object this recently (default 3 x ROUTING_SYNC_MS). */
  leaseTrustMs: number;
}

/** Header every forwarded write carries: the writer lease's epoch, so an origin can refuse a stale one. */
export const WRITE_EPOCH_HEADER = "x-edge-write-epoch";
/** Set on a replayed answer (the draft's name). */
export const REPLAYED_HEADER = "idempotency-replayed";
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** Status resources: GET /__edge/writes/<id>; the id is the capability (unguessable, 128 random bits). */
export const STATUS_PATH_PREFIX = "/__edge/writes/";

/** The write lease, kept in the fleet routing snapshot (RoutingSnapshot.writer). Absent: initialWriter at epoch 1. */
export interface WriterLease {
  /** The region writes go to; during a promotion still the old writer (which gets none: writes are frozen). */
  region: string;
  /** Grows by one on every completed promotion; starts at 1. */
  epoch: number;
  /** An operator froze writes: every write is queued, the consumer delivers nothing, until unfrozen. */
  frozen: boolean;
  /** A promotion in progress: writes are frozen until `completesAt`, then region = to, epoch + 1 (the object's alarm, or the next lease read). */
  promotion?: { to: string; from: string; startedAt: number; completesAt: number; reason: string };
  reason: string;
  changedAt: number;
}

/** What the request path does with one write now (writes/lease.ts decides, from the isolate's view). */
export type WritePlan =
  | { kind: "pass"; region: string; epoch: number }
  | { kind: "queue"; why: QueueReason };

export type QueueReason =
  /** The writer's breaker is open, or it left (routing health). */
  | "writer-down"
  /** Frozen by an operator. */
  | "frozen"
  /** A promotion is draining writes. */
  | "promoting"
  /** The isolate's copy of the lease is older than leaseTrustMs, or a promotion's outcome is unknown (timed out). */
  | "lease-unknown"
  /** The pass-through attempt failed before the origin saw the write (connect-class). */
  | "connect-failed"
  /** The pass-through attempt timed out or the origin answered 502/503/504: the outcome is unknown; redelivered with the same key. */
  | "outcome-unknown"
  /** Webhook routes are always queue-first. */
  | "webhook";

/** A stored answer, for replays and the status resource. Never Set-Cookie; body base64, at most maxStoredResultBytes. */
export interface StoredResult {
  status: number;
  headers: [string, string][];
  /** base64 of the body; undefined when it was larger than maxStoredResultBytes (bodyBytes says how large). */
  body: string | undefined;
  bodyBytes: number;
  /** Which region answered, under which epoch (undefined for a pass-through answered before any lease existed). */
  region: string;
  epoch: number;
  at: number;
}

/** One queued write or webhook event: the Queues message body (structured clone; well under 128 KB). */
export interface QueuedWrite {
  v: 1;
  kind: "write" | "webhook";
  /** The ledger shard's object id (hex). */
  ledger: string;
  /** The scoped key (scopedKey()): the record's row in that shard. */
  record: string;
  /** The Idempotency-Key the origin receives (the client's, or the webhook's dedupe key). */
  key: string;
  /** The status resource id (also in the ledger). */
  statusId: string;
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** Headers safe to keep in a queue (no credentials, no hop-by-hop, none of ours). */
  headers: [string, string][];
  /** The credential headers (Authorization, Cookie, SENSITIVE_HEADERS ...), sealed with AES-GCM under the write secret; undefined when none. */
  sealed: string | undefined;
  body: ArrayBuffer | null;
  enqueuedAt: number;
  /** Why it was queued (for metrics and the status resource). */
  why: QueueReason;
}

/** What a status resource shows. */
export interface WriteStatus {
  id: string;
  kind: "write" | "webhook";
  state: "in-flight" | "queued" | "delivering" | "delivered" | "failed";
  acceptedAt: number;
  /** When the key is forgotten (a later write with it is new). */
  expiresAt: number;
  attempts: number;
  why: QueueReason | undefined;
  result: StoredResult | undefined;
  /** failed: why (dead-lettered after N attempts, or the origin's final refusal). */
  reason: string | undefined;
}
