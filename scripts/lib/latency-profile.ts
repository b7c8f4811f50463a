/**
 * An origin's network distance as a drill models it: a log-normal delay given by its median and
 * its p99, the right-skewed shape round trips to a real origin have (most answers near the median,
 * a tail of slower ones). A loopback origin answers in 1-2 ms, which makes every latency budget
 * (25 % of a baseline, a 50 ms p99) smaller than a 2-core machine's own noise; an origin 10-100 ms
 * away is what an edge sees.
 */
export interface LatencyProfile {
  medianMs: number;
  p99Ms: number;
}

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263;
/** No draw beyond this many times the p99: a tail, not a hang (a hang is a fault the plan names). */
const TAIL_CAP = 3;

/** One delay in ms from `profile`, with `random` giving uniform numbers in [0, 1). */
export function sampleDelay(profile: LatencyProfile, random: () => number = Math.random): number {
  if (profile.medianMs <= 0) return 0;
  const sigma = Math.log(profile.p99Ms / profile.medianMs) / Z99;
  // Box-Muller: a standard normal draw from two uniform ones (1 - u keeps the log finite).
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.min(profile.medianMs * Math.exp(sigma * z), TAIL_CAP * profile.p99Ms);
}

/** What is wrong with a profile, each problem named with its field; empty when it is usable. */
export function profileProblems(at: string, raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [`${at} must be {medianMs, p99Ms}, got ${JSON.stringify(raw)}`];
  const p = raw as Record<string, unknown>;
  const problems: string[] = [];
  const median = p["medianMs"];
  const p99 = p["p99Ms"];
  if (!(typeof median === "number" && median >= 0 && median <= 2000)) problems.push(`${at}.medianMs must be 0..2000 ms, got ${JSON.stringify(median)}`);
  if (!(typeof p99 === "number" && p99 <= 5000 && typeof median === "number" && p99 >= median)) problems.push(`${at}.p99Ms must be from medianMs to 5000 ms, got ${JSON.stringify(p99)}`);
  for (const k of Object.keys(p)) if (k !== "medianMs" && k !== "p99Ms") problems.push(`${at}.${k} is not a profile field (medianMs, p99Ms)`);
  return problems;
}
