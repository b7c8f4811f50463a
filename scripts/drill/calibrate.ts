/**
 * Before its plan, a drill measures how much healthy load this machine carries with the plan's
 * mix: the bare pass-through worker and ours, both with the drill's instrumentation, each on a
 * short ladder of rates. The plan then runs at its own rate, or lower when ours could not carry
 * that with headroom, so a drill on a slow or busy machine measures the fallback, not queueing.
 * Machines of one kind differ about 4x in speed; nothing here is tuned to one of them.
 */
import { percentile, runLoad, type RequestSpec } from "./load.ts";
import type { TargetResult } from "./types.ts";

/** The plan runs at no more than this share of what ours sustained. */
export const HEADROOM = 0.6;
/** Below this ours is too slow for any drill to mean something. */
export const MIN_DRILL_RATE = 50;
/** Ours must sustain at least this share of the bare worker's rate, in the same run. */
export const MIN_OURS_VS_BARE = 0.8;
const RUNG_S = 3;
/** Each rung's first second (new connections, the rate ramping in) is run but not judged. */
const RUNG_LEAD_S = 1;
const WARMUP_S = 2;
/** Halvings of the last octave after the doubling climb: rates to within 1/8 of an octave. */
const REFINE_STEPS = 3;

export interface Rung {
  rate: number;
  p50: number;
  p95: number;
  p99: number;
  late: number;
  unsent: number;
  failed: number;
  sustained: boolean;
}

export interface Ladder {
  /** Highest rate sustained (0: not even the lowest rung), capped at `cap`. */
  sustained: number;
  rungs: Rung[];
}

export interface Calibration {
  /** The plan's highest phase rate, and the one the drill used (every phase scaled alike). */
  planRate: number;
  rateUsed: number;
  /** Why rateUsed is what it is, in one sentence. */
  reason: string;
  /** "calibrated", "forced" (--rate) or "too-slow" (ours missed the lowest rate: run at it, see machineTarget). */
  mode: "calibrated" | "forced" | "too-slow";
  /** Ladders climb no higher than this: the plan's rate with headroom. */
  cap: number;
  bare?: Ladder;
  ours?: Ladder;
  /** When the ladders said ours < MIN_OURS_VS_BARE x bare: the paired re-measurement that decides it. */
  recheck?: Recheck;
  durationS: number;
}

/**
 * The two ladders run one after the other, so a burst of CPU steal during one of them (this kind
 * of machine has it: the bare worker fell from 334 to 94 req/s between two runs a minute apart)
 * would decide the ratio. The recheck runs ours at MIN_OURS_VS_BARE x what bare sustained, and
 * when ours misses it, bare at the same rate right after as the control: a machine that cannot
 * carry even the bare worker at a rate it carried before cannot judge ours.
 */
export interface Recheck {
  rate: number;
  attempts: { ours: Rung; bare?: Rung }[];
  /** pass: ours sustained the rate once; fail: ours missed it while bare, right after, held it; inconclusive: bare missed it each time too. */
  outcome: "pass" | "fail" | "inconclusive";
}

const RECHECK_ATTEMPTS = 3;

/**
 * Sustained: p95 under 50 ms, under 1 % of sends late, none unsent, every answer a 2xx-4xx.
 * The p95, not the p99: a rung measures capacity, and a worker past its capacity queues, which
 * lifts the p95 with the rest; one V8 major GC pause (60-200 ms, every few thousand requests)
 * lifts only the tail, and would make a 3 s rung look past capacity at any rate. The drill's own
 * targets still judge the p99 of the run.
 */
export async function measureRung(url: string, rate: number, makeRequest: (seq: number) => RequestSpec): Promise<Rung> {
  const run = await runLoad({ baseUrl: url, phases: [{ rate, durationS: RUNG_LEAD_S + RUNG_S }], makeRequest, timeoutMs: 5000 });
  const judged = run.results.filter((r) => r.intendedAt >= RUNG_LEAD_S * 1000);
  const sent = judged.filter((r) => r.error !== "unsent");
  const late = sent.filter((r) => r.sendDelayMs > 5).length;
  const unsent = judged.length - sent.length;
  const failed = sent.filter((r) => r.status === 0 || r.status >= 500).length;
  const p95 = percentile(judged, 95);
  return {
    rate,
    p50: +percentile(judged, 50).toFixed(2),
    p95: +p95.toFixed(2),
    p99: +percentile(judged, 99).toFixed(2),
    late,
    unsent,
    failed,
    sustained: p95 < 50 && late < 0.01 * judged.length && unsent === 0 && failed === 0,
  };
}

/** One rung as the terminal shows it, for the ladders and the recheck alike. */
function rungLine(who: string, rate: string, r: Rung): string {
  return `${who} ${rate}: p50 ${r.p50} ms, p95 ${r.p95} ms, p99 ${r.p99} ms, late ${r.late}, failed ${r.failed} -> ${r.sustained ? "sustained" : "NOT sustained"}`;
}

/**
 * Doubling from MIN_DRILL_RATE until a rung fails or the cap is reached, then bisecting the last
 * octave. A rung that fails ends the climb: past capacity a worker queues, and queueing only grows.
 */
export async function climb(url: string, cap: number, makeRequest: (seq: number) => RequestSpec, log: (line: string) => void, label: string): Promise<Ladder> {
  // A fresh workerd compiles its code on the first requests; that is start-up, not capacity.
  await runLoad({ baseUrl: url, phases: [{ rate: MIN_DRILL_RATE, durationS: WARMUP_S }], makeRequest, timeoutMs: 5000 });
  const rungs: Rung[] = [];
  const once = async (rate: number, again: boolean) => {
    const r = await measureRung(url, rate, makeRequest);
    rungs.push(r);
    log(rungLine(`calibrate ${label.padEnd(4)}`, `${String(rate).padStart(5)} req/s${again ? " (again)" : ""}`, r));
    return r.sustained;
  };
  // While doubling, a rate is given up only when it fails twice: one scheduling hiccup or GC
  // pause on a machine with steal time must not halve the drill's rate. While bisecting, one
  // hiccup costs at most an eighth of an octave, and rungs above capacity are the norm: once.
  const tryRate = async (rate: number, retry: boolean) => (await once(rate, false)) || (retry && (await once(rate, true)));
  let good = 0;
  let bad = 0;
  for (let rate = MIN_DRILL_RATE; ; rate = Math.min(cap, rate * 2)) {
    if (!(await tryRate(rate, true))) {
      bad = rate;
      break;
    }
    good = rate;
    if (rate >= cap) return { sustained: cap, rungs };
  }
  for (let i = 0; i < REFINE_STEPS && good > 0 && bad - good > 5; i++) {
    const mid = Math.round((good + bad) / 2);
    if (await tryRate(mid, false)) good = mid;
    else bad = mid;
  }
  return { sustained: good, rungs };
}

/**
 * Noise on this kind of machine only ever lowers a sustained rate (a worker past its capacity
 * queues, and no luck makes a queue look short for three seconds), so one sustained rung of ours
 * at the rate is the answer, and a miss counts only when the control held that rate.
 */
export async function recheckOursVsBare(
  urls: { ours: string; bare: string },
  bareSustained: number,
  cap: number,
  measure: (url: string, rate: number) => Promise<Rung>,
  log: (line: string) => void,
): Promise<Recheck> {
  const rate = Math.min(cap, Math.ceil(MIN_OURS_VS_BARE * bareSustained));
  const attempts: Recheck["attempts"] = [];
  const logRung = (label: string, r: Rung, n: number) => log(rungLine(`recheck ${label.padEnd(4)}`, `${String(rate).padStart(5)} req/s (${n} of ${RECHECK_ATTEMPTS})`, r));
  for (let n = 1; n <= RECHECK_ATTEMPTS; n++) {
    const ours = await measure(urls.ours, rate);
    logRung("ours", ours, n);
    if (ours.sustained) {
      attempts.push({ ours });
      return { rate, attempts, outcome: "pass" };
    }
    const bare = await measure(urls.bare, rate);
    logRung("bare", bare, n);
    attempts.push({ ours, bare });
  }
  return { rate, attempts, outcome: attempts.some((a) => a.bare?.sustained) ? "fail" : "inconclusive" };
}

/** Whether the ladders alone settle ours >= MIN_OURS_VS_BARE x bare (no recheck needed). */
export function laddersSettleRatio(ours: Ladder, bare: Ladder, cap: number): boolean {
  return ours.sustained >= cap || ours.sustained >= MIN_OURS_VS_BARE * bare.sustained;
}

/**
 * The rate to drill at, from what ours sustained. Whole tens, never above the plan's rate. A
 * machine where ours sustained less than MIN_DRILL_RATE still runs the plan, at that rate: every
 * correctness target is judged in every run, and `machineTarget` says what the shortfall means.
 */
export function chooseRate(planRate: number, oursSustained: number): { rateUsed: number; mode: Calibration["mode"]; reason: string } {
  if (oursSustained < MIN_DRILL_RATE) {
    return {
      rateUsed: Math.min(planRate, MIN_DRILL_RATE),
      mode: "too-slow",
      reason: `our worker did not sustain even ${MIN_DRILL_RATE} req/s of healthy load (p95 < 50 ms, sends on time) on this machine: the plan runs at ${Math.min(planRate, MIN_DRILL_RATE)} req/s so its correctness targets are judged; its latency targets cannot tell a fallback from queueing`,
    };
  }
  const affordable = Math.floor((HEADROOM * oursSustained) / 10) * 10;
  if (affordable >= planRate) {
    return { rateUsed: planRate, mode: "calibrated", reason: `the plan's rate: our worker sustained ${oursSustained} req/s here, and ${HEADROOM * 100} % of that covers ${planRate}` };
  }
  return {
    rateUsed: Math.max(MIN_DRILL_RATE, affordable),
    mode: "calibrated",
    reason: `lowered from the plan's ${planRate} req/s: our worker sustained ${oursSustained} req/s of healthy load on this machine, and a drill runs at no more than ${HEADROOM * 100} % of that so it measures the fallback, not queueing`,
  };
}

/**
 * A machine where ours could not carry the lowest rate: our failure when the bare worker carried
 * it in the same run (the product is what is slow), else the machine's, which leaves the run's
 * latency targets unverified and its correctness targets standing.
 */
export function machineTarget(c: Calibration): TargetResult | undefined {
  if (c.mode !== "too-slow") return undefined;
  const bare = c.bare?.sustained ?? 0;
  const base = { name: `ours sustains the lowest drill rate (${MIN_DRILL_RATE} req/s)`, target: `>= ${MIN_DRILL_RATE} req/s of healthy load, p95 < 50 ms, sends on time`, pass: false };
  if (bare >= MIN_DRILL_RATE) return { ...base, measured: `ours ${c.ours?.sustained ?? 0} req/s while the bare worker sustained ${bare} req/s in the same run: our worker is too slow` };
  return { ...base, measured: `ours ${c.ours?.sustained ?? 0} req/s, and the bare worker ${bare} req/s too: this machine is too slow to time a drill`, disturbs: true };
}

/** The calibration's own target: our worker may not be much slower than the bare one, however fast the machine. */
export function oursVsBareTarget(c: Calibration): TargetResult | undefined {
  if (!c.bare || !c.ours) return undefined;
  const capped = c.ours.sustained >= c.cap;
  const ratio = c.bare.sustained > 0 ? c.ours.sustained / c.bare.sustained : 0;
  const ladders = capped
    ? `both reached the ladder's top (${c.cap} req/s, the plan's rate with headroom): ours ${c.ours.sustained}, bare ${c.bare.sustained} req/s`
    : `ours ${c.ours.sustained} req/s, bare ${c.bare.sustained} req/s (${ratio.toFixed(2)} x)`;
  const base = { name: "ours sustains >= 0.8 x the bare worker's healthy rate", target: `>= ${MIN_OURS_VS_BARE} x, same run, both with the drill's instrumentation`, latency: true };
  const r = c.recheck;
  if (!r) return { ...base, measured: ladders, pass: capped || ratio >= MIN_OURS_VS_BARE };
  const tries = r.attempts.map((a) => `ours ${a.ours.sustained ? "held" : "missed"}${a.bare ? `, bare ${a.bare.sustained ? "held" : "missed"}` : ""}`).join("; ");
  const said = {
    pass: `ours held ${r.rate} req/s on the recheck`,
    fail: `ours missed ${r.rate} req/s ${r.attempts.length} times while bare, right after, held it`,
    inconclusive: `not judged: bare missed ${r.rate} req/s too, each time (this machine could not keep a rate it carried a minute before)`,
  }[r.outcome];
  return {
    ...base,
    measured: `ladders: ${ladders}; recheck at ${r.rate} req/s (${tries}): ${said}`,
    pass: r.outcome === "pass",
    ...(r.outcome === "inconclusive" ? { inconclusive: true } : {}),
  };
}
