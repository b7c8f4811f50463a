/**
 * The two ways a new write leaves the edge: straight to the writer (with its epoch and key), or into
 * the queue with a 202. A pass-through the writer may not have seen is handed to the queue instead,
 * with the same key, so the client still gets an acknowledgement and the origin's dedupe decides.
 */
import { jsonError } from "../lkg/respond.ts";
import { healthyAnswer } from "../lkg/write.ts";
import { attempt, type Attempt } from "../origin/attempt.ts";
import type { OriginResult } from "../origin/client.ts";
import type { RequestContext } from "../request/context.ts";
import { withTimeout } from "../timeout.ts";
import { newAttempt } from "../request/record.ts";
import type { Region } from "../runtime.ts";
import { accepted, notAccepted, QUEUE_REASONS } from "./answers.ts";
import { toMessage, type WriteSecret } from "./message.ts";
import { backlogStub } from "./queue-handler.ts";
import { serializeIdempotencyKey } from "./idempotency.ts";
import { captureResult } from "./result.ts";
import { IDEMPOTENCY_KEY_HEADER, WRITE_EPOCH_HEADER, type QueueReason, type StoredResult } from "./types.ts";

export interface WriteAnswer {
  response: Response;
  /** The region whose breaker and metrics this request belongs to: the writer. */
  region: Region;
}

/** The origin's answer, and what the ledger should make of it: a result to keep, or the key released (the origin failed on its own). */
export interface Passed extends WriteAnswer {
  settle?: Promise<StoredResult | "release">;
  /** Handed to the queue while still at the origin: its final late answer, if one comes (undefined: none, or not final). */
  late?: Promise<StoredResult | undefined>;
}

/** What a queued write needs besides the request itself. */
export interface Queueable {
  kind: "write" | "webhook";
  key: string;
  ledger: string;
  /** The scoped key: the record's row in its ledger shard. */
  record: string;
  statusId: string;
  body: ArrayBuffer | null;
  expiresAt: number;
}

/** The backlog count is bookkeeping: the 202 never waits longer than this for it. */
const BACKLOG_TIMEOUT_MS = 500;

type Unseen = (why: QueueReason) => Promise<WriteAnswer>;

/** 502, 503 and 504 say a gateway or a restart stood between us and the application: it may not have run the write. */
const UNCONFIRMED = new Set([502, 503, 504]);

export async function passThrough(x: RequestContext, writer: Region, epoch: number, body: ArrayBuffer | ReadableStream<Uint8Array> | null, key: string | undefined, unseen?: Unseen): Promise<Passed> {
  const headers = new Headers(x.request.headers);
  headers.set(WRITE_EPOCH_HEADER, String(epoch));
  if (key !== undefined) headers.set(IDEMPOTENCY_KEY_HEADER, serializeIdempotencyKey(key));
  const forwarded = new Request(x.request.url, { method: x.request.method, headers, body, redirect: "manual" });
  const wx: RequestContext = { ...x, request: forwarded };
  const trace = newAttempt(writer.origin.name);
  x.trace.attempts.push(trace);
  const first = await attempt(wx, writer, trace);
  // A write holds no copy, so it is never over the copy budget; if it were, it would wait all the same.
  let tried: Attempt = first.kind === "over-budget" ? await first.judging : first;
  // A slow write is still a write: wait for it (the breaker opening still ends the wait).
  if (tried.kind === "failed" && tried.inFlight?.wait) tried = await tried.inFlight.wait();

  if (tried.kind === "ok") {
    // "too-large" stays: it says why no dedupe applied.
    if (x.trace.write === "") x.trace.write = "passed";
    const response = healthyAnswer(wx, writer, tried.result, tried.answeredAt);
    if (key === undefined || response.body === null) {
      return { response, region: writer, settle: key === undefined ? undefined : captureResult(response.status, response.headers, null, limits(x), writer.origin.name, epoch, x.clock.now()) };
    }
    const [toClient, toLedger] = response.body.tee();
    const settle = captureResult(response.status, response.headers, toLedger, limits(x), writer.origin.name, epoch, x.clock.now());
    return { response: new Response(toClient, response), region: writer, settle };
  }
  if (tried.kind === "failed" && tried.response && !UNCONFIRMED.has(tried.response.response.status)) {
    // The origin ran it and failed (500 and the like): its answer goes to the client, and the key is free for the client's retry.
    if (x.trace.write === "") x.trace.write = "passed";
    const response = healthyAnswer(wx, writer, tried.response, x.clock.now());
    return { response, region: writer, settle: key === undefined ? undefined : Promise.resolve("release") };
  }
  let late: Promise<StoredResult | undefined> | undefined;
  if (tried.kind === "failed") {
    if (tried.response) await tried.response.response.body?.cancel();
    if (tried.inFlight) late = tried.inFlight.late.then((result) => lateResult(x, writer, epoch, result));
  }
  const why: QueueReason = tried.kind === "rejected" ? "writer-down" : tried.cause === "connection" ? "connect-failed" : "outcome-unknown";
  if (unseen) {
    const queued = await unseen(why);
    return late ? { ...queued, late } : queued;
  }
  // Nothing to settle without a key: the late answer is only read to its end.
  if (late) x.ctx.waitUntil(late);
  // Nothing to queue it with (no key, or a body too large to keep): a clear 503, never a hang.
  x.trace.outcome = "no_lkg";
  return { response: jsonError(503, `the write did not reach the writer region ${writer.origin.name}: ${QUEUE_REASONS[why]}; it was not queued (${key === undefined ? "it has no Idempotency-Key" : "its body is too large to queue"})`, {}, { "retry-after": "5" }), region: writer };
}

export async function enqueue(x: RequestContext, writer: Region, item: Queueable, why: QueueReason, release: () => Promise<void>): Promise<WriteAnswer> {
  const { env, runtime } = x;
  const now = x.clock.now();
  const secret = runtime.config.writeSecret as WriteSecret;
  const message = await toMessage(x.request, x.url, item.body, { kind: item.kind, ledger: item.ledger, record: item.record, key: item.key, statusId: item.statusId, why, enqueuedAt: now }, secret, runtime.config.scrub.sensitiveHeaders);
  const backlog = backlogStub(env);
  // Counted alongside the send, not before it: the backlog remembers settled ids, so a consumer that
  // settles the write first leaves no phantom entry; one round trip less before the 202.
  const counting = withTimeout(backlog.add(item.statusId, now), BACKLOG_TIMEOUT_MS, () => new Error("backlog object timeout")).catch(() => {
    // Bookkeeping: the write itself must not fail for it (the admin page then undercounts).
  });
  try {
    // v8 serialization, said outright: the body is an ArrayBuffer, which JSON (Miniflare's default here) turns into {}.
    await env.WRITE_QUEUE!.send(message, { contentType: "v8" });
  } catch (err) {
    // Released before the 503, so the client's retry with the same key is a new write, not a 202 for a message that does not exist.
    await Promise.allSettled([counting, release(), backlog.settle([item.statusId])]);
    x.trace.write = "";
    return { response: notAccepted(`the write queue refused it (${(err as Error).message})`), region: writer };
  }
  await counting;
  x.trace.write = "queued";
  return { response: accepted(item.statusId, why, item.expiresAt, false), region: writer };
}

function limits(x: RequestContext): { bytes: number; sensitive: readonly string[] } {
  return { bytes: x.runtime.config.writes!.maxStoredResultBytes, sensitive: x.runtime.config.scrub.sensitiveHeaders };
}

/** The writer's late answer to a write already handed to the queue: kept when final (the write happened), dropped otherwise. */
async function lateResult(x: RequestContext, writer: Region, epoch: number, late: OriginResult): Promise<StoredResult | undefined> {
  if (late.kind !== "response") return undefined;
  if (late.failure !== undefined && UNCONFIRMED.has(late.response.status)) {
    await late.response.body?.cancel();
    return undefined;
  }
  return captureResult(late.response.status, late.response.headers, late.body(false), limits(x), writer.origin.name, epoch, x.clock.now());
}
