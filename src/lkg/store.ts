/** Last-known-good store: memory first, then this PoP's Cache API, then KV; the freshest usable copy wins. */
import type { LkgTier } from "../config.ts";
import type { CacheTier } from "./cache-tier.ts";
import type { LkgEntry, TierName } from "./entry.ts";
import type { KvTier } from "./kv-tier.ts";
import type { MemoryTier } from "./memory.ts";

export type LookupResult =
  | { found: true; entry: LkgEntry; tier: TierName; ageMs: number }
  /** `expiredAgeMs` is the age of the best copy that was too old, when there was one. */
  | { found: false; expiredAgeMs: number | undefined };

export interface LkgCounters {
  lookups: number;
  hits: Record<TierName, number>;
  misses: number;
  expired: number;
  stores: Record<TierName, number>;
  storeSkipped: Record<string, number>;
  errors: Record<TierName, number>;
}

export function newCounters(): LkgCounters {
  return {
    lookups: 0,
    hits: { memory: 0, cache: 0, kv: 0 },
    misses: 0,
    expired: 0,
    stores: { memory: 0, cache: 0, kv: 0 },
    storeSkipped: {},
    errors: { memory: 0, cache: 0, kv: 0 },
  };
}

export interface StoreTiers {
  memory: MemoryTier | undefined;
  cache: CacheTier | undefined;
  kv: KvTier | undefined;
}

export class LkgStore {
  private readonly tiers: StoreTiers;
  readonly counters: LkgCounters;

  constructor(tiers: StoreTiers, counters: LkgCounters) {
    this.tiers = tiers;
    this.counters = counters;
  }

  static enabledTiers(tiers: StoreTiers, wanted: readonly LkgTier[]): StoreTiers {
    return {
      memory: wanted.includes("memory") ? tiers.memory : undefined,
      cache: wanted.includes("cache") ? tiers.cache : undefined,
      kv: wanted.includes("kv") ? tiers.kv : undefined,
    };
  }

  /** Only called on the failure path: a healthy request never reads any tier. */
  async lookup(key: string, now: number, maxAgeMs: number): Promise<LookupResult> {
    this.counters.lookups++;
    let expiredAgeMs: number | undefined;
    for (const tier of ["memory", "cache", "kv"] as const) {
      let entry: LkgEntry | undefined;
      try {
        entry = await this.read(tier, key);
      } catch {
        // A broken tier is a miss in that tier, never a failed answer.
        this.counters.errors[tier]++;
        continue;
      }
      if (!entry) continue;
      const ageMs = Math.max(0, now - entry.storedAt);
      if (ageMs <= maxAgeMs) {
        this.counters.hits[tier]++;
        if (tier !== "memory") this.tiers.memory?.put(entry);
        return { found: true, entry, tier, ageMs };
      }
      expiredAgeMs = expiredAgeMs === undefined ? ageMs : Math.min(expiredAgeMs, ageMs);
    }
    if (expiredAgeMs === undefined) this.counters.misses++;
    else this.counters.expired++;
    return { found: false, expiredAgeMs };
  }

  /** Runs in waitUntil. Returns the tiers that now hold the copy. */
  async save(entry: LkgEntry, now: number): Promise<TierName[]> {
    const saved: TierName[] = [];
    if (this.tiers.memory?.put(entry)) {
      this.counters.stores.memory++;
      saved.push("memory");
    }
    const writes: Promise<void>[] = [];
    const { cache, kv } = this.tiers;
    if (cache) {
      writes.push(
        cache.put(entry, now).then(
          (written) => {
            if (!written) return this.skip("cache-throttled");
            this.counters.stores.cache++;
            saved.push("cache");
          },
          () => {
            this.counters.errors.cache++;
          },
        ),
      );
    }
    if (kv) {
      writes.push(
        kv.put(entry, now).then(
          (written) => {
            if (!written) return this.skip("kv-throttled");
            this.counters.stores.kv++;
            saved.push("kv");
          },
          () => {
            // Most often KV's 429 for a key written elsewhere within the second.
            this.counters.errors.kv++;
          },
        ),
      );
    }
    await Promise.all(writes);
    return saved;
  }

  /** The KV tier follows the env's binding, which is only known per request. */
  setKv(kv: KvTier | undefined): void {
    this.tiers.kv = kv;
  }

  skip(reason: string): void {
    this.counters.storeSkipped[reason] = (this.counters.storeSkipped[reason] ?? 0) + 1;
  }

  memoryStats(): ReturnType<MemoryTier["stats"]> | undefined {
    return this.tiers.memory?.stats();
  }

  private read(tier: TierName, key: string): Promise<LkgEntry | undefined> | LkgEntry | undefined {
    if (tier === "memory") return this.tiers.memory?.get(key);
    if (tier === "cache") return this.tiers.cache?.get(key);
    return this.tiers.kv?.get(key);
  }
}
