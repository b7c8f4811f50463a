/** Last-known-good store: memory first, then this PoP's Cache API, then KV; the freshest usable copy wins. */
import type { LkgTier } from "../config.ts";
import { acceptsEncoding } from "../scrub/encoding.ts";
import type { CacheTier } from "./cache-tier.ts";
import { contentDigest } from "./digest.ts";
import type { LkgEntry, TierName } from "./entry.ts";
import type { KvTier } from "./kv-tier.ts";
import type { MemoryTier } from "./memory.ts";
import { isRateLimited, SharedWriteRule, type WriteBudget } from "./shared-write.ts";

export type LookupResult =
  | { found: true; entry: LkgEntry; tier: TierName; ageMs: number }
  /** `expiredAgeMs` is the age of the best copy that was too old, when there was one. */
  | { found: false; expiredAgeMs: number | undefined };

export interface LkgCounters {
  lookups: number;
  hits: Record<TierName, number>;
  misses: number;
  expired: number;
  /** Fresh copies passed over because they are still encoded in a way the client does not accept. */
  notAcceptable: number;
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
    notAcceptable: 0,
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

export interface SharedRules {
  cache: SharedWriteRule;
  kv: SharedWriteRule;
  budgets: { cache: WriteBudget; kv: WriteBudget };
  /** Headers left out of the content digest (request ids, timestamps). */
  volatileHeaders: readonly string[];
}

export class LkgStore {
  private readonly tiers: StoreTiers;
  private readonly rules: SharedRules;
  readonly counters: LkgCounters;

  constructor(tiers: StoreTiers, counters: LkgCounters, rules: SharedRules) {
    this.tiers = tiers;
    this.counters = counters;
    this.rules = rules;
  }

  static enabledTiers(tiers: StoreTiers, wanted: readonly LkgTier[]): StoreTiers {
    return {
      memory: wanted.includes("memory") ? tiers.memory : undefined,
      cache: wanted.includes("cache") ? tiers.cache : undefined,
      kv: wanted.includes("kv") ? tiers.kv : undefined,
    };
  }

  /**
   * Only called on the failure path: a healthy request never reads any tier. `acceptEncoding` is
   * the client's own: a copy still encoded in a way it does not accept is no copy for it.
   */
  async lookup(key: string, now: number, maxAgeMs: number, acceptEncoding: string | null): Promise<LookupResult> {
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
        if (!servable(entry, acceptEncoding)) {
          this.counters.notAcceptable++;
          continue;
        }
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

  /**
   * Runs in waitUntil. Memory always takes the copy; the shared tiers only when `shared` (the key
   * is in demand here) and their rule says they need it (new content, or theirs about to age out),
   * and never a copy whose header bytes only the runtime's Headers object holds: they would come
   * back from a string changed. Returns the tiers that now hold the copy.
   */
  async save(entry: LkgEntry, now: number, shared: boolean): Promise<TierName[]> {
    const saved: TierName[] = [];
    if (this.tiers.memory?.put(entry)) {
      this.counters.stores.memory++;
      saved.push("memory");
    }
    const { cache, kv } = this.tiers;
    if (!cache && !kv) return saved;
    if (entry.nativeHeaders) {
      if (cache) this.skip("cache-header-bytes");
      if (kv) this.skip("kv-header-bytes");
      return saved;
    }
    if (!shared) {
      this.skip("not-in-demand");
      return saved;
    }
    const digest = await contentDigest(entry, this.rules.volatileHeaders);
    const writes: Promise<void>[] = [];
    if (cache) writes.push(this.write("cache", this.rules.cache, (e) => cache.put(e), entry, digest, now, saved));
    if (kv) writes.push(this.write("kv", this.rules.kv, (e) => kv.put(e), entry, digest, now, saved));
    await Promise.all(writes);
    return saved;
  }

  private async write(
    tier: "cache" | "kv",
    rule: SharedWriteRule,
    put: (entry: LkgEntry) => Promise<void>,
    entry: LkgEntry,
    digest: string,
    now: number,
    saved: TierName[],
  ): Promise<void> {
    const decision = rule.decide(entry.key, digest, now);
    if (decision !== "write") {
      this.skip(`${tier}-${decision}`);
      return;
    }
    if (!this.rules.budgets[tier].take(now)) {
      this.skip(`${tier}-budget`);
      return;
    }
    rule.begin(entry.key, digest, entry.storedAt, now);
    try {
      await put(entry);
      rule.succeeded(entry.key);
      this.counters.stores[tier]++;
      saved.push(tier);
    } catch (err) {
      // Most often KV's 429 for a key another isolate wrote within the second.
      this.counters.errors[tier]++;
      rule.failed(entry.key, now, isRateLimited(err));
    }
  }

  /** The KV tier follows the env's binding, which is only known per request. */
  setKv(kv: KvTier | undefined): void {
    this.tiers.kv = kv;
  }

  skip(reason: string): void {
    this.counters.storeSkipped[reason] = (this.counters.storeSkipped[reason] ?? 0) + 1;
  }

  /**
   * The memory tier's copy of `key` if it could answer this client now (no older than `maxAgeMs`,
   * an encoding it accepts), synchronously: the shared tiers are not asked, that would be I/O
   * before the origin. `take`: it is served, so it is counted and kept as recently used.
   */
  memoryCopy(key: string, now: number, maxAgeMs: number, acceptEncoding: string | null, take: boolean): { entry: LkgEntry; ageMs: number } | undefined {
    const memory = this.tiers.memory;
    const entry = take ? memory?.get(key) : memory?.peek(key);
    if (!entry) return undefined;
    const ageMs = Math.max(0, now - entry.storedAt);
    if (ageMs > maxAgeMs || !servable(entry, acceptEncoding)) return undefined;
    if (take) {
      this.counters.lookups++;
      this.counters.hits.memory++;
    }
    return { entry, ageMs };
  }

  /** Whether the memory tier holds a copy of `key` (the shared tiers are not asked: that would be I/O). */
  holds(key: string): boolean {
    return this.tiers.memory?.has(key) === true;
  }

  /** Whether a copy whose header bytes only the runtime's Headers object holds has a tier to go to. */
  keepsNativeHeaders(): boolean {
    return this.tiers.memory !== undefined;
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

/** Whether the client can read the copy: it carries no Content-Encoding, or one the client accepts. */
function servable(entry: LkgEntry, acceptEncoding: string | null): boolean {
  for (const [name, value] of entry.headers) if (name === "content-encoding") return acceptsEncoding(acceptEncoding, value);
  return true;
}
