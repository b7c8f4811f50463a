/** L1: isolate memory, least recently used first out, bounded by bytes. */
import { entrySize, type LkgEntry } from "./entry.ts";

export class MemoryTier {
  private readonly entries = new Map<string, LkgEntry>();
  private bytes = 0;

  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get(key: string): LkgEntry | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      // Re-insert so Map order stays least-recently-used first.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** The copy of `key`, without touching its place in the eviction order. */
  peek(key: string): LkgEntry | undefined {
    return this.entries.get(key);
  }

  /** Whether a copy of `key` is held, without touching its place in the eviction order. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  put(entry: LkgEntry): boolean {
    const size = entrySize(entry);
    if (size > this.maxBytes) return false;
    const previous = this.entries.get(entry.key);
    if (previous && previous.storedAt > entry.storedAt) return false;
    if (previous) this.remove(entry.key, previous);
    this.entries.set(entry.key, entry);
    this.bytes += size;
    for (const [key, oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(key, oldest);
    }
    return true;
  }

  stats(): { entries: number; bytes: number; maxBytes: number } {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes };
  }

  private remove(key: string, entry: LkgEntry): void {
    this.entries.delete(key);
    this.bytes -= entrySize(entry);
  }
}
