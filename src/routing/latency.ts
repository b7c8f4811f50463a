/** latency mode: a smoothed answer time per region, and which region leads, with hysteresis so two close regions never swap on a blip. */

/** An exponentially weighted moving average of one region's answer times (ms). */
export class LatencyEwma {
  /** Undefined until the first sample. */
  value: number | undefined = undefined;
  private readonly alpha: number;

  /** `alpha`: the weight of the newest sample (ROUTING.latency.alpha). */
  constructor(alpha: number) {
    this.alpha = alpha;
  }

  observe(ms: number): number {
    this.value = this.value === undefined ? ms : this.value + this.alpha * (ms - this.value);
    return this.value;
  }
}

/** How much faster a challenger must be: by `ratio` of the incumbent's average and by at least `minMs`. */
export interface SwitchMargin {
  ratio: number;
  /** An absolute floor: two regions 2 ms apart differ by 20 % on noise alone, and must not swap. */
  minMs: number;
}

/**
 * The leader after this moment: the incumbent stays unless it is unusable (then the fastest usable
 * region, at once) or a challenger's average is below (1 - ratio) x the incumbent's, and more than
 * `minMs` below it, and `hysteresisMs` have passed since the last change. `ewmas` in ORIGINS order (ties and a fleet
 * with no samples yet go to the first). Undefined only when no region is usable and none led.
 */
export function nextLeader(
  current: string | undefined,
  ewmas: ReadonlyMap<string, number | undefined>,
  usable: ReadonlySet<string>,
  margin: SwitchMargin,
  lastChangeAt: number,
  now: number,
  hysteresisMs: number,
): string | undefined {
  let best: string | undefined;
  let bestMs = Infinity;
  let firstUsable: string | undefined;
  for (const [name, ms] of ewmas) {
    if (!usable.has(name)) continue;
    firstUsable ??= name;
    if (ms !== undefined && ms < bestMs) {
      best = name;
      bestMs = ms;
    }
  }
  if (current === undefined || !usable.has(current)) return best ?? firstUsable ?? current;
  if (best === undefined || best === current) return current;
  const incumbentMs = ewmas.get(current);
  // No samples of the incumbent yet: nothing says the challenger is faster.
  if (incumbentMs === undefined) return current;
  if (bestMs < incumbentMs * (1 - margin.ratio) && incumbentMs - bestMs > margin.minMs && now - lastChangeAt >= hysteresisMs) return best;
  return current;
}
