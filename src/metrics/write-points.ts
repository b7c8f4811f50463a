/**
 * The write path's own data points (the README's metrics schema documents the same columns):
 * - write (blob1 = "write", index1 = the writer region): one per thing the queue consumer did
 *   with one queued write or webhook event,
 * - backlog (blob1 = "backlog", index1 = "writes"): the fleet's backlog of queued writes, as the
 *   backlog object counted it, so the dashboard shows it draining (or not) over time.
 */

export const WRITE_EVENT = "write";
export const BACKLOG_EVENT = "backlog";
/** index1 of every backlog point: one backlog for the fleet, not one per region. */
export const BACKLOG_INDEX = "writes";

export type WriteAction =
  /** The writer answered with a final answer (not 502/503/504, a connect failure or a timeout): stored, acked. */
  | "delivered"
  /** The ledger already had this key's result (a redelivered message): acked, nothing sent. */
  | "duplicate_dropped"
  /** Not delivered this time (writer failed, frozen, promoting, another delivery holds the claim): retried later. */
  | "retry"
  /** Out of retries: moved to the dead letter queue, kept in full until replayed. */
  | "dead_lettered"
  /** An operator re-enqueued a dead letter (POST /__edge/admin/writes/dead/replay). */
  | "replayed_dead";

export interface WriteRecord {
  action: WriteAction;
  /** The region the write was sent to (the writer under `epoch`), "" when none was tried. */
  region: string;
  /** The writer lease's epoch the consumer read for this batch (0 when none was read). */
  epoch: number;
  kind: "write" | "webhook";
  /** Ms from enqueuedAt to this action: how long the write waited in the queue. */
  queueDelayMs: number;
  /** Delivery attempts so far, this one included (the ledger's count). */
  attempt: number;
  /** The writer's status for this attempt (0 when it was not reached or nothing was sent). */
  status: number;
}

export function writePoint(w: WriteRecord): AnalyticsEngineDataPoint {
  return {
    indexes: [w.region],
    blobs: [
      WRITE_EVENT, // blob1
      w.action, // blob2
      w.kind, // blob3
    ],
    doubles: [
      w.queueDelayMs, // double1
      w.attempt, // double2
      w.status, // double3
      w.epoch, // double4
    ],
  };
}

export interface BacklogRecord {
  /** Queued writes not yet delivered or dead-lettered. */
  length: number;
  /** Age in ms of the oldest of them (0 when there are none). */
  oldestAgeMs: number;
  /** Dead letters kept, waiting for a replay. */
  dead: number;
}

export function backlogPoint(b: BacklogRecord): AnalyticsEngineDataPoint {
  return {
    indexes: [BACKLOG_INDEX],
    blobs: [
      BACKLOG_EVENT, // blob1
    ],
    doubles: [
      b.length, // double1
      b.oldestAgeMs, // double2
      b.dead, // double3
    ],
  };
}
