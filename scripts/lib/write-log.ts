/**
 * The fake origin's write store, for the write drills (issue 11): it takes a write as a real
 * origin with Idempotency-Key support would (201 with a JSON body echoing the key; a key it has
 * seen before answers the stored answer again, and is not applied twice) and logs every write
 * that reaches it, the repeats included, so the drill can judge loss, duplicates and the one
 * writer per epoch against what the clients were told.
 */

/** One write that reached this origin. Times are epoch ms (the machine's clock, shared by every fake region). */
export interface WriteEntry {
  method: string;
  path: string;
  /** The Idempotency-Key it carried ("" when none). */
  key: string;
  /** x-edge-write-epoch as sent (null when absent or not a whole number; null survives JSON). */
  epoch: number | null;
  region: string;
  at: number;
  /** This origin had already applied a write with this key: it answered the stored answer and applied nothing. */
  seen: boolean;
  /** A webhook event's `event_id:rev` from its JSON body, when it has both (how the drill joins events to senders); else null. */
  event: string | null;
  /** The answer's status. */
  status: number;
}

export interface WriteAnswer {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

/** Requests with these methods are writes. */
export const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Kept bounded: a drill at 20,000 req/s for 300 s sends fewer writes than this. */
const MAX_ENTRIES = 500_000;

export class WriteLog {
  readonly entries: WriteEntry[] = [];
  private readonly applied = new Map<string, WriteAnswer>();
  private seq = 0;
  /** Entries dropped past MAX_ENTRIES: a drill must treat a log with drops as incomplete. */
  dropped = 0;

  private readonly region: string;

  constructor(region: string) {
    this.region = region;
  }

  /** Applies one write (or answers a repeated key's stored answer), and logs it. */
  take(method: string, path: string, headers: Record<string, string | string[] | undefined>, body: string, user: string, at = Date.now()): WriteAnswer {
    // The draft's sf-string form ("k") and a bare token name the same key.
    const key = one(headers["idempotency-key"]).replace(/^"(.*)"$/, "$1");
    const epochText = one(headers["x-edge-write-epoch"]);
    const epoch = /^\d{1,15}$/.test(epochText) ? Number(epochText) : null;
    const stored = key ? this.applied.get(key) : undefined;
    const answer: WriteAnswer = stored
      ? { ...stored, replayed: true }
      : { status: 201, body: { key, region: this.region, epoch, seq: ++this.seq, method, path, user }, replayed: false };
    if (key && !stored) this.applied.set(key, answer);
    const entry: WriteEntry = { method, path, key, epoch, region: this.region, at, seen: stored !== undefined, event: eventOf(body), status: answer.status };
    if (this.entries.length < MAX_ENTRIES) this.entries.push(entry);
    else this.dropped++;
    return answer;
  }

  /** Forgets every write (the drill's calibration sent its own before the plan's). */
  reset(): void {
    this.entries.length = 0;
    this.applied.clear();
    this.dropped = 0;
  }
}

function one(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

/** `event_id:rev` of a webhook body, else null. */
export function eventOf(body: string): string | null {
  if (!body.startsWith("{")) return null;
  try {
    const parsed = JSON.parse(body) as { event_id?: unknown; rev?: unknown };
    if ((typeof parsed.event_id === "string" || typeof parsed.event_id === "number") && (typeof parsed.rev === "string" || typeof parsed.rev === "number")) return `${parsed.event_id}:${parsed.rev}`;
  } catch {
    // Not JSON: no event.
  }
  return null;
}
