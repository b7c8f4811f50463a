/**
 * The queue consumers. Writes: each message is claimed in its key's ledger object, so a batch
 * delivered twice (Queues is at least once) reaches the origin once; delivered only to the lease's
 * writer region, with the lease's epoch; acked one by one. Dead letters: marked failed in the
 * ledger and kept in full in the backlog object until an operator replays them.
 */
import type { Clock } from "../clock.ts";
import type { RegionConfig } from "../routing/types.ts";
import { deliver } from "./deliver.ts";
import { SealError, toRequest, type WriteSecret } from "./message.ts";
import type { QueuedWrite, StoredResult, WriterLease } from "./types.ts";

/** The ledger RPC the consumer uses (W1's WriteLedger, one object per scoped key). */
export type ClaimResult =
  | { kind: "claimed"; attempt: number }
  | { kind: "done" }
  | { kind: "busy"; retryInMs: number }
  | { kind: "gone" }
  /** The ledger refused the call's arguments (W1 answers instead of throwing). */
  | { kind: "invalid"; problem: string };
export interface LedgerStub {
  claim(token: string, leaseMs: number): Promise<ClaimResult>;
  delivered(token: string, result: StoredResult): Promise<unknown>;
  unclaim(token: string, reason: string): Promise<unknown>;
  deadLettered(reason: string): Promise<DeadLetterAnswer>;
}
/** W1's answer: "already-done" when the write was delivered after all (a settle that kept failing), which is not a dead letter. */
export type DeadLetterAnswer = { kind: "failed" } | { kind: "already-done" } | { kind: "gone" };

/** The backlog object's RPC the consumers use (backlog.ts). */
export interface BacklogStub {
  settle(statusIds: string[]): Promise<unknown>;
  dead(message: QueuedWrite, reason: string): Promise<unknown>;
}

/** A strong read of the writer lease (RoutingObject.lease): once per batch. */
export type LeaseSource = () => Promise<WriterLease>;

export type ConsumerOutcome = "delivered" | "duplicate_dropped" | "retry" | "dead_lettered";
/** One message's outcome, for metrics (consumer points) and logs. */
export interface ConsumerEvent {
  outcome: ConsumerOutcome;
  message: QueuedWrite | undefined;
  /** The Queues delivery attempt (1 on the first). */
  attempt: number;
  /** From enqueue to this outcome. */
  queueDelayMs: number;
  /** The writer's status, for delivered. */
  status?: number;
  /** Why a retry or a dead letter. */
  reason?: string;
  /** The retry delay asked for, seconds. */
  delaySeconds?: number;
  /** The writer and epoch the batch was judged under (unset when the lease could not be used). */
  region?: string;
  epoch?: number;
}

export interface ConsumerDeps {
  lease: LeaseSource;
  ledger(message: QueuedWrite): LedgerStub;
  backlog: BacklogStub;
  /** config.origins: the lease names one of them. */
  origins: readonly RegionConfig[];
  /** WritesConfig.leaseTrustMs: a delivery starts at most this long after the batch's lease read (a promotion drains for longer). */
  leaseTrustMs: number;
  /** ORIGIN_TIMEOUT_MS: one delivery's deadline. */
  originTimeoutMs: number;
  maxStoredResultBytes: number;
  /** WRITES.replay_per_second: a batch's messages start 1 / this seconds apart, and the next batch n / this seconds after a batch of n. */
  replayPerSecond: number;
  /** The isolate's replay schedule (one per isolate: module scope in the queue handler). */
  pacer: ReplayPacer;
  /** Waits (tests pass a recorder); default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** config.scrub.sensitiveHeaders: never kept in a stored answer. */
  sensitiveHeaders: readonly string[];
  /** Opens the sealed credentials; undefined (not configured): a message with credentials is dead-lettered, never sent without them. */
  secret: WriteSecret | undefined;
  clock: Clock;
  report?(event: ConsumerEvent): void;
  /** The writer's fetch (tests may wrap it); default the global fetch. */
  fetch?: typeof fetch;
}

/** The lease unreadable, naming no known writer, or read too long ago to send under: look again soon. */
const LEASE_RETRY_DELAY_S = 1;
/** A promotion's drain ends at a known time; a lease read past it completes it, so never wait longer than this for one. */
const PROMOTION_MAX_DELAY_S = 60;
/** An operator freeze can last long: back off with the attempts up to this, so ~40 minutes of freeze fit in max_retries 100 before a write is dead-lettered (replayable). */
const FROZEN_MAX_DELAY_S = 30;
/** A failed delivery: min(2^attempt, this) seconds. */
const RETRY_MAX_DELAY_S = 10;
/** The claim outlasts one delivery (the origin deadline) by this, so it never lapses while a delivery is still running. */
const CLAIM_MARGIN_MS = 5_000;

export function retryDelaySeconds(attempt: number): number {
  return Math.min(2 ** Math.max(0, attempt), RETRY_MAX_DELAY_S);
}

/**
 * Until the promotion's drain ends nothing can be delivered: retried then, once, rather than every
 * second (a backlog of n writes re-read n times a second while a promotion drains, for nothing).
 */
export function promotionDelaySeconds(completesAt: number, now: number): number {
  return Math.min(Math.max(1, Math.ceil((completesAt - now) / 1000)), PROMOTION_MAX_DELAY_S);
}

/**
 * The isolate's replay schedule: batches take turns, n messages taking n paces, however many
 * batches the queue hands over at once (Miniflare overlaps two when a full batch meets a
 * flush timer; with max_concurrency = 1 Queues runs one invocation at a time).
 */
export class ReplayPacer {
  private free = Number.NEGATIVE_INFINITY;
  /** When a batch of n may start, given the pace; the next batch starts n paces after it. */
  reserve(n: number, now: number, paceMs: number): number {
    const start = Math.max(now, this.free);
    this.free = start + n * paceMs;
    return start;
  }
}

type UsableLease = { lease: WriterLease; writer: RegionConfig; readAt: number };

/** A strong lease read that allows delivering now, or the whole batch retried (and undefined). */
async function usableLease(batch: MessageBatch<QueuedWrite>, deps: ConsumerDeps): Promise<UsableLease | undefined> {
  let lease: WriterLease;
  const readAt = deps.clock.now();
  try {
    lease = await deps.lease();
  } catch (err) {
    // Unknown is not "no writer": deliver nothing until the lease is read.
    retryAll(batch, LEASE_RETRY_DELAY_S, `writer lease unreadable: ${errorText(err)}`, deps);
    return undefined;
  }
  if (lease.promotion) {
    retryAll(batch, promotionDelaySeconds(lease.promotion.completesAt, deps.clock.now()), `promotion to ${lease.promotion.to} in progress`, deps);
    return undefined;
  }
  if (lease.frozen) {
    const attempts = Math.max(...batch.messages.map((m) => m.attempts));
    retryAll(batch, Math.min(Math.max(1, attempts), FROZEN_MAX_DELAY_S), "writes frozen", deps);
    return undefined;
  }
  const writer = deps.origins.find((o) => o.name === lease.region);
  if (!writer) {
    retryAll(batch, LEASE_RETRY_DELAY_S, `the lease's writer ${JSON.stringify(lease.region)} is not in ORIGINS`, deps);
    return undefined;
  }
  return { lease, writer, readAt };
}

export async function consumeWrites(batch: MessageBatch<QueuedWrite>, deps: ConsumerDeps): Promise<void> {
  let usable = await usableLease(batch, deps);
  if (!usable) return;
  const n = batch.messages.length;
  const pace = 1000 / deps.replayPerSecond;
  const wait = deps.sleep ?? sleep;
  const until = async (at: number) => {
    const rest = at - deps.clock.now();
    if (rest > 0) await wait(rest);
  };
  const start = deps.pacer.reserve(n, deps.clock.now(), pace);
  if (start > deps.clock.now()) {
    await until(start);
    // The wait may have outlived the read's trust, or a promotion may have begun: read it again.
    usable = await usableLease(batch, deps);
    if (!usable) return;
  }
  const { lease, writer, readAt: leaseReadAt } = usable;

  // Every outcome of this batch names the writer and epoch it was judged under (the write points' index and epoch).
  const tagged: Pick<ConsumerDeps, "report"> = { report: (event) => deps.report?.({ ...event, region: writer.name, epoch: lease.epoch }) };
  const settled: { message: Message<QueuedWrite>; event: ConsumerEvent }[] = [];
  // The batch's messages start one pace apart, so the writer (and, in local drills, the thread the
  // live requests share) sees an even stream rather than a burst of ten; squeezed into half the
  // lease's trust window when the pace is slower, since a delivery must start within it (the
  // pacer still gives the batch n paces before the next one starts).
  const stagger = Math.min(pace, deps.leaseTrustMs / 2 / Math.max(1, n));
  await Promise.all(
    batch.messages.map(async (message, i) => {
      if (i > 0) await until(leaseReadAt + i * stagger);
      const event = await consumeOne(message, lease, writer, deps, leaseReadAt);
      if (event.outcome === "delivered" || event.outcome === "duplicate_dropped") settled.push({ message, event });
      else report(tagged, event);
    }),
  );
  await settle(settled, tagged, deps);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function settle(settled: { message: Message<QueuedWrite>; event: ConsumerEvent }[], tagged: Pick<ConsumerDeps, "report">, deps: ConsumerDeps): Promise<void> {
  if (settled.length === 0) return;
  // Acked only once the backlog forgot them: a settle that failed is retried, and the ledger answers "done" next time.
  try {
    await deps.backlog.settle(settled.map((s) => s.event.message!.statusId));
  } catch (err) {
    for (const { message, event } of settled) {
      const delaySeconds = retryDelaySeconds(message.attempts);
      message.retry({ delaySeconds });
      report(tagged, { ...event, outcome: "retry", reason: `backlog unreachable after ${event.outcome}: ${errorText(err)}`, delaySeconds });
    }
    return;
  }
  for (const { message, event } of settled) {
    message.ack();
    report(tagged, event);
  }
}

/** One message: claim, deliver, record. Acks or retries everything but "delivered" and "duplicate_dropped" (acked after the batch's settle). */
async function consumeOne(message: Message<QueuedWrite>, lease: WriterLease, writer: RegionConfig, deps: ConsumerDeps, leaseReadAt: number): Promise<ConsumerEvent> {
  const body = validMessage(message.body);
  const base = { message: body, attempt: message.attempts, queueDelayMs: body ? deps.clock.now() - body.enqueuedAt : 0 };
  const retry = (reason: string, delaySeconds: number): ConsumerEvent => {
    message.retry({ delaySeconds });
    return { ...base, outcome: "retry", reason, delaySeconds };
  };
  if (!body) {
    // Only this worker produces to the queue: a body it cannot read is a version skew, kept in the log and the metrics, never retried forever.
    console.error(`write queue: message ${message.id} is not a queued write (v1): ${messageProblem(message.body)}; dropped`);
    message.ack();
    return { ...base, outcome: "dead_lettered", reason: "malformed message" };
  }
  const ledger = deps.ledger(body);
  const token = crypto.randomUUID();
  let claim: ClaimResult;
  try {
    claim = await ledger.claim(token, deps.originTimeoutMs + CLAIM_MARGIN_MS);
  } catch (err) {
    return retry(`ledger unreachable: ${errorText(err)}`, retryDelaySeconds(message.attempts));
  }
  switch (claim.kind) {
    case "done":
      return { ...base, outcome: "duplicate_dropped" };
    case "busy":
      return retry("another delivery holds the claim", Math.min(Math.max(1, Math.ceil(claim.retryInMs / 1000)), RETRY_MAX_DELAY_S));
    case "gone":
      // Queued records do not expire; no record means one the ledger lost or never had. Kept for an operator, not delivered blind.
      return deadLetter(message, base, "the ledger has no record of this write", deps);
    case "invalid":
      return retry(`ledger refused the claim: ${claim.problem}`, RETRY_MAX_DELAY_S);
    case "claimed":
      break;
  }
  // Anything but a claim this delivery holds is never sent (an answer this code does not know included).
  if (claim.kind !== "claimed") return retry(`unknown claim answer ${JSON.stringify((claim as { kind?: unknown }).kind)}`, RETRY_MAX_DELAY_S);

  let request: Request;
  try {
    if (body.sealed !== undefined && !deps.secret) throw new SealError("no write secret configured (WRITE_SECRET or ADMIN_TOKEN)");
    request = await toRequest(body, writer, lease.epoch, deps.secret!);
  } catch (err) {
    // Never sent without its credentials: a secret that changed while it was queued, or a broken message.
    await ledger.deadLettered(errorText(err)).catch(() => undefined);
    return deadLetter(message, base, errorText(err), deps);
  }
  // The lease was read for the batch; a slow claim may have outlived the trust a promotion's drain allows for.
  if (deps.clock.now() - leaseReadAt > deps.leaseTrustMs) {
    await ledger.unclaim(token, "the batch's lease read is too old to send under").catch(() => undefined);
    return retry("the batch's lease read is too old to send under", LEASE_RETRY_DELAY_S);
  }
  const delivery = await deliver(request, deps.originTimeoutMs, { bytes: deps.maxStoredResultBytes, sensitive: deps.sensitiveHeaders }, deps.fetch);
  if (delivery.kind === "retry") {
    await ledger.unclaim(token, delivery.reason).catch(() => undefined);
    return retry(delivery.reason, retryDelaySeconds(claim.attempt));
  }
  const result: StoredResult = { ...delivery.result, region: writer.name, epoch: lease.epoch, at: deps.clock.now() };
  // The origin has the write: record it, trying twice more before leaving it to the claim's expiry and a redelivery (the origin's dedupe, by key, decides that one).
  for (let tries = 0; ; tries++) {
    try {
      await ledger.delivered(token, result);
      break;
    } catch (err) {
      if (tries === 2) return retry(`delivered (${result.status}) but the ledger did not record it: ${errorText(err)}`, retryDelaySeconds(claim.attempt));
    }
  }
  return { ...base, outcome: "delivered", status: result.status };
}

async function deadLetter(message: Message<QueuedWrite>, base: Omit<ConsumerEvent, "outcome">, reason: string, deps: ConsumerDeps): Promise<ConsumerEvent> {
  try {
    await deps.backlog.dead(base.message!, reason);
  } catch (err) {
    const delaySeconds = retryDelaySeconds(message.attempts);
    message.retry({ delaySeconds });
    return { ...base, outcome: "retry", reason: `${reason}; backlog unreachable: ${errorText(err)}`, delaySeconds };
  }
  message.ack();
  return { ...base, outcome: "dead_lettered", reason };
}

/**
 * Dead letters (messages past max_retries on the write queue): failed in the ledger (a poll shows
 * it), kept in full in the backlog object, then acked. Anything unreachable: retried, never acked.
 */
export async function consumeDeadLetters(batch: MessageBatch<QueuedWrite>, deps: Pick<ConsumerDeps, "ledger" | "backlog" | "clock" | "report">): Promise<void> {
  const reason = "delivery retries exhausted (max_retries on the write queue)";
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = validMessage(message.body);
      const base = { message: body, attempt: message.attempts, queueDelayMs: body ? deps.clock.now() - body.enqueuedAt : 0 };
      if (!body) {
        console.error(`write dead-letter queue: message ${message.id} is not a queued write (v1): ${messageProblem(message.body)}; dropped`);
        message.ack();
        return report(deps, { ...base, outcome: "dead_lettered", reason: "malformed message" });
      }
      let answer: DeadLetterAnswer;
      try {
        answer = await deps.ledger(body).deadLettered(reason);
        if (answer.kind === "already-done") await deps.backlog.settle([body.statusId]);
        else await deps.backlog.dead(body, answer.kind === "gone" ? `${reason}; the ledger has no record of this write` : reason);
      } catch (err) {
        const delaySeconds = retryDelaySeconds(message.attempts);
        message.retry({ delaySeconds });
        return report(deps, { ...base, outcome: "retry", reason: `dead letter not kept yet: ${errorText(err)}`, delaySeconds });
      }
      message.ack();
      report(deps, answer.kind === "already-done" ? { ...base, outcome: "duplicate_dropped", reason: "delivered before it was dead-lettered" } : { ...base, outcome: "dead_lettered", reason });
    }),
  );
}

function retryAll(batch: MessageBatch<QueuedWrite>, delaySeconds: number, reason: string, deps: ConsumerDeps): void {
  batch.retryAll({ delaySeconds });
  for (const message of batch.messages) {
    const body = validMessage(message.body);
    report(deps, { outcome: "retry", message: body, attempt: message.attempts, queueDelayMs: body ? deps.clock.now() - body.enqueuedAt : 0, reason, delaySeconds });
  }
}

function report(deps: Pick<ConsumerDeps, "report">, event: ConsumerEvent): void {
  try {
    deps.report?.(event);
  } catch {
    // Metrics are bookkeeping: they never change what happens to a message.
  }
}

/** The fields the consumer relies on, checked: a message from another version is recognised, not half-delivered. */
function validMessage(body: unknown): QueuedWrite | undefined {
  return messageProblem(body) === undefined ? (body as QueuedWrite) : undefined;
}

/** The first thing that makes `body` no queued write (v1), for the log; undefined when it is one. */
export function messageProblem(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return `the body is ${body === null ? "null" : typeof body}`;
  const m = body as Partial<QueuedWrite>;
  if (m.v !== 1) return `v is ${JSON.stringify(m.v)}`;
  if (m.kind !== "write" && m.kind !== "webhook") return `kind is ${JSON.stringify(m.kind)}`;
  for (const field of ["ledger", "record", "key", "statusId", "method", "path"] as const) if (typeof m[field] !== "string") return `${field} is ${typeof m[field]}`;
  if (!Array.isArray(m.headers)) return "headers is not a list";
  if (m.sealed !== undefined && m.sealed !== null && typeof m.sealed !== "string") return `sealed is ${typeof m.sealed}`;
  if (m.body !== null && m.body !== undefined && !(m.body instanceof ArrayBuffer)) return `body is ${Object.prototype.toString.call(m.body)}`;
  if (typeof m.enqueuedAt !== "number") return `enqueuedAt is ${typeof m.enqueuedAt}`;
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
