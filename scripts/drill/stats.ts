/** Small statistics shared by the drill's target checks. */

/** The p-th percentile (nearest rank) of `values`; 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const fmtMs = (ms: number): string => `${ms.toFixed(1)} ms`;

export const pct = (share: number, digits = 1): string => `${(100 * share).toFixed(digits)} %`;

/** xorshift32 from `seed`: numbers in [0, 1), cheap, and the same sequence every run. */
export function xorshift32(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

/** The largest of `values`, 0 for none (a loop: spreading a run's 40,000 answers into Math.max risks the stack). */
export function maxOf(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}
