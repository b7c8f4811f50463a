/**
 * The fleet's write backlog: one SQLite-backed Durable Object (`idFromName("fleet")`) that knows
 * which queued writes are still pending (for backlog length and oldest age) and keeps every dead
 * letter in full until an operator replays it.
 *
 * Limits, stated plainly: a Durable Object holds at most 10 GB (SQLite storage). A pending entry is
 * about 100 bytes; a dead letter is its message (at most the queued body limit, 100 KiB by default,
 * plus headers), so about 80,000 dead letters of the largest size fit. When storage is full the
 * write throws: the DLQ consumer does not ack and the Queues DLQ keeps the message (nothing is
 * dropped silently), and health shows the dead count and bytes. One object handles about 1,000
 * calls per second; the consumer settles a whole batch in one call.
 */
import { DurableObject } from "cloudflare:workers";
import { systemClock, type Clock } from "../clock.ts";
import type { Env } from "../env.ts";
import type { QueuedWrite } from "./types.ts";

export const WRITE_BACKLOG_NAME = "fleet";
/** How long a settled write is remembered, so a late add for it is ignored: far longer than any add can lag its send. */
export const SETTLED_MEMORY_MS = 60 * 60 * 1000;
/** Most dead letters one replay call hands out: a Queues sendBatch takes at most 100 messages and 256 KB. */
export const MAX_TAKE = 100;

export interface BacklogSnapshot {
  /** Writes queued and neither delivered nor dead. */
  length: number;
  /** When the oldest of them was queued (undefined: none). */
  oldestAt: number | undefined;
  /** Dead letters kept for replay. */
  dead: number;
  /** Their stored size, bytes (against the object's 10 GB). */
  deadBytes: number;
  oldestDeadAt: number | undefined;
}

/** A dead letter as kept: the message in full, why it died, when, and how often it has. */
export interface DeadLetter {
  message: QueuedWrite;
  reason: string;
  at: number;
  deaths: number;
}

interface PendingRow extends Record<string, SqlStorageValue> {
  n: number;
  oldest: number | null;
}
interface DeadCountRow extends Record<string, SqlStorageValue> {
  n: number;
  bytes: number | null;
  oldest: number | null;
}
interface DeadRow extends Record<string, SqlStorageValue> {
  message: string;
  body: ArrayBuffer | null;
  reason: string;
  at: number;
  deaths: number;
}

/** The message without its body, as JSON; the body goes in a BLOB column as it is. */
type StoredMessage = Omit<QueuedWrite, "body">;

export class WriteBacklog extends DurableObject<Env> {
  /** Replaced in tests to drive time without waiting. */
  clock: Clock = systemClock;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS pending (status_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS pending_at ON pending (at)");
    // Writes settled lately: an add that arrives after its write was delivered (the request path adds
    // in waitUntil, the consumer may be quicker) must not leave a pending entry that never settles.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS settled (status_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS settled_at ON settled (at)");
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS dead (status_id TEXT PRIMARY KEY, message TEXT NOT NULL, body BLOB, bytes INTEGER NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL, deaths INTEGER NOT NULL)",
    );
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS dead_at ON dead (at)");
  }

  /**
   * A write was queued at `at` (the request path, after the send succeeded). Idempotent: a second
   * add keeps the first time; an add for a write settled in the last SETTLED_MEMORY_MS adds nothing.
   */
  add(statusId: string, at: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO pending (status_id, at) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM settled WHERE status_id = ?1) ON CONFLICT (status_id) DO NOTHING",
      statusId,
      at,
    );
  }

  /** Writes delivered (or found delivered): no longer pending, and remembered a while (see add). Idempotent; one call per consumer batch. */
  settle(statusIds: string[]): void {
    const now = this.clock.now();
    this.ctx.storage.transactionSync(() => {
      for (const id of statusIds) {
        this.ctx.storage.sql.exec("DELETE FROM pending WHERE status_id = ?", id);
        this.ctx.storage.sql.exec("INSERT INTO settled (status_id, at) VALUES (?, ?) ON CONFLICT (status_id) DO UPDATE SET at = excluded.at", id, now);
      }
      this.ctx.storage.sql.exec("DELETE FROM settled WHERE at < ?", now - SETTLED_MEMORY_MS);
    });
  }

  /** A message ran out of retries (or could not be delivered at all): kept in full, no longer pending. A second death of the same write replaces it and counts. */
  dead(message: QueuedWrite, reason: string): void {
    const { body, ...rest } = message;
    const text = JSON.stringify(rest satisfies StoredMessage);
    const bytes = text.length + (body?.byteLength ?? 0);
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        `INSERT INTO dead (status_id, message, body, bytes, reason, at, deaths) VALUES (?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (status_id) DO UPDATE SET message = excluded.message, body = excluded.body, bytes = excluded.bytes,
           reason = excluded.reason, at = excluded.at, deaths = dead.deaths + 1`,
        message.statusId,
        text,
        body,
        bytes,
        reason.slice(0, 500),
        this.clock.now(),
      );
      this.ctx.storage.sql.exec("DELETE FROM pending WHERE status_id = ?", message.statusId);
    });
  }

  snapshot(): BacklogSnapshot {
    const pending = this.ctx.storage.sql.exec<PendingRow>("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM pending").one();
    const dead = this.ctx.storage.sql.exec<DeadCountRow>("SELECT COUNT(*) AS n, SUM(bytes) AS bytes, MIN(at) AS oldest FROM dead").one();
    return {
      length: pending.n,
      oldestAt: pending.oldest ?? undefined,
      dead: dead.n,
      deadBytes: dead.bytes ?? 0,
      oldestDeadAt: dead.oldest ?? undefined,
    };
  }

  /**
   * Up to `limit` dead letters, oldest first (or the one with `statusId`), NOT removed: the caller
   * re-enqueues them, then calls `replayed` with their ids. A replay that fails between the two
   * leaves them here, to be replayed again; a copy queued twice is delivered once (the ledger).
   */
  takeDead(limit: number, statusId?: string): DeadLetter[] {
    const n = Math.max(1, Math.min(MAX_TAKE, Math.floor(limit)));
    const rows =
      statusId === undefined
        ? this.ctx.storage.sql.exec<DeadRow>("SELECT message, body, reason, at, deaths FROM dead ORDER BY at, status_id LIMIT ?", n).toArray()
        : this.ctx.storage.sql.exec<DeadRow>("SELECT message, body, reason, at, deaths FROM dead WHERE status_id = ?", statusId).toArray();
    return rows.map((row) => ({
      message: { ...(JSON.parse(row.message) as StoredMessage), body: row.body } as QueuedWrite,
      reason: row.reason,
      at: row.at,
      deaths: row.deaths,
    }));
  }

  /** Dead letters re-enqueued: out of the dead list, pending again (from now). An id that was not dead changes nothing. Returns how many were dead. */
  replayed(statusIds: string[]): number {
    const now = this.clock.now();
    let moved = 0;
    this.ctx.storage.transactionSync(() => {
      for (const id of statusIds) {
        if (this.ctx.storage.sql.exec("DELETE FROM dead WHERE status_id = ? RETURNING status_id", id).toArray().length === 0) continue;
        moved++;
        this.ctx.storage.sql.exec("INSERT INTO pending (status_id, at) VALUES (?, ?) ON CONFLICT (status_id) DO NOTHING", id, now);
      }
    });
    return moved;
  }
}
