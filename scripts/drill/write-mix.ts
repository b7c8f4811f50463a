/**
 * The write mix of a plan (issue 11): new writes with a unique Idempotency-Key each, client
 * retries of a recent key (the same payload, or a changed one the worker must refuse 422), and
 * webhook events `{event_id, rev, ...}` with sender retries of a recent event. Deterministic for
 * a given random source; keys carry a per-run nonce so a run's keys never meet another run's
 * (the calibration's, say) in an origin's store.
 */
import type { RequestSpec } from "./load.ts";
import type { WriteMix } from "./types.ts";

export const WRITE_DEFAULTS = { path: "/api/orders", retryShare: 0.1, changedShare: 0.3, webhookPath: "/hooks/payments", webhookRetryShare: 0.2 };
/** Retries pick among the last this many sends (a client retrying soon after, as clients do). */
const RECENT = 64;

interface SentWrite {
  key: string;
  qty: number;
  user: string;
  headers: Record<string, string>;
}

interface SentEvent {
  id: string;
  rev: number;
  amount: number;
}

export class WriteMaker {
  private readonly mix: Required<WriteMix>;
  private writes: SentWrite[] = [];
  private events: SentEvent[] = [];
  /** The latest revision sent of each event id, so a revision is always a new one. */
  private readonly revs = new Map<string, number>();
  private writeSeq = 0;
  private eventSeq = 0;

  private readonly random: () => number;
  private readonly nonce: string;

  constructor(mix: WriteMix, random: () => number, nonce: string) {
    this.mix = { ...WRITE_DEFAULTS, ...mix };
    this.random = random;
    this.nonce = nonce;
  }

  /** A write or webhook send for this draw, or undefined when the draw is a read. `headers`/`user`: the caller's credentials. */
  next(headers: Record<string, string>, user: string): RequestSpec | undefined {
    const r = this.random();
    if (r < this.mix.share) return this.write(headers, user);
    if (r < this.mix.share + this.mix.webhookShare) return this.webhook();
    return undefined;
  }

  private write(headers: Record<string, string>, user: string): RequestSpec {
    const { retryShare, changedShare } = this.mix;
    if (this.writes.length > 0 && this.random() < retryShare) {
      // The same client retries with its own credentials: another client's key is another key (scoped).
      const earlier = this.writes[Math.floor(this.random() * this.writes.length)]!;
      const changed = this.random() < changedShare;
      return this.writeSpec(earlier, changed ? earlier.qty + 1 : earlier.qty, true, changed);
    }
    const sent: SentWrite = { key: `${this.nonce}-w${this.writeSeq++}`, qty: 1 + Math.floor(this.random() * 9), user, headers };
    this.remember(this.writes, sent);
    return this.writeSpec(sent, sent.qty, false, false);
  }

  private writeSpec(w: SentWrite, qty: number, retry: boolean, changed: boolean): RequestSpec {
    return {
      method: "POST",
      path: this.mix.path,
      // The draft's sf-string form of the key.
      headers: { ...w.headers, "content-type": "application/json", "idempotency-key": `"${w.key}"` },
      body: JSON.stringify({ qty, ref: w.key }),
      key: `POST ${this.mix.path}`,
      user: w.user,
      write: { kind: "write", ref: w.key, retry, changed },
    };
  }

  private webhook(): RequestSpec {
    const { webhookRetryShare } = this.mix;
    let event: SentEvent;
    let retry = false;
    if (this.events.length > 0 && this.random() < webhookRetryShare) {
      event = this.events[Math.floor(this.random() * this.events.length)]!;
      retry = true;
    } else {
      // One new event in ten is a new revision of a recent one: another event, with a key of its own.
      const revise = this.events.length > 0 && this.random() < 0.1;
      const base = revise ? this.events[Math.floor(this.random() * this.events.length)]! : undefined;
      event = base ? { id: base.id, rev: this.revs.get(base.id)! + 1, amount: base.amount } : { id: `evt-${this.nonce}-${this.eventSeq++}`, rev: 1, amount: 100 + Math.floor(this.random() * 900) };
      this.revs.set(event.id, event.rev);
      this.remember(this.events, event);
    }
    return {
      method: "POST",
      path: this.mix.webhookPath,
      // The event also in a header, for a webhook rule that reads its dedupe key from one ("header:x-event-id").
      headers: { "content-type": "application/json", "x-event-id": `${event.id}:${event.rev}` },
      body: JSON.stringify({ event_id: event.id, rev: event.rev, type: "payment.succeeded", data: { amount: event.amount } }),
      key: `POST ${this.mix.webhookPath}`,
      user: "anonymous",
      write: { kind: "webhook", ref: `${event.id}:${event.rev}`, retry, changed: false },
    };
  }

  private remember<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > RECENT) list.shift();
  }
}
