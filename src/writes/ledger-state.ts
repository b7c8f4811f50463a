/**
 * One idempotency key's record and every change to it, as pure functions of (record, input, now):
 * the ledger object (ledger.ts) only loads, applies and saves. A step answers the caller and says
 * what to save: a new record, `null` to delete it, or `undefined` to keep it as it is.
 */
import type { QueueReason, StoredResult, WriteStatus } from "./types.ts";

export type RecordState = "in-flight" | "queued" | "delivering" | "done" | "failed";

export interface LedgerRecord {
  kind: "write" | "webhook";
  /** The key as the client sent it (unescaped), for the status resource and the origin. */
  key: string;
  fingerprint: string;
  /** `<ledger id>.<secret>`; the secret half is the status resource's capability. */
  statusId: string;
  state: RecordState;
  acceptedAt: number;
  /** How long the key is remembered once settled (done or failed). */
  lifetimeMs: number;
  /** in-flight: when the pass-through attempt is presumed lost (its outcome unknown) and the key may be taken over. */
  passDeadline: number | undefined;
  why: QueueReason | undefined;
  /** Times the write was sent towards the origin: pass-through attempts and consumer claims. */
  attempts: number;
  /** delivering: the consumer delivery holding the record, until `until`. */
  claim: { token: string; until: number } | undefined;
  result: StoredResult | undefined;
  /** failed: why; after an unclaim, the last delivery's failure. */
  reason: string | undefined;
  /** When it became done or failed. */
  settledAt: number | undefined;
}

export interface Step<A> {
  answer: A;
  /** The record to save; null: delete it; undefined: unchanged. */
  next: LedgerRecord | null | undefined;
}

/** How long a pass-through attempt may hold a fresh key before a retry takes it over (contract default). */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;

export interface BeginInput {
  key: string;
  fingerprint: string;
  kind: "write" | "webhook";
  plan: "pass" | "queue";
  why?: QueueReason | undefined;
  lifetimeMs: number;
  deliveryTimeoutMs?: number | undefined;
}

export type BeginResult =
  /**
   * Go ahead: forward (plan pass) or enqueue (plan queue). `takeover`: the key existed but its last
   * attempt is presumed lost (a pass-through past its deadline, or dead-lettered): this is a retry
   * under the same status id, and the origin's own dedupe by key decides.
   */
  | { kind: "new"; statusId: string; takeover: boolean }
  | { kind: "mismatch" }
  | { kind: "in-flight" }
  | { kind: "queued"; statusId: string }
  | { kind: "done"; result: StoredResult };

export function begin(record: LedgerRecord | undefined, input: BeginInput & { statusId: string }, now: number): Step<BeginResult> {
  const passDeadline = input.plan === "pass" ? now + (input.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS) : undefined;
  const state: RecordState = input.plan === "pass" ? "in-flight" : "queued";
  const why = input.plan === "queue" ? input.why : undefined;
  if (!record) {
    const created: LedgerRecord = {
      kind: input.kind,
      key: input.key,
      fingerprint: input.fingerprint,
      statusId: input.statusId,
      state,
      acceptedAt: now,
      lifetimeMs: input.lifetimeMs,
      passDeadline,
      why,
      attempts: input.plan === "pass" ? 1 : 0,
      claim: undefined,
      result: undefined,
      reason: undefined,
      settledAt: undefined,
    };
    return { answer: { kind: "new", statusId: created.statusId, takeover: false }, next: created };
  }
  // The draft: the same key with another payload is the client's mistake, whatever the record's state.
  if (record.fingerprint !== input.fingerprint) return { answer: { kind: "mismatch" }, next: undefined };
  switch (effectiveState(record, now)) {
    case "in-flight":
      return { answer: { kind: "in-flight" }, next: undefined };
    case "queued":
    case "delivering":
      if (!isLostPass(record, now)) return { answer: { kind: "queued", statusId: record.statusId }, next: undefined };
      break;
    case "done":
      // A settled record always has its result (complete and delivered store one).
      return record.result ? { answer: { kind: "done", result: record.result }, next: undefined } : { answer: { kind: "in-flight" }, next: undefined };
    case "failed":
      break;
  }
  // A pass-through past its deadline (the isolate that forwarded it may be gone: no message was ever
  // enqueued) or a dead-lettered write: answering "queued" would acknowledge a write nobody will
  // deliver. The retry carries the body again, so it goes ahead under the same status id.
  const retaken: LedgerRecord = {
    ...record,
    state,
    passDeadline,
    why: why ?? record.why,
    attempts: record.attempts + (input.plan === "pass" ? 1 : 0),
    claim: undefined,
    reason: undefined,
    settledAt: undefined,
  };
  return { answer: { kind: "new", statusId: record.statusId, takeover: true }, next: retaken };
}

/** in-flight past its pass deadline; claimed past its lease: the holder is presumed gone. */
function effectiveState(record: LedgerRecord, now: number): RecordState {
  if (record.state === "in-flight" && record.passDeadline !== undefined && now >= record.passDeadline) return "queued";
  if (record.state === "delivering" && (!record.claim || now >= record.claim.until)) return "queued";
  return record.state;
}

function isLostPass(record: LedgerRecord, now: number): boolean {
  return record.state === "in-flight" && record.passDeadline !== undefined && now >= record.passDeadline;
}

export type QueueAnswer = { kind: "queued"; statusId: string } | { kind: "done"; result: StoredResult } | { kind: "gone" };

/** The pass-through attempt failed before a final answer (connect-class, timeout, 502/503/504): the write goes to the queue. */
export function queue(record: LedgerRecord | undefined, why: QueueReason): Step<QueueAnswer> {
  if (!record) return { answer: { kind: "gone" }, next: undefined };
  if (record.state === "done" && record.result) return { answer: { kind: "done", result: record.result }, next: undefined };
  const answer: QueueAnswer = { kind: "queued", statusId: record.statusId };
  // Already queued or being delivered (a takeover queued it first): one more message is harmless, the consumer's claim dedupes.
  if (record.state !== "in-flight" && record.state !== "failed") return { answer, next: undefined };
  return { answer, next: { ...record, state: "queued", why, passDeadline: undefined, settledAt: undefined, reason: undefined } };
}

export type SettleAnswer = { kind: "recorded" } | { kind: "already-done" } | { kind: "gone" };

/**
 * The origin gave a final answer to a pass-through attempt. Accepted from any unsettled state: a
 * final answer is the truth about the write, whoever else also holds it; the first result wins.
 */
export function complete(record: LedgerRecord | undefined, result: StoredResult, now: number): Step<SettleAnswer> {
  return settleDone(record, result, now);
}

function settleDone(record: LedgerRecord | undefined, result: StoredResult, now: number): Step<SettleAnswer> {
  if (!record) return { answer: { kind: "gone" }, next: undefined };
  if (record.state === "done") return { answer: { kind: "already-done" }, next: undefined };
  return {
    answer: { kind: "recorded" },
    next: { ...record, state: "done", result, passDeadline: undefined, claim: undefined, reason: undefined, settledAt: now },
  };
}

export type ReleaseAnswer = { kind: "released" } | { kind: "kept"; state: RecordState } | { kind: "gone" };

/**
 * Forget the key: the origin answered the pass-through with a 500 (the client may retry), or the
 * enqueue after `queue` failed (the client gets a 503). Only a record nothing was delivered from
 * yet: an in-flight one, or a queued one no consumer has claimed.
 */
export function release(record: LedgerRecord | undefined): Step<ReleaseAnswer> {
  if (!record) return { answer: { kind: "gone" }, next: undefined };
  // Untouched by a consumer (no claim now, no delivery failure recorded): its enqueue failed, so no
  // message exists. A pass-through attempt before it may have counted one attempt; that is no claim.
  const untouchedQueue = record.state === "queued" && record.claim === undefined && record.reason === undefined;
  if (record.state === "in-flight" || untouchedQueue) return { answer: { kind: "released" }, next: null };
  return { answer: { kind: "kept", state: record.state }, next: undefined };
}

export type ClaimAnswer = { kind: "claimed"; attempt: number } | { kind: "done" } | { kind: "busy"; retryInMs: number } | { kind: "gone" };

/**
 * A consumer delivery asks to send the write. One claim at a time, for `leaseMs`; an expired claim
 * (or pass-through past its deadline) is presumed lost and may be claimed again: the origin's dedupe
 * by key decides about the earlier one. The same token claiming again (a redelivered message after
 * a crash) holds the same attempt. A dead-lettered record is claimable: an operator replayed it.
 */
export function claim(record: LedgerRecord | undefined, token: string, leaseMs: number, now: number): Step<ClaimAnswer> {
  if (!record) return { answer: { kind: "gone" }, next: undefined };
  const state = effectiveState(record, now);
  if (state === "done") return { answer: { kind: "done" }, next: undefined };
  if (state === "in-flight") return { answer: { kind: "busy", retryInMs: Math.max(0, (record.passDeadline ?? now) - now) }, next: undefined };
  if (state === "delivering" && record.claim) {
    if (record.claim.token !== token) return { answer: { kind: "busy", retryInMs: record.claim.until - now }, next: undefined };
    return { answer: { kind: "claimed", attempt: record.attempts }, next: { ...record, claim: { token, until: now + leaseMs } } };
  }
  const attempts = record.attempts + 1;
  return {
    answer: { kind: "claimed", attempt: attempts },
    next: { ...record, state: "delivering", attempts, claim: { token, until: now + leaseMs }, passDeadline: undefined, reason: undefined, settledAt: undefined },
  };
}

/** The consumer's delivery got a final answer from the origin. Like complete: accepted whoever holds the claim now. */
export function delivered(record: LedgerRecord | undefined, result: StoredResult, now: number): Step<SettleAnswer> {
  return settleDone(record, result, now);
}

export type UnclaimAnswer = { kind: "unclaimed" } | { kind: "not-held" };

/** The delivery failed (connect-class, timeout, 502/503/504): back to queued for the next one; only the claim's holder may. */
export function unclaim(record: LedgerRecord | undefined, token: string, reason: string): Step<UnclaimAnswer> {
  if (!record || record.state !== "delivering" || record.claim?.token !== token) return { answer: { kind: "not-held" }, next: undefined };
  return { answer: { kind: "unclaimed" }, next: { ...record, state: "queued", claim: undefined, reason } };
}

export type DeadLetterAnswer = { kind: "failed" } | { kind: "already-done" } | { kind: "gone" };

/** The message ran out of retries (its dead-letter consumer says so). A delivered write stays delivered. */
export function deadLettered(record: LedgerRecord | undefined, reason: string, now: number): Step<DeadLetterAnswer> {
  if (!record) return { answer: { kind: "gone" }, next: undefined };
  if (record.state === "done") return { answer: { kind: "already-done" }, next: undefined };
  return { answer: { kind: "failed" }, next: { ...record, state: "failed", claim: undefined, passDeadline: undefined, reason, settledAt: now } };
}

/**
 * When the record is deleted: a settled one `lifetimeMs` after it settled; an in-flight one
 * `lifetimeMs` after its pass deadline (its isolate died and the client never came back).
 * Queued and delivering records are kept until the queue settles them (delivered or dead-lettered).
 */
export function expiresAt(record: LedgerRecord): number | undefined {
  if (record.settledAt !== undefined) return record.settledAt + record.lifetimeMs;
  if (record.state === "in-flight" && record.passDeadline !== undefined) return record.passDeadline + record.lifetimeMs;
  return undefined;
}

/** What the status resource shows. `expiresAt` of a pending write is a lower bound: the key is kept `lifetimeMs` past settling. */
export function statusOf(record: LedgerRecord, now: number): WriteStatus {
  const state = effectiveState(record, now);
  const lostPass = isLostPass(record, now);
  return {
    id: record.statusId,
    kind: record.kind,
    state: state === "done" ? "delivered" : state,
    acceptedAt: record.acceptedAt,
    expiresAt: record.settledAt !== undefined ? record.settledAt + record.lifetimeMs : now + record.lifetimeMs,
    attempts: record.attempts,
    why: lostPass ? "outcome-unknown" : record.why,
    result: record.result,
    reason: record.reason,
  };
}
