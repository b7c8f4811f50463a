/**
 * Replays dead letters: back onto the write queue as they were, then out of the backlog's dead
 * list. The ledger lets a failed record be claimed again, and a copy queued twice (a replay cut
 * short between the send and the bookkeeping) is still delivered once.
 */
import type { DeadLetter } from "./backlog.ts";
import type { QueuedWrite } from "./types.ts";

export interface ReplayBacklog {
  takeDead(limit: number, statusId?: string): Promise<DeadLetter[]>;
  replayed(statusIds: string[]): Promise<number>;
}

/** Queues limits per sendBatch: 100 messages, 256 KB in all; chunks stay under both, with room for the framing. */
const CHUNK_MESSAGES = 100;
const CHUNK_BYTES = 200 * 1024;

export interface ReplayResult {
  replayed: string[];
}

/** All dead letters (at most `limit`, oldest first), or the one with `statusId`. A send that fails throws; what was sent before it is recorded. */
export async function replayDeadLetters(backlog: ReplayBacklog, queue: Pick<Queue<QueuedWrite>, "sendBatch">, options: { statusId?: string; limit?: number } = {}): Promise<ReplayResult> {
  const letters = await backlog.takeDead(options.limit ?? CHUNK_MESSAGES, options.statusId);
  const replayed: string[] = [];
  let chunk: QueuedWrite[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    // v8, as the request path sends them: the body is an ArrayBuffer.
    await queue.sendBatch(chunk.map((body) => ({ body, contentType: "v8" as const })));
    const ids = chunk.map((m) => m.statusId);
    await backlog.replayed(ids);
    replayed.push(...ids);
    chunk = [];
    bytes = 0;
  };
  for (const { message } of letters) {
    const size = messageBytes(message);
    if (chunk.length === CHUNK_MESSAGES || (chunk.length > 0 && bytes + size > CHUNK_BYTES)) await flush();
    chunk.push(message);
    bytes += size;
  }
  await flush();
  return { replayed };
}

/** About what the message weighs on the queue: the body plus the rest as text. */
function messageBytes(message: QueuedWrite): number {
  const { body, ...rest } = message;
  return (body?.byteLength ?? 0) + JSON.stringify(rest).length;
}
