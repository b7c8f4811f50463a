/**
 * The idempotency ledger: one SQLite-backed Durable Object per scoped key (`idFromName(scopedKey)`),
 * holding that key's one record. It loads, applies ledger-state.ts and saves; every method is
 * synchronous, so two calls for one key never interleave (one object, one thread, input gates).
 */
import { DurableObject } from "cloudflare:workers";
import { systemClock, type Clock } from "../clock.ts";
import type { Env } from "../env.ts";
import { isStatusSecret, MAX_KEY_LENGTH } from "./idempotency.ts";
import {
  begin,
  claim,
  complete,
  deadLettered,
  delivered,
  expiresAt,
  queue,
  release,
  statusOf,
  unclaim,
  type BeginInput,
  type BeginResult,
  type ClaimAnswer,
  type DeadLetterAnswer,
  type LedgerRecord,
  type QueueAnswer,
  type ReleaseAnswer,
  type SettleAnswer,
  type Step,
  type UnclaimAnswer,
} from "./ledger-state.ts";
import type { QueueReason, StoredResult, WriteStatus } from "./types.ts";

interface Row extends Record<string, SqlStorageValue> {
  record: string;
}

/** A call the object refused without changing anything: a caller's bug, named. */
export interface Invalid {
  kind: "invalid";
  problem: string;
}

const FINGERPRINT = /^[0-9a-f]{64}$/;
/** Response headers a replay must never hand out again: a session issued to the first request is that request's. */
const NEVER_STORED = new Set(["set-cookie", "set-cookie2"]);

export class WriteLedger extends DurableObject<Env> {
  /** Replaced in tests to drive time without waiting. */
  clock: Clock = systemClock;
  private current: LedgerRecord | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Nothing is answered before the row is read: a fresh instance never answers "new" over a saved record.
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL)");
      const row = ctx.storage.sql.exec<Row>("SELECT record FROM ledger WHERE id = 1").toArray()[0];
      if (row) this.current = JSON.parse(row.record) as LedgerRecord;
    });
  }

  /**
   * The request path's first call for a write: new (go ahead), or what the key already holds.
   * `statusSecret` from newStatusSecret(). A malformed input is answered, not thrown (a thrown RPC
   * error is also an unhandled rejection in the object): it changes nothing.
   */
  begin(input: BeginInput & { statusSecret: string }): BeginResult | Invalid {
    const problem = beginProblem(input);
    if (problem) return { kind: "invalid", problem: `WriteLedger.begin: ${problem}` };
    const statusId = `${this.ctx.id.toString()}.${input.statusSecret}`;
    return this.commit(
      begin(
        this.current,
        {
          key: input.key,
          fingerprint: input.fingerprint,
          kind: input.kind,
          plan: input.plan,
          why: input.why,
          lifetimeMs: input.lifetimeMs,
          deliveryTimeoutMs: input.deliveryTimeoutMs,
          statusId,
        },
        this.clock.now(),
      ),
    );
  }

  /**
   * The contract's `queue(why)`: not that name, which is the Workers queue-consumer handler's and so
   * never reachable over RPC ("The RPC receiver does not implement the method").
   */
  markQueued(why: QueueReason): QueueAnswer {
    return this.commit(queue(this.current, why));
  }

  complete(result: StoredResult): SettleAnswer {
    return this.commit(complete(this.current, storable(result), this.clock.now()));
  }

  release(): ReleaseAnswer {
    return this.commit(release(this.current));
  }

  claim(token: string, leaseMs: number): ClaimAnswer | Invalid {
    if (typeof token !== "string" || token === "" || !Number.isInteger(leaseMs) || leaseMs <= 0)
      return { kind: "invalid", problem: `WriteLedger.claim: needs a token and a positive integer leaseMs, got ${JSON.stringify([token, leaseMs])}` };
    return this.commit(claim(this.current, token, leaseMs, this.clock.now()));
  }

  /**
   * `token` names the delivery for the contract's symmetry with claim; a final answer is recorded
   * whoever holds the claim now (ledger-state.ts delivered).
   */
  delivered(_token: string, result: StoredResult): SettleAnswer {
    return this.commit(delivered(this.current, storable(result), this.clock.now()));
  }

  unclaim(token: string, reason: string): UnclaimAnswer {
    return this.commit(unclaim(this.current, token, reason));
  }

  deadLettered(reason: string): DeadLetterAnswer {
    return this.commit(deadLettered(this.current, reason, this.clock.now()));
  }

  /** The status resource; undefined unless the secret matches (compared in constant time), so a wrong id and a gone key look alike. */
  status(secret: string): WriteStatus | undefined {
    const record = this.current;
    if (!record || !isStatusSecret(secret)) return undefined;
    const expected = record.statusId.slice(record.statusId.indexOf(".") + 1);
    const encoder = new TextEncoder();
    // Both are 22 characters of base64url (isStatusSecret, and begin checked the stored one).
    if (!crypto.subtle.timingSafeEqual(encoder.encode(secret), encoder.encode(expected))) return undefined;
    return statusOf(record, this.clock.now());
  }

  /** Forgets the key once it has expired. Alarms run at least once: a repeated or early one deletes nothing it should not. */
  override async alarm(): Promise<void> {
    const record = this.current;
    if (!record) return;
    const deadline = expiresAt(record);
    if (deadline === undefined) return;
    if (this.clock.now() >= deadline) this.commit({ answer: undefined, next: null });
    else await this.ctx.storage.setAlarm(deadline);
  }

  private commit<A>(step: Step<A>): A {
    if (step.next === undefined) return step.answer;
    if (step.next === null) {
      this.current = undefined;
      this.ctx.storage.sql.exec("DELETE FROM ledger");
      // Not awaited: the output gate holds our reply until the change is durable.
      void this.ctx.storage.deleteAlarm();
      return step.answer;
    }
    this.current = step.next;
    this.ctx.storage.sql.exec(
      "INSERT INTO ledger (id, record) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
      JSON.stringify(step.next),
    );
    const deadline = expiresAt(step.next);
    void (deadline === undefined ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(deadline));
    return step.answer;
  }
}

function beginProblem(input: BeginInput & { statusSecret: string }): string | undefined {
  if (typeof input.key !== "string" || input.key === "" || input.key.length > MAX_KEY_LENGTH) return `key must be 1..${MAX_KEY_LENGTH} characters`;
  if (!FINGERPRINT.test(input.fingerprint)) return "fingerprint must be 64 hex characters (fingerprint())";
  if (input.kind !== "write" && input.kind !== "webhook") return `kind must be "write" or "webhook", got ${JSON.stringify(input.kind)}`;
  if (input.plan !== "pass" && input.plan !== "queue") return `plan must be "pass" or "queue", got ${JSON.stringify(input.plan)}`;
  if (input.plan === "queue" && input.why === undefined) return "a queued write needs its reason (why)";
  if (!isStatusSecret(input.statusSecret)) return "statusSecret must be 22 characters of base64url (newStatusSecret())";
  if (!Number.isInteger(input.lifetimeMs) || input.lifetimeMs <= 0) return `lifetimeMs must be a positive integer, got ${input.lifetimeMs}`;
  if (input.deliveryTimeoutMs !== undefined && (!Number.isInteger(input.deliveryTimeoutMs) || input.deliveryTimeoutMs <= 0))
    return `deliveryTimeoutMs must be a positive integer, got ${input.deliveryTimeoutMs}`;
  return undefined;
}

/** The answer as kept for replays: without Set-Cookie, whatever the caller passed (the caller strips it too). */
function storable(result: StoredResult): StoredResult {
  return { ...result, headers: result.headers.filter(([name]) => !NEVER_STORED.has(name.toLowerCase())) };
}
