/**
 * A request on a write or webhook route: its key, its body, the plan (pass to the writer, or queue),
 * the ledger's verdict on the key, then the writer's answer or a 202 with a status resource. Never
 * retried into a second region; a write the writer may not have seen is queued with the same key.
 */
import type { RequestContext } from "../request/context.ts";
import { withTimeout } from "../timeout.ts";
import type { Region } from "../runtime.ts";
import type { WriteOutcome } from "../metrics/schema.ts";
import { accepted, dedupeKeyMissing, duplicateEvent, keyInFlight, keyMalformed, keyMissing, keyReused, notAccepted, replay, tooLargeToQueue } from "./answers.ts";
import { readWriteBody } from "./body.ts";
import { webhookKey } from "./dedupe.ts";
import { enqueue, passThrough, type Queueable, type WriteAnswer } from "./pass-or-queue.ts";
import { credentialScope, fingerprint, newStatusSecret, parseIdempotencyKey, scopedKey } from "./idempotency.ts";
import { writePlan } from "./lease.ts";
import { keyLedger, ledgerShard, type Invalid, type KeyLedger } from "./ledger.ts";
import type { BeginResult } from "./ledger-state.ts";
import type { WriteRule } from "./match.ts";
import { IDEMPOTENCY_KEY_HEADER, type StoredResult, type WritePlan } from "./types.ts";

/** The longest a write waits for its ledger verdict: past it the write is not accepted (503), never hung. */
const LEDGER_TIMEOUT_MS = 2000;

/** The ledger's pass deadline beyond ORIGIN_TIMEOUT_MS: the answer's body is read (and kept) after the headers. */
const PASS_DEADLINE_MARGIN_MS = 5000;

export async function intake(x: RequestContext, rule: WriteRule): Promise<WriteAnswer> {
  const writes = x.runtime.config.writes!;
  const now = x.clock.now();
  x.trace.routingReason = "writer";
  const keeper = x.runtime.writer!;
  const { lease, readAt } = await keeper.current(now);
  const leased = x.runtime.regions.get(lease.region);
  // A lease naming a region this configuration does not have: nothing may pass; the queue holds it until the lease is sorted out.
  const writer = leased ?? x.runtime.regions.values().next().value!;
  const plan: WritePlan = rule.kind === "webhook" ? { kind: "queue", why: "webhook" } : leased === undefined ? { kind: "queue", why: "lease-unknown" } : writePlan(lease, readAt, now, keeper.usable(writer), writes.leaseTrustMs);

  // 1. The key: the client's Idempotency-Key, or the webhook's dedupe key (read from the body below).
  let key: string | undefined;
  if (rule.kind === "write") {
    const header = x.request.headers.get(IDEMPOTENCY_KEY_HEADER);
    if (header === null) {
      if (rule.route.idempotency === "required") return refused(x, writer, keyMissing(x.request.method, rule.route.pattern), "missing-key");
    } else {
      const parsed = parseIdempotencyKey(header);
      if (!parsed.ok) return refused(x, writer, keyMalformed(parsed.reason), "missing-key");
      key = parsed.key;
    }
  }

  // 2. The body, buffered up to what a queue message holds.
  const body = await readWriteBody(x.request, writes.maxQueuedBodyBytes);
  if (body.kind === "too-large") {
    if (plan.kind === "queue") {
      await body.stream.cancel();
      return refused(x, writer, tooLargeToQueue(body.readBytes, writes.maxQueuedBodyBytes, plan.why), "too-large");
    }
    // Too large to keep, so too large to dedupe: it passes through with its key, and the origin's own dedupe decides.
    x.trace.write = "too-large";
    return passThrough(x, writer, plan.epoch, body.stream, key);
  }
  if (rule.kind === "webhook") {
    const derived = await webhookKey(rule.route.dedupe, rule.route.dedupeText, x.request.headers, body.bytes);
    if (!derived.ok) return refused(x, writer, dedupeKeyMissing(derived.reason), "missing-key");
    key = derived.key;
  }
  if (key === undefined) {
    // An optional key not given: no dedupe is possible, so the write goes through as before (or is queued without one).
    return plan.kind === "pass" ? passThrough(x, writer, plan.epoch, body.bytes, undefined) : refused(x, writer, keyMissing(x.request.method, (rule.route as { pattern: string }).pattern), "missing-key");
  }

  // 3. The ledger's verdict on the key, under the caller's scope (webhooks: the route's).
  const ledgerNs = x.env.WRITE_LEDGER!;
  const scope = rule.kind === "webhook" ? `webhook:${rule.route.pattern}` : await credentialScope(x.request, x.runtime.config);
  const record = await scopedKey(rule.kind, scope, key);
  const objectId = ledgerNs.idFromName(ledgerShard(record));
  const ledger = keyLedger(ledgerNs.get(objectId), record);
  const statusSecret = newStatusSecret();
  // A webhook event is its key: a sender's retry with a reworded body is still the one event, acknowledged and not delivered again.
  const print = rule.kind === "webhook" ? await fingerprint("WEBHOOK", rule.route.pattern, "", new TextEncoder().encode(key).buffer as ArrayBuffer) : await fingerprint(x.request.method, x.url.pathname + x.url.search, x.request.headers.get("content-type") ?? "", body.bytes);
  let verdict: BeginResult | Invalid;
  try {
    // The pass deadline outlasts the origin's own (a retry before it gets 409, never a second copy in flight).
    const deliveryTimeoutMs = x.runtime.config.originTimeoutMs + PASS_DEADLINE_MARGIN_MS;
    const begun = ledger.begin({ key, fingerprint: print, kind: rule.kind, statusSecret, plan: plan.kind, why: plan.kind === "queue" ? plan.why : undefined, lifetimeMs: writes.keyLifetimeMs, deliveryTimeoutMs });
    verdict = await withTimeout(begun as Promise<BeginResult | Invalid>, LEDGER_TIMEOUT_MS, () => new Error(`no answer within ${LEDGER_TIMEOUT_MS} ms`));
  } catch (err) {
    return refused(x, writer, notAccepted(`the idempotency ledger is unreachable (${(err as Error).message})`), "");
  }
  switch (verdict.kind) {
    case "invalid":
      return refused(x, writer, notAccepted(`the ledger refused the record (${verdict.problem})`), "");
    case "mismatch":
      return refused(x, writer, keyReused(), "mismatch");
    case "in-flight":
      return refused(x, writer, keyInFlight(), "in-flight");
    case "queued":
      return answered(x, writer, accepted(verdict.statusId, plan.kind === "queue" ? plan.why : "outcome-unknown", now + writes.keyLifetimeMs, true), "replayed");
    case "done":
      // A webhook sender gets an acknowledgement, never the stored answer: its event id is no credential.
      if (rule.kind === "webhook") return answered(x, writer, duplicateEvent(), "replayed");
      return answered(x, writer, replay(verdict.result as StoredResult), "replayed");
    case "new":
      break;
  }

  // 4. New: queue it, or pass it to the writer and queue it if the writer may not have seen it.
  const item: Queueable = { kind: rule.kind, key, ledger: objectId.toString(), record, statusId: verdict.statusId, body: body.bytes, expiresAt: now + writes.keyLifetimeMs };
  const release = async (): Promise<void> => void (await ledger.release());
  if (plan.kind === "queue") return enqueue(x, writer, item, plan.why, release);
  // Planned before the body and the ledger call, which a slow client or object can stretch: plan
  // again on the lease as it is now, so no write leaves under an epoch a promotion has since drained.
  const again = await keeper.current(x.clock.now());
  const replanned = writePlan(again.lease, again.readAt, x.clock.now(), keeper.usable(x.runtime.regions.get(again.lease.region)), writes.leaseTrustMs);
  if (replanned.kind === "queue" || replanned.epoch !== plan.epoch || replanned.region !== plan.region) {
    const why = replanned.kind === "queue" ? replanned.why : "promoting";
    await ledger.markQueued(why);
    return enqueue(x, writer, item, why, release);
  }
  const passed = await passThrough(x, writer, plan.epoch, body.bytes, key, async (why) => {
    await ledger.markQueued(why);
    return enqueue(x, writer, item, why, release);
  });
  // The client has its answer; the ledger learns it in the background (a retry meanwhile gets 409, never a second write).
  if (passed.settle) x.ctx.waitUntil(settle(passed.settle, ledger).catch(() => undefined));
  // A pass-through handed to the queue may still be answered by the writer (the drain lets it land
  // before any new epoch): a final late answer settles the key, so the queue does not deliver it again.
  if (passed.late) x.ctx.waitUntil(settleLate(passed.late, ledger).catch(() => undefined));
  return passed;
}

async function settleLate(late: Promise<StoredResult | undefined>, ledger: KeyLedger): Promise<void> {
  const result = await late;
  if (result) await ledger.complete(result);
}

/** A final answer is kept for replays; an origin's own failure frees the key for the client's retry. */
async function settle(result: Promise<StoredResult | "release">, ledger: KeyLedger): Promise<void> {
  const r = await result;
  if (r === "release") await ledger.release();
  else await ledger.complete(r);
}

/** Answered at the edge without reaching the writer. */
function refused(x: RequestContext, writer: Region, response: Response, outcome: WriteOutcome): WriteAnswer {
  x.trace.write = outcome;
  if (response.status >= 500) x.trace.outcome = "no_lkg";
  else x.trace.outcome = response.status >= 400 ? "rejected" : "origin_ok";
  return { response, region: writer };
}

/** A key the ledger already knows: the stored result, or the same 202. */
function answered(x: RequestContext, writer: Region, response: Response, outcome: WriteOutcome): WriteAnswer {
  x.trace.write = outcome;
  return { response, region: writer };
}
