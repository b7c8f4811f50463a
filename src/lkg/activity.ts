/**
 * What this isolate knows about each stored key on the healthy path: when it last captured an
 * answer (so a hot key is captured about once per refresh interval, not on every request), how
 * often the key is asked for (so only keys in demand are written to the shared tiers), and whether
 * a copy of it was stored here (so only new keys count against the new-key budget).
 */

/** The window over which requests for a key are counted to decide whether it is shared. */
export const SHARED_WINDOW_MS = 10_000;

interface KeyState {
  /** When a capture of this key was last begun here (-Infinity: never, or released). */
  claimedAt: number;
  windowStart: number;
  /** Requests in the current window and in the one before it. */
  count: number;
  previous: number;
  /** A capture of this key was stored in some tier by this isolate. */
  stored: boolean;
}

export class KeyActivity {
  private readonly keys = new Map<string, KeyState>();
  private readonly refreshMs: number;
  /** Bounded, so a stream of unique URLs costs memory only up to here. */
  private readonly maxKeys: number;

  constructor(refreshMs: number, maxKeys = 20_000) {
    this.refreshMs = refreshMs;
    this.maxKeys = maxKeys;
  }

  /**
   * Counts one storable answer for `key`. True when it should be captured: no capture of this key
   * began here within the refresh interval. The capture is then booked; `release` undoes that
   * when the capture came to nothing (a truncated body), so the next answer tries again.
   */
  claim(key: string, now: number): boolean {
    let s = this.keys.get(key);
    if (!s) {
      if (this.keys.size >= this.maxKeys) this.evictOldest();
      s = { claimedAt: Number.NEGATIVE_INFINITY, windowStart: now, count: 0, previous: 0, stored: false };
      this.keys.set(key, s);
    }
    const elapsed = now - s.windowStart;
    if (elapsed >= SHARED_WINDOW_MS) {
      s.previous = elapsed >= 2 * SHARED_WINDOW_MS ? 0 : s.count;
      s.count = 0;
      s.windowStart = now;
    }
    s.count++;
    if (now - s.claimedAt < this.refreshMs) return false;
    s.claimedAt = now;
    // Re-inserted at most once per refresh interval: Map order then approximates least recently
    // captured first, so eviction drops cold keys before hot ones.
    this.keys.delete(key);
    this.keys.set(key, s);
    return true;
  }

  release(key: string): void {
    const s = this.keys.get(key);
    if (s) s.claimedAt = Number.NEGATIVE_INFINITY;
  }

  /** Whether a copy of `key` was stored here (forgotten when the key is evicted from this record). */
  isStored(key: string): boolean {
    return this.keys.get(key)?.stored === true;
  }

  markStored(key: string): void {
    const s = this.keys.get(key);
    if (s) s.stored = true;
  }

  /** Requests for `key` counted in the current window or the previous one, whichever is more. */
  demand(key: string): number {
    const s = this.keys.get(key);
    return s ? Math.max(s.count, s.previous) : 0;
  }

  get size(): number {
    return this.keys.size;
  }

  private evictOldest(): void {
    const oldest = this.keys.keys().next();
    if (!oldest.done) this.keys.delete(oldest.value);
  }
}
