/**
 * The idempotency ledger, sharded by key: LEDGER_SHARDS SQLite-backed Durable Objects
 * (`idFromName(ledgerShard(scopedKey))`), each holding the records of its keys, one row per scoped
 * key. Few objects stay warm (a write's ledger call finds its object running, where one object per
 * key would create one per write), and each handles about 1,000 calls a second, so the fleet's
 * ledger handles about LEDGER_SHARDS x 1,000 writes a second. Every method loads the key's row,
 * applies ledger-state.ts and saves, synchronously: two calls for one key never interleave (one
 * object, one thread, input gates).
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

/** How many objects the ledger is spread over. Fixed: a key must always find its record's shard (changing it forgets every key). */
export const LEDGER_SHARDS = 64;

/** The shard's object name for a scoped key (its first 32 bits, modulo LEDGER_SHARDS). */
export function ledgerShard(record: string): string {
  return `ledger-${parseInt(record.slice(0, 8), 16) % LEDGER_SHARDS}`;
}

/** A scoped key as scopedKey() makes it: 64 hex characters. */
const RECORD_KEY = /^[0-9a-f]{64}$/;

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
  /** The alarm as set (undefined: none), so a commit sets it only when the earliest expiry moved. */
  private alarmAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, record TEXT NOT NULL, secret TEXT NOT NULL, expires_at INTEGER)");
      ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS records_by_secret ON records (secret)");
      ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires_at)");
      this.alarmAt = (await ctx.storage.getAlarm()) ?? undefined;
    });
  }

  private load(key: string): LedgerRecord | undefined {
    const row = this.ctx.storage.sql.exec<Row>("SELECT record FROM records WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.record) as LedgerRecord) : undefined;
  }

  /**
   * The request path's first call for a write: new (go ahead), or what the key already holds.
   * `statusSecret` from newStatusSecret(). A malformed input is answered, not thrown (a thrown RPC
   * error is also an unhandled rejection in the object): it changes nothing.
   */
  begin(record: string, input: BeginInput & { statusSecret: string }): BeginResult | Invalid {
    const problem = recordProblem(record) ?? beginProblem(input);
    if (problem) return { kind: "invalid", problem: `WriteLedger.begin: ${problem}` };
    const statusId = `${this.ctx.id.toString()}.${input.statusSecret}`;
    return this.commit(
      record,
      begin(
        this.load(record),
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
  markQueued(record: string, why: QueueReason): QueueAnswer {
    return this.commit(record, queue(this.load(record), why));
  }

  complete(record: string, result: StoredResult): SettleAnswer {
    return this.commit(record, complete(this.load(record), storable(result), this.clock.now()));
  }

  release(record: string): ReleaseAnswer {
    return this.commit(record, release(this.load(record)));
  }

  claim(record: string, token: string, leaseMs: number): ClaimAnswer | Invalid {
    if (typeof token !== "string" || token === "" || !Number.isInteger(leaseMs) || leaseMs <= 0 || recordProblem(record))
      return { kind: "invalid", problem: `WriteLedger.claim: needs a scoped key, a token and a positive integer leaseMs, got ${JSON.stringify([record, token, leaseMs])}` };
    return this.commit(record, claim(this.load(record), token, leaseMs, this.clock.now()));
  }

  /**
   * `token` names the delivery for the contract's symmetry with claim; a final answer is recorded
   * whoever holds the claim now (ledger-state.ts delivered).
   */
  delivered(record: string, _token: string, result: StoredResult): SettleAnswer {
    return this.commit(record, delivered(this.load(record), storable(result), this.clock.now()));
  }

  unclaim(record: string, token: string, reason: string): UnclaimAnswer {
    return this.commit(record, unclaim(this.load(record), token, reason));
  }

  deadLettered(record: string, reason: string): DeadLetterAnswer {
    return this.commit(record, deadLettered(this.load(record), reason, this.clock.now()));
  }

  /** The status resource; undefined unless the secret matches (compared in constant time), so a wrong id and a gone key look alike. */
  status(secret: string): WriteStatus | undefined {
    if (!isStatusSecret(secret)) return undefined;
    const row = this.ctx.storage.sql.exec<Row>("SELECT record FROM records WHERE secret = ?", secret).toArray()[0];
    const record = row ? (JSON.parse(row.record) as LedgerRecord) : undefined;
    if (!record) return undefined;
    const expected = record.statusId.slice(record.statusId.indexOf(".") + 1);
    const encoder = new TextEncoder();
    // Both are 22 characters of base64url (isStatusSecret, and begin checked the stored one).
    if (!crypto.subtle.timingSafeEqual(encoder.encode(secret), encoder.encode(expected))) return undefined;
    return statusOf(record, this.clock.now());
  }

  /** Forgets the keys that have expired. Alarms run at least once: a repeated or early one deletes nothing it should not. */
  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", this.clock.now());
    this.alarmAt = undefined;
    this.scheduleExpiry();
  }

  private commit<A>(key: string, step: Step<A>): A {
    if (step.next === undefined) return step.answer;
    if (step.next === null) {
      this.ctx.storage.sql.exec("DELETE FROM records WHERE key = ?", key);
      return step.answer;
    }
    const secret = step.next.statusId.slice(step.next.statusId.indexOf(".") + 1);
    const deadline = expiresAt(step.next) ?? null;
    this.ctx.storage.sql.exec(
      "INSERT INTO records (key, record, secret, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET record = excluded.record, secret = excluded.secret, expires_at = excluded.expires_at",
      key,
      JSON.stringify(step.next),
      secret,
      deadline,
    );
    if (deadline !== null && (this.alarmAt === undefined || deadline < this.alarmAt)) {
      this.alarmAt = deadline;
      // Not awaited: the output gate holds our reply until the alarm is durable.
      void this.ctx.storage.setAlarm(deadline);
    }
    return step.answer;
  }

  /** The alarm at the earliest expiry left (none when no record expires). */
  private scheduleExpiry(): void {
    const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM records").toArray()[0]?.at ?? null;
    if (next === null) return;
    this.alarmAt = next;
    void this.ctx.storage.setAlarm(next);
  }
}

/** One key's record in its shard: the ledger's calls with the scoped key bound, as the request path and the consumer make them. */
export function keyLedger(stub: DurableObjectStub<WriteLedger>, record: string) {
  return {
    begin: (input: BeginInput & { statusSecret: string }) => stub.begin(record, input),
    markQueued: (why: QueueReason) => stub.markQueued(record, why),
    complete: (result: StoredResult) => stub.complete(record, result),
    release: () => stub.release(record),
    claim: (token: string, leaseMs: number) => stub.claim(record, token, leaseMs),
    delivered: (token: string, result: StoredResult) => stub.delivered(record, token, result),
    unclaim: (token: string, reason: string) => stub.unclaim(record, token, reason),
    deadLettered: (reason: string) => stub.deadLettered(record, reason),
  };
}

export type KeyLedger = ReturnType<typeof keyLedger>;

function recordProblem(record: string): string | undefined {
  return typeof record === "string" && RECORD_KEY.test(record) ? undefined : "the scoped key must be 64 hex characters (scopedKey())";
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
