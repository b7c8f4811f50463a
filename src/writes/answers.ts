/** The write path's own answers: accepted into the queue (202), a replay of a stored result, and the draft's refusals. */
import { jsonError } from "../lkg/respond.ts";
import { REPLAYED_HEADER, STATUS_PATH_PREFIX, type QueueReason, type StoredResult } from "./types.ts";

const DRAFT = "draft-ietf-httpapi-idempotency-key-header";

/** Why a write was queued, in words a client (and an operator reading the status resource) understands. */
export const QUEUE_REASONS: Record<QueueReason, string> = {
  "writer-down": "the writer region cannot take writes now (its breaker is open or it left)",
  frozen: "writes are frozen by an operator",
  promoting: "a new writer region is being promoted",
  "lease-unknown": "this edge cannot confirm which region holds the write lease",
  "connect-failed": "the writer region could not be reached",
  "outcome-unknown": "the writer region did not confirm the write in time; it is redelivered with the same key",
  webhook: "webhook events are always queued, then delivered to the writer region",
};

export function accepted(statusId: string, why: QueueReason, expiresAt: number, replayed: boolean): Response {
  const poll = `${STATUS_PATH_PREFIX}${statusId}`;
  // x-edge-queued: the reason in one token, for clients and dashboards that branch on it (the body says it in words).
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", location: poll, "retry-after": "1", "x-edge-queued": why };
  if (replayed) headers[REPLAYED_HEADER] = "true";
  return new Response(JSON.stringify({ status: "queued", id: statusId, poll, reason: QUEUE_REASONS[why], key_expires_at: new Date(expiresAt).toISOString() }), { status: 202, headers });
}

/** A webhook event delivered already: acknowledged (200), marked as a replay, without the writer's answer. */
export function duplicateEvent(): Response {
  return new Response(JSON.stringify({ status: "duplicate" }), {
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", [REPLAYED_HEADER]: "true" },
  });
}

/** A completed key: its stored answer again, marked as a replay. A body too large to keep is said to be left out. */
export function replay(result: StoredResult): Response {
  const headers = new Headers(result.headers);
  headers.set(REPLAYED_HEADER, "true");
  headers.set("cache-control", "no-store");
  if (result.body === undefined) {
    headers.delete("content-length");
    headers.set("x-edge-replay-body", `omitted: ${result.bodyBytes} bytes is over the stored limit`);
    return new Response(null, { status: result.status, headers });
  }
  const bytes = Uint8Array.from(atob(result.body), (c) => c.charCodeAt(0));
  return new Response(result.status === 204 || result.status === 304 ? null : bytes, { status: result.status, headers });
}

export function keyMissing(method: string, pattern: string): Response {
  return jsonError(400, `Idempotency-Key header is required on ${method} ${pattern}`, { spec: DRAFT, example: 'Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"' });
}

export function keyMalformed(reason: string): Response {
  return jsonError(400, `Idempotency-Key is malformed: ${reason}`, { spec: DRAFT });
}

export function dedupeKeyMissing(reason: string): Response {
  return jsonError(400, reason);
}

export function keyInFlight(): Response {
  return jsonError(409, "a request with this Idempotency-Key is still being processed; retry later", { spec: DRAFT }, { "retry-after": "1" });
}

export function keyReused(): Response {
  return jsonError(422, "this Idempotency-Key was already used with a different request (method, path, content type or body)", { spec: DRAFT });
}

export function tooLargeToQueue(bytes: number, limit: number, why: QueueReason): Response {
  return jsonError(
    503,
    `the write cannot be queued: its body (${bytes > 0 ? `over ${bytes}` : "declared over the limit"} bytes) is larger than WRITES.max_queued_body_bytes (${limit}), and ${QUEUE_REASONS[why]}; retry when the writer is back`,
    {},
    { "retry-after": "5" },
  );
}

/** The ledger or the queue could not take the write: nothing was accepted, so the client must retry (same key). */
export function notAccepted(detail: string): Response {
  return jsonError(503, `the write was not accepted: ${detail}; nothing was stored, retry with the same Idempotency-Key`, {}, { "retry-after": "1" });
}
