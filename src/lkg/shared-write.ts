/**
 * When a copy is worth writing to a shared tier (Cache API, KV). Memory already holds the newest
 * copy; a shared tier only needs one that is new in content or about to be too old to serve.
 *
 * - Changed content (another digest) is written at most once per `minIntervalMs` per key.
 * - Unchanged content is rewritten once the written copy reaches a random point between half and
 *   three quarters of the age cap, so a copy in the shared tier always has a quarter to a half of
 *   its 30 s left, and isolates that wrote the same key together drift apart instead of
 *   rewriting it in step.
 * - A failed write backs that key off: a rate limit (KV's 429: another isolate wrote the key within
 *   the second, so the tier already has a fresh copy) for a share of the age cap, doubling; any
 *   other error for 1 s, doubling up to the age cap.
 */
export type SharedDecision = "write" | "unchanged" | "throttled" | "backoff";

interface Written {
  digest: string;
  writtenAt: number;
  rewriteAt: number;
  backoffUntil: number;
  backoffMs: number;
}

const ERROR_BACKOFF_MS = 1000;

export class SharedWriteRule {
  private readonly written = new Map<string, Written>();
  private readonly minIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly random: () => number;
  private readonly maxKeys: number;

  constructor(minIntervalMs: number, maxAgeMs: number, random: () => number = Math.random, maxKeys = 20_000) {
    this.minIntervalMs = minIntervalMs;
    this.maxAgeMs = maxAgeMs;
    this.random = random;
    this.maxKeys = maxKeys;
  }

  decide(key: string, digest: string, now: number): SharedDecision {
    const w = this.written.get(key);
    if (!w) return "write";
    if (now < w.backoffUntil) return "backoff";
    if (now - w.writtenAt < this.minIntervalMs) return "throttled";
    if (w.digest !== digest) return "write";
    return now >= w.rewriteAt ? "write" : "unchanged";
  }

  /** Booked before the write starts, so a second capture of the key meanwhile does not write it again. */
  begin(key: string, digest: string, storedAt: number, now: number): void {
    const previous = this.written.get(key);
    if (previous) this.written.delete(key);
    else if (this.written.size >= this.maxKeys) this.evictOldest();
    const rewriteAfter = this.maxAgeMs * (0.5 + 0.25 * this.random());
    this.written.set(key, { digest, writtenAt: now, rewriteAt: storedAt + rewriteAfter, backoffUntil: 0, backoffMs: previous?.backoffMs ?? 0 });
  }

  succeeded(key: string): void {
    const w = this.written.get(key);
    if (w) w.backoffMs = 0;
  }

  failed(key: string, now: number, rateLimited: boolean): void {
    const w = this.written.get(key);
    if (!w) return;
    const base = rateLimited ? this.maxAgeMs * (0.25 + 0.25 * this.random()) : ERROR_BACKOFF_MS;
    w.backoffMs = Math.min(Math.max(this.maxAgeMs, ERROR_BACKOFF_MS), w.backoffMs > 0 ? w.backoffMs * 2 : base);
    w.backoffUntil = now + w.backoffMs;
    // Not known to be in the tier: once the backoff ends, the next capture writes whatever it has.
    w.digest = "";
  }

  private evictOldest(): void {
    const oldest = this.written.keys().next();
    if (!oldest.done) this.written.delete(oldest.value);
  }
}

/** KV answers a second write of a key within the second with 429; the runtime's message carries it. */
export function isRateLimited(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${(err as { status?: number | string }).status ?? ""}` : String(err);
  return /\b429\b|too many requests/i.test(text);
}

/**
 * At most `perSecond` writes to one shared tier from this isolate, in bursts of up to a second's
 * worth: a token bucket. It bounds what one isolate can cost (KV bills per write) and spreads the
 * bursts a healthy store would otherwise make at once, when many keys come into demand together
 * (a fresh isolate) or all need a rewrite together (the first minute after an outage healed).
 * A capture refused here writes nothing and books nothing: the key's next capture tries again.
 */
export class WriteBudget {
  private tokens: number;
  private updatedAt: number | undefined;
  private readonly perSecond: number;

  constructor(perSecond: number) {
    this.perSecond = perSecond;
    this.tokens = perSecond;
  }

  take(now: number): boolean {
    if (this.updatedAt !== undefined) this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.updatedAt) * this.perSecond) / 1000);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
