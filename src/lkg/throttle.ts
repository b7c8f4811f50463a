/**
 * At most one write per key per interval from this isolate. KV needs it (one write per second
 * per key, 429 beyond); the Cache API needs it because a hot key answered thousands of times a
 * second would otherwise be rewritten thousands of times a second, for a copy the memory tier
 * already holds and that is at most one interval staler in the shared tier.
 */
export class WriteThrottle {
  private readonly lastWrite = new Map<string, number>();
  private readonly intervalMs: number;
  /** Past this many keys, forget the ones whose interval has passed. */
  private readonly maxKeys: number;

  constructor(intervalMs: number, maxKeys = 10_000) {
    this.intervalMs = intervalMs;
    this.maxKeys = maxKeys;
  }

  /** True, and the write is booked, when the key may be written now. */
  claim(key: string, now: number): boolean {
    if (this.intervalMs <= 0) return true;
    const last = this.lastWrite.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.lastWrite.set(key, now);
    if (this.lastWrite.size > this.maxKeys) this.forgetExpired(now);
    return true;
  }

  private forgetExpired(now: number): void {
    for (const [key, at] of this.lastWrite) if (now - at >= this.intervalMs) this.lastWrite.delete(key);
  }
}
