/**
 * `npm run bench`: the same fixed-rate, open-loop load against
 * - `bare`: a bare pass-through worker (fetch(origin), nothing else);
 * - `ours-healthy`: our worker with a healthy origin, as deployed (memory, Cache API and KV tiers);
 * - `ours-healthy-memory`: the same with the memory tier only, which separates our code's cost from
 *   Miniflare's KV and Cache simulators;
 * - `ours-healthy-nostore`: the same storing nothing (memory tier, LKG_ROUTES=["/never"]), which
 *   separates the request machinery from the store;
 * - `ours-partitioned`: our worker with the origin blackholed and the breaker open (answers from
 *   the LKG store);
 * - `nginx-30s-partitioned`: nginx with proxy_cache_valid 200 30s under the same partition (a
 *   cache that does not ask a healthy origin, so it never notices the partition);
 * - `nginx-fair-partitioned`: nginx that asks its origin as our worker does (valid 1 s, stale on
 *   errors/timeouts/updating, background update, cache lock, timeouts = our ORIGIN_TIMEOUT_MS),
 *   same partition, measured for long enough that its copies expire during the partition.
 * Finds each one's highest sustained rate (p99 < 50 ms, < 1 % late, no unsent requests, no
 * failures) and the CPU each process used on the way, so the report can say which process was
 * the limit; then measures all of them at one common rate, alternating, in ROUNDS rounds, and
 * reports per target the server's CPU time per answered request (from /proc/<pid>/stat deltas),
 * p50/p99, failures, ratios measured in this run and the issue's goals (reported, never fatal).
 * Writes reports/bench-<time>/bench.json and bench.md. Loopback only, bounded in time.
 *
 * Env: BENCH_RATES (ladder, req/s), BENCH_STEP_S, BENCH_COMMON_STEP_S, BENCH_COMMON_RATE
 * (default: the highest ladder rate every target but nginx-fair-partitioned sustained),
 * BENCH_SKIP_NGINX=1.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startOrigins } from "../drill/run.ts";
import { procCpuMs } from "../lib/proc-cpu.ts";
import { DEFAULTS } from "../../src/config.ts";
import { checkNginx, NGINX_30S, NGINX_FAIR, nginxSummary, startNginx, type NginxProfile, type RunningNginx } from "./nginx.ts";
import { percentile, runLoad, type RequestSpec } from "../drill/load.ts";
import { startWorker, type RunningWorker } from "../drill/runtime.ts";
import type { RequestResult } from "../drill/types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const KEYS = 100;
const STEP_S = Number(process.env["BENCH_STEP_S"] ?? 4);
/** Longer than a ladder step: the ratios at the common rate are the bench's headline, and this machine is noisy. */
const COMMON_STEP_S = Number(process.env["BENCH_COMMON_STEP_S"] ?? 10);
// Seven rungs up to the goal rate (10,000 req/s): with seven targets, a longer ladder would push the run past 10 minutes.
const RATES = (process.env["BENCH_RATES"] ?? "250,500,1000,2000,4000,6000,10000").split(",").map(Number);
// Odd, so the median at the common rate is a measured value; this machine's noise needs more than one.
const ROUNDS = 3;
const ADMIN_TOKEN = "bench-admin-token-not-secret";
/**
 * nginx stores `valid_sec = now + 1` in whole seconds and counts a copy stale once `now >
 * valid_sec`, so a copy made 1 s valid expires 1 to 2 s after it was stored. The fair nginx's
 * steps last at least this long after warming so that every key's copy expires during the
 * partition, whatever BENCH_STEP_S says.
 */
const FAIR_MIN_STEP_S = 3;
/** The fair nginx's connect and read timeouts: our ORIGIN_TIMEOUT_MS default. */
const DEFAULTS_TIMEOUT_S = DEFAULTS.ORIGIN_TIMEOUT_MS / 1000;

type TargetName =
  | "bare"
  | "ours-healthy"
  | "ours-healthy-memory"
  | "ours-healthy-nostore"
  | "ours-partitioned"
  | "nginx-30s-partitioned"
  | "nginx-fair-partitioned";

/** Where a prepared target listens and which processes do its work. */
interface Endpoint {
  url: string;
  /** The server process(es), for CPU accounting. */
  pids: number[];
  /** Epoch ms when the first key was warmed (nginx targets): its copy is the first to expire. */
  warmedFromEpochMs?: number;
  /** ours-partitioned: keys without a stored copy once the breaker was open, per attempt. */
  missingCopies?: number[];
}

interface Target {
  name: TargetName;
  /** What it is, for the report. */
  what: string;
  /** Puts the target into the state to be measured (warm copies, origin cut off). */
  prepare(): Promise<Endpoint>;
  /** After each step (nginx: stopped, so each step starts from an empty cache). */
  finish?(): Promise<void>;
  /** Minimum step length in seconds. */
  minStepS?: number;
  /** Whether its highest sustained rate bounds the common rate. */
  boundsCommonRate: boolean;
}

interface Step {
  rate: number;
  durationS: number;
  /** CPU of each process during the step, in % of one core. */
  cpu?: Record<string, number>;
  /**
   * CPU time (utime + stime) the server process(es) used from the step's first send until they
   * were idle again after its last answer (see settleServer), ms; /proc counts 10 ms ticks.
   */
  serverCpuMs?: number;
  /** How long after the last answer the server kept working (deferred store writes), ms; its CPU is in serverCpuMs. */
  serverSettleMs?: number;
  /** serverCpuMs / answered, in microseconds. */
  serverCpuUsPerRequest?: number;
  /** Requests that got an HTTP answer (any status). */
  answered: number;
  achieved: number;
  p50: number;
  p99: number;
  late: number;
  unsent: number;
  failed: number;
  /** Answers by their Cache-Status header ("" when absent). */
  cacheStatus: Record<string, number>;
  /** nginx targets: ms from the first key's warm to the last scheduled send (the partition lasts this long after warming began). */
  partitionMsAfterWarm?: number;
  /** nginx targets: answers served from an expired copy (Cache-Status STALE, UPDATING or EXPIRED). */
  expiredAnswers?: number;
  /** Answers that took more than 1 s, by Cache-Status: which kind of answer makes a long tail. */
  over1sByCacheStatus: Record<string, number>;
  /** ours-partitioned: keys without a stored copy when the origin was cut off, per attempt (see partitionOurs). */
  missingCopiesAtCut?: number[];
  sustained: boolean;
}

const makeRequest = (seq: number): RequestSpec => {
  const key = `/bench/${seq % KEYS}`;
  return { method: "GET", path: key, headers: {}, key, user: "anonymous" };
};

async function measure(url: string, rate: number, durationS: number): Promise<Step & { startedAtEpochMs: number }> {
  const run = await runLoad({ baseUrl: url, phases: [{ rate, durationS }], makeRequest, timeoutMs: 10_000 });
  const results: RequestResult[] = run.results;
  const sent = results.filter((r) => r.error !== "unsent");
  const late = sent.filter((r) => r.sendDelayMs > 5).length;
  const unsent = results.length - sent.length;
  const failed = sent.filter((r) => r.status !== 200).length;
  const answered = sent.filter((r) => r.status > 0);
  const cacheStatus: Record<string, number> = {};
  const over1sByCacheStatus: Record<string, number> = {};
  for (const r of answered) {
    cacheStatus[r.cacheStatus] = (cacheStatus[r.cacheStatus] ?? 0) + 1;
    if (r.latencyMs > 1000) over1sByCacheStatus[r.cacheStatus] = (over1sByCacheStatus[r.cacheStatus] ?? 0) + 1;
  }
  const p99 = percentile(results, 99);
  const lastAnswer = Math.max(...sent.map((r) => r.intendedAt + r.latencyMs), 1);
  const achieved = answered.length / (lastAnswer / 1000);
  return {
    startedAtEpochMs: run.startedAtEpochMs,
    rate,
    durationS,
    answered: answered.length,
    achieved: Math.round(achieved),
    p50: +percentile(results, 50).toFixed(2),
    p99: +p99.toFixed(2),
    late,
    unsent,
    failed,
    cacheStatus,
    over1sByCacheStatus,
    sustained: p99 < 50 && late < 0.01 * results.length && unsent === 0 && failed === 0,
  };
}

/** CPU time (ms) of each group of processes; a process that ended adds nothing. */
function cpuMsOf(groups: Record<string, number[]>): Record<string, number> {
  return Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce((n, pid) => n + (procCpuMs(pid) || 0), 0)]));
}

const SETTLE_WINDOW_MS = 250;
const SETTLE_MAX_MS = 5000;
/**
 * Waits until the server processes are idle (at most one 10 ms tick of CPU in a 250 ms window,
 * at most 5 s) and returns the CPU they used meanwhile: work a step caused after its last answer
 * (store writes in waitUntil) is that step's cost, and must not land in the next step's.
 */
async function settleServer(pids: number[]): Promise<{ ms: number; cpuMs: number }> {
  const t0 = performance.now();
  const start = cpuMsOf({ server: pids })["server"]!;
  let last = start;
  while (performance.now() - t0 < SETTLE_MAX_MS) {
    await new Promise((r) => setTimeout(r, SETTLE_WINDOW_MS));
    const now = cpuMsOf({ server: pids })["server"]!;
    const used = now - last;
    last = now;
    if (used <= 10) break;
  }
  // The last (idle) window counts too: at most one tick, the same for every target.
  return { ms: Math.round(performance.now() - t0), cpuMs: last - start };
}

/**
 * The bench's origin answers each path with the same body every time (its per-answer stamps in
 * headers that LKG_VOLATILE_HEADERS names), as static pages and API reads do: the shared tiers
 * then write a key when its copy is about to age out, not on every capture.
 */
async function setOrigin(originUrl: string, setting: object): Promise<void> {
  await fetch(`${originUrl}/__control/default`, { method: "POST", body: JSON.stringify({ stableBody: true, ...setting }) }).then((r) => r.text());
}

async function warm(url: string): Promise<void> {
  for (let i = 0; i < KEYS; i++) await fetch(`${url}/bench/${i}`).then((r) => r.arrayBuffer());
}

async function post(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { method: "POST", headers });
  await res.arrayBuffer();
  return res.status;
}

const median = (values: number[]): number => {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)]! : NaN;
};
/** Three significant digits: the p99 ratio against the fair nginx is expected near 0.01. */
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? +(a / b).toPrecision(3) : NaN);

async function main(): Promise<void> {
  const startedAt = performance.now();
  console.log(`bench: ${cpus().length} cores; ladder ${RATES.join(", ")} req/s, ${STEP_S} s each; ${ROUNDS} rounds of ${COMMON_STEP_S} s at the common rate`);
  const withNginx = !process.env["BENCH_SKIP_NGINX"];
  if (withNginx) checkNginx();
  const origins = await startOrigins(["primary"]);
  const originUrl = origins.origins["primary"]!;
  const originPort = Number(new URL(originUrl).port);
  const workers: RunningWorker[] = [];
  const nginxRunning = new Map<string, RunningNginx>();
  try {
    const bare = await startWorker({ entry: "scripts/drill/worker/bare.ts", port: await freePort(), productBindings: false, vars: { ORIGIN_URL: originUrl } });
    workers.push(bare);
    const ourVars = { ORIGINS: JSON.stringify([{ name: "primary", url: originUrl, weight: 1 }]), ADMIN_TOKEN, LKG_VOLATILE_HEADERS: '["x-origin-served-at","x-origin-seq"]' };
    const ours = await startWorker({ entry: "src/index.ts", port: await freePort(), productBindings: true, vars: ourVars });
    workers.push(ours);
    const oursMemory = await startWorker({ entry: "src/index.ts", port: await freePort(), productBindings: true, vars: { ...ourVars, LKG_TIERS: '["memory"]' } });
    workers.push(oursMemory);
    const oursNostore = await startWorker({
      entry: "src/index.ts",
      port: await freePort(),
      productBindings: true,
      vars: { ...ourVars, LKG_TIERS: '["memory"]', LKG_ROUTES: '["/never"]' },
    });
    workers.push(oursNostore);

    /** Origin healthy and the breaker closed: each step starts from the same state, whatever ran before. */
    const healthy = async (w: RunningWorker): Promise<Endpoint> => {
      await setOrigin(originUrl, { mode: "healthy" });
      const status = await post(`${w.url}/__edge/admin/breakers/primary/reset`, { authorization: `Bearer ${ADMIN_TOKEN}` });
      if (status !== 200) throw new Error(`resetting the breaker at ${w.url} answered ${status}`);
      await warm(w.url);
      return { url: w.url, pids: w.pids };
    };
    const cacheStatusOf = async (url: string) => {
      const res = await fetch(url);
      await res.arrayBuffer();
      return res.headers.get("cache-status") ?? "";
    };
    /**
     * Fresh copies of every key, then the origin cut off and the breaker tripped by a few
     * requests; then every key asked once to check it answers from a stored copy. Copies are
     * written in waitUntil after the answer, so right after a step that left the worker's store
     * writes queued (ours-healthy at its limit) some may not be there yet: then once more after
     * 2 s. The keys missing at each attempt go into the step's report, and a second miss is
     * measured as it is (its answers count as failed).
     */
    const partitionOurs = async (): Promise<Endpoint> => {
      const missingCopies: number[] = [];
      for (let attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 2000));
        await healthy(ours);
        await setOrigin(originUrl, { mode: "blackhole" });
        // One request at a time: requests in flight together are one stall to the breaker, so
        // it takes BREAKER_FAILURE_THRESHOLD requests that each go slow on their own.
        let cacheStatus = "";
        for (let i = 0; i < 50 && !cacheStatus.includes("stale-breaker-open"); i++) cacheStatus = await cacheStatusOf(`${ours.url}/bench/${i % KEYS}`);
        if (!cacheStatus.includes("stale-breaker-open")) throw new Error(`50 requests into the partition the breaker is not open: Cache-Status ${JSON.stringify(cacheStatus)}`);
        let missing = 0;
        for (let i = 0; i < KEYS; i++) if (!(await cacheStatusOf(`${ours.url}/bench/${i}`)).includes("; hit;")) missing++;
        missingCopies.push(missing);
        if (missing === 0) break;
        console.log(`  ours-partitioned: ${missing} of ${KEYS} keys had no stored copy with the breaker open; ${attempt === 0 ? "again in 2 s" : "measured as it is"}`);
      }
      return { url: ours.url, pids: ours.pids, missingCopies };
    };
    /**
     * A fresh nginx (empty cache, own temp dir and port) for each step, so no step inherits copies
     * that expire at a random moment or background updates still stuck on the last partition;
     * every key stored from a healthy origin, then the origin blackholed.
     */
    const partitionNginx = async (profile: NginxProfile): Promise<Endpoint> => {
      await stopNginx(profile);
      await setOrigin(originUrl, { mode: "healthy" });
      const n = await startNginx(originPort, profile);
      nginxRunning.set(profile.name, n);
      const warmedFromEpochMs = Date.now();
      await warm(n.url);
      await setOrigin(originUrl, { mode: "blackhole" });
      return { url: n.url, pids: n.pids, warmedFromEpochMs };
    };
    const stopNginx = async (profile: NginxProfile) => {
      await nginxRunning.get(profile.name)?.stop();
      nginxRunning.delete(profile.name);
    };
    const originPids = origins.pids;
    const targets: Target[] = [
      {
        name: "bare",
        what: "pass-through worker: fetch(origin), nothing else",
        prepare: async () => {
          await setOrigin(originUrl, { mode: "healthy" });
          return { url: bare.url, pids: bare.pids };
        },
        boundsCommonRate: true,
      },
      { name: "ours-healthy", what: "our worker, origin healthy, tiers memory + Cache API + KV (as deployed)", prepare: () => healthy(ours), boundsCommonRate: true },
      { name: "ours-healthy-memory", what: "our worker, origin healthy, memory tier only", prepare: () => healthy(oursMemory), boundsCommonRate: true },
      {
        name: "ours-healthy-nostore",
        what: 'our worker, origin healthy, stores nothing (LKG_TIERS ["memory"], LKG_ROUTES ["/never"])',
        prepare: () => healthy(oursNostore),
        boundsCommonRate: true,
      },
      { name: "ours-partitioned", what: "our worker, origin blackholed, breaker open, answers from the LKG store", prepare: partitionOurs, boundsCommonRate: true },
    ];
    if (withNginx) {
      targets.push({
        name: NGINX_30S.name,
        what: "nginx, copies valid 30 s (never asks a healthy origin within that), origin blackholed",
        prepare: () => partitionNginx(NGINX_30S),
        finish: () => stopNginx(NGINX_30S),
        boundsCommonRate: true,
      });
      targets.push({
        name: NGINX_FAIR.name,
        what: `nginx asking its origin like ours: valid 1 s, stale on error/timeout/updating, background update, cache lock, timeouts ${DEFAULTS_TIMEOUT_S} s; origin blackholed`,
        prepare: () => partitionNginx(NGINX_FAIR),
        finish: () => stopNginx(NGINX_FAIR),
        minStepS: FAIR_MIN_STEP_S,
        // Its p99 waits out the read timeout at any rate, by design: it does not bound the common rate.
        boundsCommonRate: false,
      });
    }

    const step = async (t: Target, rate: number, durationS = STEP_S): Promise<Step> => {
      try {
        const ep = await t.prepare();
        const groups = { generator: [process.pid], server: ep.pids, origin: originPids };
        const before = cpuMsOf(groups);
        const t0 = performance.now();
        const { startedAtEpochMs, ...result } = await measure(ep.url, rate, Math.max(durationS, t.minStepS ?? 0));
        const wall = performance.now() - t0;
        const after = cpuMsOf(groups);
        const cpu = Object.fromEntries(Object.keys(groups).map((k) => [k, Math.round((100 * (after[k]! - before[k]!)) / wall)]));
        const settle = await settleServer(ep.pids);
        const serverCpuMs = after["server"]! - before["server"]! + settle.cpuMs;
        const s: Step = {
          ...result,
          cpu,
          serverCpuMs,
          serverSettleMs: settle.ms,
          serverCpuUsPerRequest: result.answered > 0 ? Math.round((serverCpuMs * 1000) / result.answered) : NaN,
        };
        if (ep.warmedFromEpochMs !== undefined) {
          s.partitionMsAfterWarm = Math.round(startedAtEpochMs + result.durationS * 1000 - ep.warmedFromEpochMs);
          s.expiredAnswers = Object.entries(result.cacheStatus)
            .filter(([k]) => k === "STALE" || k === "UPDATING" || k === "EXPIRED")
            .reduce((n, [, v]) => n + v, 0);
        }
        if (ep.missingCopies) s.missingCopiesAtCut = ep.missingCopies;
        if (t.name === NGINX_FAIR.name && !s.expiredAnswers) {
          throw new Error(
            `${t.name}: no answer came from an expired copy (Cache-Status ${JSON.stringify(s.cacheStatus)}, partition ${s.partitionMsAfterWarm} ms after warming began): the step did not measure requests after the 1 s validity expired`,
          );
        }
        return s;
      } finally {
        await t.finish?.();
      }
    };
    const cpuText = (cpu: Record<string, number> | undefined) =>
      cpu ? Object.entries(cpu).map(([k, v]) => `${k} ${v} %`).join(", ") : "";
    const expiredText = (s: Step) =>
      (s.expiredAnswers === undefined ? "" : `; ${s.expiredAnswers} answers from expired copies, partition ${s.partitionMsAfterWarm} ms after warming began`) +
      (Object.keys(s.over1sByCacheStatus).length ? `; answers over 1 s by Cache-Status ${JSON.stringify(s.over1sByCacheStatus)}` : "");

    const ladder: Record<string, Step[]> = {};
    for (const t of targets) {
      ladder[t.name] = [];
      for (const rate of RATES) {
        const s = await step(t, rate);
        ladder[t.name]!.push(s);
        console.log(
          `  ${t.name.padEnd(22)} ${String(rate).padStart(6)} req/s -> achieved ${s.achieved}, p50 ${s.p50} ms, p99 ${s.p99} ms, late ${s.late}, unsent ${s.unsent}, failed ${s.failed}; CPU ${cpuText(s.cpu)}; server ${s.serverCpuUsPerRequest} us/request${expiredText(s)} ${s.sustained ? "ok" : "NOT sustained"}`,
        );
        if (!s.sustained) break;
      }
    }

    const maxSustained = (name: string) => Math.max(0, ...(ladder[name] ?? []).filter((s) => s.sustained).map((s) => s.rate));
    const everyoneSustained = Math.min(...targets.filter((t) => t.boundsCommonRate).map((t) => maxSustained(t.name)));
    const commonRate = Number(process.env["BENCH_COMMON_RATE"] ?? (everyoneSustained || RATES[0]));
    console.log(
      `  common rate ${commonRate} req/s (${process.env["BENCH_COMMON_RATE"] ? "BENCH_COMMON_RATE" : everyoneSustained ? "the highest ladder rate every target but nginx-fair-partitioned sustained" : "no rate was sustained by all: the ladder's first"}), ${ROUNDS} rounds of ${COMMON_STEP_S} s, alternating; ladder took ${Math.round((performance.now() - startedAt) / 1000)} s`,
    );
    const common: Record<string, Step[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const s = await step(t, commonRate, COMMON_STEP_S);
        (common[t.name] ??= []).push(s);
        console.log(
          `  round ${round + 1} ${t.name.padEnd(22)} at ${commonRate} req/s: p50 ${s.p50} ms, p99 ${s.p99} ms, failed ${s.failed}; CPU ${cpuText(s.cpu)}; server ${s.serverCpuMs} ms CPU (${s.serverSettleMs} ms settling after the last answer) / ${s.answered} answered = ${s.serverCpuUsPerRequest} us/request${expiredText(s)}`,
        );
      }
    }

    const med = (name: string, k: "p50" | "p99" | "serverCpuUsPerRequest") => median((common[name] ?? []).map((s) => s[k] ?? NaN));
    const failedAtCommon = (name: string) => (common[name] ?? []).reduce((n, s) => n + s.failed, 0);
    /** At the first rate a target did not sustain, the busiest process: the likely limit. */
    const limitOf = (name: string): string => {
      const steps = ladder[name] ?? [];
      const failedStep = steps.find((s) => !s.sustained);
      if (!failedStep) return `none up to ${RATES[RATES.length - 1]} req/s`;
      const [proc, pct] = Object.entries(failedStep.cpu ?? {}).sort((a, b) => b[1] - a[1])[0] ?? ["?", 0];
      const why = failedStep.failed > 0 ? `${failedStep.failed} failed` : failedStep.unsent > 0 ? `${failedStep.unsent} unsent` : failedStep.p99 >= 50 ? `p99 ${failedStep.p99} ms` : `${failedStep.late} late sends`;
      return `at ${failedStep.rate} req/s (${why}): busiest ${proc} at ${pct} % of a core`;
    };
    const bareCpu = med("bare", "serverCpuUsPerRequest");
    const rows = targets.map((t) => ({
      target: t.name,
      what: t.what,
      cpuUsPerRequest: med(t.name, "serverCpuUsPerRequest"),
      cpuRatioToBare: ratio(med(t.name, "serverCpuUsPerRequest"), bareCpu),
      p50: med(t.name, "p50"),
      p99: med(t.name, "p99"),
      failed: failedAtCommon(t.name),
      maxSustained: maxSustained(t.name),
      boundsCommonRate: t.boundsCommonRate,
      limit: limitOf(t.name),
    }));
    const cpuUsPerRequest = Object.fromEntries(rows.map((r) => [r.target, r.cpuUsPerRequest]));
    const cpuRatios: Record<string, number> = {
      "ours-healthy / bare": ratio(cpuUsPerRequest["ours-healthy"]!, bareCpu),
      "ours-healthy-memory / bare": ratio(cpuUsPerRequest["ours-healthy-memory"]!, bareCpu),
      "ours-healthy-nostore / bare": ratio(cpuUsPerRequest["ours-healthy-nostore"]!, bareCpu),
    };
    const blackholeNames = targets.map((t) => t.name).filter((n) => n.endsWith("-partitioned"));
    const blackholeP99Ms = Object.fromEntries(blackholeNames.map((n) => [n, med(n, "p99")]));
    const blackholeP99Ratios: Record<string, number> = {};
    if (withNginx) {
      blackholeP99Ratios["ours-partitioned / nginx-fair-partitioned"] = ratio(med("ours-partitioned", "p99"), med(NGINX_FAIR.name, "p99"));
      blackholeP99Ratios["ours-partitioned / nginx-30s-partitioned"] = ratio(med("ours-partitioned", "p99"), med(NGINX_30S.name, "p99"));
    }
    const ratios: Record<string, number> = {
      ...Object.fromEntries(Object.entries(cpuRatios).map(([k, v]) => [`${k}, server CPU per request at common rate`, v])),
      ...Object.fromEntries(Object.entries(blackholeP99Ratios).map(([k, v]) => [`${k}, blackhole p99 at common rate`, v])),
      "ours-healthy / bare, p99 at common rate": ratio(med("ours-healthy", "p99"), med("bare", "p99")),
      "ours-healthy-memory / bare, p99 at common rate": ratio(med("ours-healthy-memory", "p99"), med("bare", "p99")),
      "ours-healthy-nostore / bare, p99 at common rate": ratio(med("ours-healthy-nostore", "p99"), med("bare", "p99")),
      "ours-healthy / bare, max sustained rate": ratio(maxSustained("ours-healthy"), maxSustained("bare")),
      "ours-healthy-memory / bare, max sustained rate": ratio(maxSustained("ours-healthy-memory"), maxSustained("bare")),
      "ours-healthy-nostore / bare, max sustained rate": ratio(maxSustained("ours-healthy-nostore"), maxSustained("bare")),
      "ours-partitioned / bare, max sustained rate": ratio(maxSustained("ours-partitioned"), maxSustained("bare")),
    };
    if (withNginx) ratios["ours-partitioned / nginx-30s-partitioned, max sustained rate"] = ratio(maxSustained("ours-partitioned"), maxSustained(NGINX_30S.name));

    const fairP99 = blackholeP99Ratios["ours-partitioned / nginx-fair-partitioned"];
    /** met: null when it could not be measured (nginx skipped, or a NaN). */
    const goal = (text: string, measured: string, value: number | undefined, limit: (v: number) => boolean) => ({
      goal: text,
      measured,
      met: value === undefined || !Number.isFinite(value) ? null : limit(value),
    });
    const goals = [
      goal("server CPU per request, as deployed: ours-healthy / bare <= 1.3", `${cpuRatios["ours-healthy / bare"]} x`, cpuRatios["ours-healthy / bare"], (v) => v <= 1.3),
      goal("server CPU per request, memory tier only: ours-healthy-memory / bare <= 1.1", `${cpuRatios["ours-healthy-memory / bare"]} x`, cpuRatios["ours-healthy-memory / bare"], (v) => v <= 1.1),
      goal("server CPU per request, nothing stored: ours-healthy-nostore / bare <= 1.05", `${cpuRatios["ours-healthy-nostore / bare"]} x`, cpuRatios["ours-healthy-nostore / bare"], (v) => v <= 1.05),
      goal(
        "blackhole p99: ours-partitioned / nginx-fair-partitioned <= 0.025",
        withNginx ? `${fairP99} (${blackholeP99Ms["ours-partitioned"]} ms / ${blackholeP99Ms[NGINX_FAIR.name]} ms)` : "nginx not run",
        fairP99,
        (v) => v <= 0.025,
      ),
      goal("blackhole p99 of ours-partitioned < 50 ms", `${blackholeP99Ms["ours-partitioned"]} ms`, blackholeP99Ms["ours-partitioned"], (v) => v < 50),
      goal(
        "healthy p99 within 10 % of the bare worker's (at the common rate)",
        `as deployed ${ratios["ours-healthy / bare, p99 at common rate"]} x; memory tier only ${ratios["ours-healthy-memory / bare, p99 at common rate"]} x; nothing stored ${ratios["ours-healthy-nostore / bare, p99 at common rate"]} x`,
        ratios["ours-healthy / bare, p99 at common rate"],
        (v) => v <= 1.1,
      ),
      goal("partitioned throughput at least the bare worker's", `${maxSustained("ours-partitioned")} vs ${maxSustained("bare")} req/s`, maxSustained("ours-partitioned") - maxSustained("bare"), (v) => v >= 0),
      goal(
        "zero failed requests partitioned",
        `ours ${failedAtCommon("ours-partitioned")}${withNginx ? `, ${NGINX_30S.name} ${failedAtCommon(NGINX_30S.name)}, ${NGINX_FAIR.name} ${failedAtCommon(NGINX_FAIR.name)}` : ""} at ${commonRate} req/s`,
        failedAtCommon("ours-partitioned"),
        (v) => v === 0,
      ),
      goal(
        "10,000 req/s sustained (goal rate), ours healthy and partitioned",
        targets.map((t) => `${t.name} ${maxSustained(t.name)}`).join(", "),
        Math.min(maxSustained("ours-partitioned"), maxSustained("ours-healthy")),
        (v) => v >= 10_000,
      ),
    ];
    const fmt = (v: number, unit = "") => (Number.isFinite(v) ? `${v}${unit}` : "n/a");
    const table = [
      `At the common rate, ${commonRate} req/s: median of ${ROUNDS} alternating rounds of ${COMMON_STEP_S} s (CPU: the server process(es) only, CPU time / answered requests).`,
      "",
      "| target | CPU µs/request | ratio to bare | p50 | p99 | failed |",
      "|---|---|---|---|---|---|",
      ...rows.map((r) => `| ${r.target} | ${fmt(r.cpuUsPerRequest)} | ${fmt(r.cpuRatioToBare)} | ${fmt(r.p50, " ms")} | ${fmt(r.p99, " ms")} | ${r.failed} |`),
      "",
      "| goal | measured | met |",
      "|---|---|---|",
      ...goals.map((g) => `| ${g.goal} | ${g.measured} | ${g.met === null ? "n/a" : g.met ? "yes" : "no"} |`),
      "",
      "| target | what | max sustained req/s (p99 < 50 ms, < 1 % late, none unsent or failed) | first rate not sustained, and the busiest process then |",
      "|---|---|---|---|",
      ...rows.map((r) => `| ${r.target} | ${r.what} | ${r.maxSustained || `< ${RATES[0]}`} | ${r.limit} |`),
      "",
      "| ratio (this run) | value |",
      "|---|---|",
      ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${fmt(v)} |`),
    ].join("\n");
    console.log(`\n${table}\n`);
    const fairSteps = [...(ladder[NGINX_FAIR.name] ?? []), ...(common[NGINX_FAIR.name] ?? [])];
    const elapsedS = Math.round((performance.now() - startedAt) / 1000);
    const notes = [
      `The load generator (one Node process, which also hosts Miniflare), workerd, the fake origin and nginx share ${cpus().length} cores; "busiest" names the process using the most CPU at the first rate a target did not sustain (CPU in % of one core; workerd runs each worker's JavaScript on one thread).`,
      "CPU µs/request: CPU time (utime + stime from /proc/<pid>/stat) of the target's server process(es) from just before its load started until they were idle again after its last answer (deferred store writes included), divided by the requests answered in that step; workerd's own simulators (Cache API, KV, the breaker's Durable Object) run inside the workerd process and count, the fake origin does not. It includes each process's fixed per-second cost, which dominates at low rates; /proc counts 10 ms ticks per process, so a short step's value is coarse.",
      "ours-healthy writes every fresh answer to Miniflare's local Cache API and KV simulators (SQLite and files, in /dev/shm where the machine has it), which cost far more per write than the edge; ours-healthy-memory isolates our own code's cost with the store, ours-healthy-nostore our request machinery without it.",
      ...(withNginx
        ? [
            "Each nginx step runs a fresh nginx (own temp dir and port, empty cache): every key is stored from the healthy origin, then the origin is blackholed and the load starts.",
            nginxSummary(NGINX_30S) + " Within 30 s of a store it answers from its cache without asking the origin, healthy or not, so it never meets the partition.",
            nginxSummary(NGINX_FAIR) +
              ` Its steps last at least ${FAIR_MIN_STEP_S} s (a copy made valid for 1 s expires 1-2 s after it was stored, by nginx's whole-second clock); in this run its partitions lasted ${Math.min(...fairSteps.map((s) => s.partitionMsAfterWarm ?? NaN))}-${Math.max(...fairSteps.map((s) => s.partitionMsAfterWarm ?? NaN))} ms after warming began, and ${fairSteps.map((s) => s.expiredAnswers).join(", ")} answers per step came from expired copies. It does not bound the common rate: its p99 waits out the ${DEFAULTS_TIMEOUT_S} s read timeout at any rate. The request that starts a background update gets its stale copy at once, but nginx reads the next request on that client connection only once the update has ended (here: timed out), and the failed update leaves the copy stale, so that next request starts another (over1sByCacheStatus in bench.json counts the slow answers).`,
          ]
        : ["nginx not run (BENCH_SKIP_NGINX)."]),
      `Highest rate tried: ${RATES[RATES.length - 1]} req/s. This run took ${elapsedS} s.`,
    ];
    const dir = join(root, "reports", `bench-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "bench.json"),
      JSON.stringify(
        {
          commonRate,
          cpuUsPerRequest,
          cpuRatios,
          blackholeP99Ms,
          blackholeP99Ratios,
          goals,
          rows,
          ratios,
          nginx: withNginx ? [NGINX_30S, NGINX_FAIR] : [],
          ladder,
          common,
          notes,
          rates: RATES,
          stepS: STEP_S,
          commonStepS: COMMON_STEP_S,
          rounds: ROUNDS,
          elapsedS,
        },
        null,
        2,
      ),
    );
    await writeFile(join(dir, "bench.md"), `# Benchmark\n\nCommand: \`npm run bench\`\n\n${table}\n\n${notes.map((n) => `- ${n}`).join("\n")}\n`);
    console.log(notes.map((n) => `note: ${n}`).join("\n"));
    console.log(`bench: ${relative(process.cwd(), join(dir, "bench.md"))}`);
  } finally {
    for (const w of workers) await w.dispose();
    for (const n of nginxRunning.values()) await n.stop();
    origins.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
