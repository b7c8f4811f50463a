/** The choice: which regions a request tries, in order, and why. Pure, and on every request's path. */
import type { Choice, RegionInput, RoutingMode, RoutingPolicy, RoutingReason } from "./types.ts";

/**
 * Rank of a region in the order, best first. A new session goes only to an ACTIVE region; a
 * draining one keeps its sticky clients and is a failover candidate; an evacuated one is tried
 * last of all (its operator asked for no traffic), after the regions that are merely unusable.
 */
const ACTIVE = 0;
const DRAINING = 1;
const UNUSABLE = 2;
const EVACUATED = 3;

function tier(r: RegionInput): number {
  if (r.control.admin === "evacuated") return EVACUATED;
  if (!r.usable) return UNUSABLE;
  return r.control.admin === "draining" ? DRAINING : ACTIVE;
}

/** Weight after the dials, times 10^4 (ramp % x kept %): only ever compared, never divided. */
function dialled(r: RegionInput): number {
  return r.weight * r.rampPercent * (100 - r.control.shedPercent);
}

/** failover order: lower priority first, the home wins a tie, then ORIGINS order. */
function failoverBefore(a: RegionInput, b: RegionInput, ai: number, bi: number): boolean {
  if (a.priority !== b.priority) return a.priority < b.priority;
  if (a.home !== b.home) return a.home;
  return ai < bi;
}

/** The mode's preference between two regions of one tier. */
function before(mode: RoutingMode, leader: string | undefined, a: RegionInput, b: RegionInput, ai: number, bi: number): boolean {
  if (mode === "weighted") {
    const wa = dialled(a);
    const wb = dialled(b);
    if (wa !== wb) return wa > wb;
  } else if (mode === "latency") {
    if (a.name === leader || b.name === leader) return a.name === leader;
    const la = a.latencyMs;
    const lb = b.latencyMs;
    if (la !== lb) {
      if (la === undefined) return false;
      if (lb === undefined) return true;
      return la < lb;
    }
  }
  return failoverBefore(a, b, ai, bi);
}

const REASON: Record<RoutingMode, RoutingReason> = { weighted: "weighted", failover: "failover", latency: "latency" };

/** Reused between calls (choose is synchronous): sorting indices here allocates nothing. */
let scratch = new Int32Array(8);
let single: Choice | undefined;
const NONE: Choice = Object.freeze({ order: Object.freeze([]) as unknown as string[], reason: "no-usable-region", assign: undefined });

/**
 * `sticky`: the region of the client's valid assignment. `leader`: latency mode's current leader
 * (latency.ts). `random`: [0, 1), injected so shares can be proven with a seeded generator.
 * The returned Choice (and its order) must not be mutated: the single-region one is shared.
 */
export function choose(regions: readonly RegionInput[], policy: RoutingPolicy, sticky: string | undefined, leader: string | undefined, random: () => number): Choice {
  const n = regions.length;
  if (n === 0) return NONE;
  if (n === 1) return singleChoice(regions[0]!.name);

  if (scratch.length < n) scratch = new Int32Array(n * 2);
  const sorted = scratch;
  const mode = policy.mode;
  // Insertion sort by (tier, mode preference): a handful of regions, no comparator closure.
  for (let i = 0; i < n; i++) {
    const r = regions[i]!;
    const t = tier(r);
    let j = i - 1;
    while (j >= 0) {
      const o = regions[sorted[j]!]!;
      const ot = tier(o);
      if (ot < t || (ot === t && !before(mode, leader, r, o, i, sorted[j]!))) break;
      sorted[j + 1] = sorted[j]!;
      j--;
    }
    sorted[j + 1] = i;
  }

  let first: number;
  let reason: RoutingReason;
  const stuck = sticky === undefined ? -1 : indexOfName(regions, sticky);
  const bestTier = tier(regions[sorted[0]!]!);
  if (stuck >= 0 && regions[stuck]!.usable && regions[stuck]!.control.admin !== "evacuated") {
    // Sticky clients skip the shedding and ramp draws: a session stays where it started.
    first = stuck;
    reason = "sticky";
  } else if (bestTier === ACTIVE) {
    reason = REASON[mode];
    first = mode === "weighted" ? drawByWeight(regions, sorted, n, -1, random, false) : sorted[0]!;
    const r = regions[first]!;
    const shed = r.control.shedPercent / 100;
    const away = 1 - (1 - shed) * (r.rampPercent / 100);
    if (away > 0) {
      // The second draw: this region keeps exactly (1 - shed) x ramp of the share it would have.
      const u = random();
      if (u < away) {
        const other = mode === "weighted" ? drawByWeight(regions, sorted, n, first, random, true) : nextActive(regions, sorted, n, first);
        if (other >= 0) {
          first = other;
          reason = u < shed ? "shed" : "ramp";
        }
      }
    }
  } else {
    // Only draining, unusable or evacuated regions: the best of them, so a draining region still
    // answers, and otherwise the attempt (breaker open: rejected) leads to the stored copy.
    first = sorted[0]!;
    reason = bestTier === DRAINING ? REASON[mode] : "no-usable-region";
  }

  const order: string[] = Array.from({ length: n });
  order[0] = regions[first]!.name;
  for (let i = 0, k = 1; i < n; i++) if (sorted[i] !== first) order[k++] = regions[sorted[i]!]!.name;

  // A new assignment only for a session an active region takes on, and only when it changes.
  const firstRegion = regions[first]!;
  const assign = policy.stickMs > 0 && firstRegion.name !== sticky && firstRegion.usable && firstRegion.control.admin === "active" ? firstRegion.name : undefined;
  return { order, reason, assign };
}

function singleChoice(name: string): Choice {
  if (single === undefined || single.order[0] !== name) {
    single = Object.freeze({ order: Object.freeze([name]) as unknown as string[], reason: "single", assign: undefined });
  }
  return single;
}

function indexOfName(regions: readonly RegionInput[], name: string): number {
  for (let i = 0; i < regions.length; i++) if (regions[i]!.name === name) return i;
  return -1;
}

/** The first active region in preference order other than `skip`, or -1. */
function nextActive(regions: readonly RegionInput[], sorted: Int32Array, n: number, skip: number): number {
  for (let i = 0; i < n; i++) {
    const idx = sorted[i]!;
    if (idx === skip) continue;
    return tier(regions[idx]!) === ACTIVE ? idx : -1;
  }
  return -1;
}

/**
 * One active region drawn by configured weight (`dials`: by weight after ramp and shedding, the
 * re-pick among the others, so a second region's own dials still hold). All weights 0: the first
 * in preference order. -1 when no active region other than `skip` exists.
 */
function drawByWeight(regions: readonly RegionInput[], sorted: Int32Array, n: number, skip: number, random: () => number, dials: boolean): number {
  let total = 0;
  let fallback = -1;
  for (let i = 0; i < n; i++) {
    const idx = sorted[i]!;
    const r = regions[idx]!;
    if (tier(r) !== ACTIVE) break;
    if (idx === skip) continue;
    if (fallback < 0) fallback = idx;
    total += dials ? dialled(r) : r.weight;
  }
  if (fallback < 0) return -1;
  if (total <= 0) return dials ? drawByWeight(regions, sorted, n, skip, random, false) : fallback;
  let u = random() * total;
  let last = fallback;
  for (let i = 0; i < n; i++) {
    const idx = sorted[i]!;
    const r = regions[idx]!;
    if (tier(r) !== ACTIVE) break;
    if (idx === skip) continue;
    const w = dials ? dialled(r) : r.weight;
    if (w <= 0) continue;
    if (u < w) return idx;
    u -= w;
    last = idx;
  }
  return last;
}
