/**
 * Self-test of the open-loop load generator (scripts/drill/load.ts) against the fake origin.
 *
 *   PATH=$PWD/node_modules/.bin:$PATH node scripts/drill/load-check.ts [--no-max]
 *
 * 0. The machine's own timer jitter: a bare setTimeout(1) loop for 3 s, counting wakes that
 *    come more than 5 ms late. On a shared 2-vCPU VM this alone makes some sends "late".
 * 1. 2,000 req/s for 3 s against a healthy fake origin: achieved rate, p50/p99, late, unsent
 *    (default api "dispatch", checked; then api "request" for comparison).
 * 2. Open loop versus closed loop: the origin answers in 200 ms and only 4 connections exist
 *    (capacity 20 req/s). At 500 req/s for 2 s the open-loop p99 (from intended send time)
 *    grows far beyond 200 ms, while a closed loop of 4 workers on the same 4 connections
 *    reports ~200 ms and quietly sends ~25x fewer requests (coordinated omission).
 * 3. Unless --no-max: 5k, 10k and 15k req/s for 3 s each, with each undici API (dispatch()
 *    and request()), with the generator's own CPU (process.cpuUsage) and the origin's, so one
 *    can tell whether the generator or the origin gave up first.
 *
 * The fake origin (startFakeOrigin on a free loopback port) runs in a child process, as in the
 * drill, so the CPU figures are the generator's alone. Exits 0 when steps 1 and 2 are sane.
 * Loopback only, bounded in count and time (about 50 s in all, 30 s with --no-max).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { procCpuMs } from "../lib/proc-cpu.ts";
import { Pool } from "undici";
import { startFakeOrigin } from "../lib/fake-origin.ts";
import { percentiles, runLoad, wasSent, type LoadRun, type RequestSpec } from "./load.ts";

const here = fileURLToPath(import.meta.url);

async function startOriginProcess(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [here, "--origin"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fake origin did not start within 10 s")), 10_000);
    lines.on("line", (line) => {
      if (line.startsWith("ready ")) {
        clearTimeout(timer);
        resolve(line.slice(6).trim());
      }
    });
    child.once("exit", (code) => reject(new Error(`fake origin exited with ${code}`)));
  });
  return { child, url };
}

async function setDefault(url: string, setting: unknown): Promise<void> {
  const res = await fetch(`${url}/__control/default`, { method: "POST", body: JSON.stringify(setting) });
  if (res.status !== 200) throw new Error(`origin refused ${JSON.stringify(setting)}: ${await res.text()}`);
}

const keys = Array.from({ length: 100 }, (_, i) => `/item/${i}`);
const specs: RequestSpec[] = keys.map((k) => ({ method: "GET", path: k, headers: {}, key: k, user: "anonymous" }));
const makeRequest = (seq: number): RequestSpec => specs[seq % specs.length]!;

interface Measured {
  scheduled: number;
  sent: number;
  unsent: number;
  late: number;
  answered: number;
  ok: number;
  errors: Record<string, number>;
  achievedRate: number;
  answeredRate: number;
  p50: number;
  p99: number;
  max: number;
  sendDelayP99: number;
  cpuPct: number;
  /** CPU of the fake origin's process and of the whole machine (all cores), in % of one core. */
  originCpuPct: number;
  machineCpuPct: number;
  durationMs: number;
}

let originPid = 0;

/** Busy CPU time (ms) of the whole machine, summed over cores. */
function machineBusyMs(): number {
  let busy = 0;
  for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return busy;
}

async function measure(url: string, rate: number, durationS: number, extra: { connections?: number; timeoutMs?: number; api?: "request" | "dispatch" } = {}): Promise<{ m: Measured; run: LoadRun }> {
  const cpu0 = process.cpuUsage();
  const origin0 = procCpuMs(originPid);
  const machine0 = machineBusyMs();
  const t0 = performance.now();
  const run = await runLoad({ baseUrl: url, phases: [{ rate, durationS }], makeRequest, ...extra });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const originCpuPct = (100 * (procCpuMs(originPid) - origin0)) / wall;
  const machineCpuPct = (100 * (machineBusyMs() - machine0)) / wall;
  const sent = run.results.filter(wasSent);
  const errors: Record<string, number> = {};
  for (const r of sent) if (r.status === 0) errors[r.error ?? "?"] = (errors[r.error ?? "?"] ?? 0) + 1;
  const phaseMs = durationS * 1000;
  // Sent and answered within the phase window (intended time), per second of that window.
  const answeredInPhase = sent.filter((r) => r.status > 0 && r.intendedAt + r.latencyMs <= phaseMs).length;
  const [p50, p99, max] = percentiles(run.results, [50, 99, 100]);
  const [sendDelayP99] = sent.length > 0 ? [quantile(sent.map((r) => r.sendDelayMs), 0.99)] : [NaN];
  const m: Measured = {
    scheduled: run.results.length,
    sent: sent.length,
    unsent: run.results.length - sent.length,
    late: sent.filter((r) => r.sendDelayMs > 5).length,
    answered: sent.filter((r) => r.status > 0).length,
    ok: sent.filter((r) => r.status >= 200 && r.status < 300).length,
    errors,
    achievedRate: sent.filter((r) => r.intendedAt < phaseMs).length / durationS,
    answeredRate: answeredInPhase / durationS,
    p50: p50!,
    p99: p99!,
    max: max!,
    sendDelayP99: sendDelayP99!,
    cpuPct: (100 * (cpu.user + cpu.system)) / 1000 / wall,
    originCpuPct,
    machineCpuPct,
    durationMs: wall,
  };
  return { m, run };
}

function quantile(values: number[], q: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function line(label: string, rate: number, m: Measured): string {
  const errs = Object.entries(m.errors).map(([k, n]) => `${k}=${n}`).join(" ");
  return (
    `${label}: target ${rate}/s, sent ${m.sent} (${m.achievedRate.toFixed(0)}/s), answered ${m.answered} ` +
    `(${m.answeredRate.toFixed(0)}/s within the phase), 2xx ${m.ok}, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, max ${m.max.toFixed(1)} ms, ` +
    `late ${m.late} (${((100 * m.late) / Math.max(1, m.sent)).toFixed(2)} %, send delay p99 ${m.sendDelayP99.toFixed(2)} ms), unsent ${m.unsent}, ` +
    `CPU (% of one core) generator ${m.cpuPct.toFixed(0)} %, origin ${m.originCpuPct.toFixed(0)} %, ` +
    `whole machine ${m.machineCpuPct.toFixed(0)} % of ${cpus().length * 100} % over ${(m.durationMs / 1000).toFixed(1)} s${errs ? `, errors ${errs}` : ""}`
  );
}

/** The closed-loop measure a naive benchmark would take: N workers, each waits for its answer before sending again. */
async function closedLoop(url: string, workers: number, durationS: number): Promise<{ count: number; p50: number; p99: number }> {
  const pool = new Pool(url, { connections: workers, pipelining: 1 });
  const latencies: number[] = [];
  const end = performance.now() + durationS * 1000;
  let seq = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const spec = makeRequest(seq++);
        const t = performance.now();
        const res = await pool.request({ path: spec.path, method: "GET" });
        await res.body.dump();
        latencies.push(performance.now() - t);
      }
    }),
  );
  await pool.destroy();
  return { count: latencies.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

/** Wakes of a bare setTimeout(1) loop that came more than 5 ms after the previous one. */
async function timerJitter(durationMs: number): Promise<{ wakes: number; over5: number; max: number }> {
  return new Promise((resolve) => {
    const end = performance.now() + durationMs;
    let last = performance.now();
    let wakes = 0;
    let over5 = 0;
    let max = 0;
    const tick = (): void => {
      const t = performance.now();
      const gap = t - last;
      last = t;
      wakes++;
      if (gap > 5) over5++;
      if (gap > max) max = gap;
      if (t < end) setTimeout(tick, 1);
      else resolve({ wakes, over5, max });
    };
    setTimeout(tick, 1);
  });
}

async function main(argv: string[]): Promise<number> {
  const { child, url } = await startOriginProcess();
  originPid = child.pid ?? 0;
  const problems: string[] = [];
  try {
    console.log(`fake origin ${url} (child process); node ${process.version}`);

    // 0. How punctual can any timer be here?
    const jitter = await timerJitter(3000);
    console.log(
      `timer jitter: ${jitter.wakes} wakes of an idle setTimeout(1) loop in 3 s, ${jitter.over5} more than 5 ms apart (max ${jitter.max.toFixed(1)} ms)`,
    );

    // 1. A plain run at 2,000 req/s with the default API (dispatch), checked; then with
    //    api "request" for comparison (checked for correctness only).
    // Warm-up first: a fresh process spends its first seconds compiling (twice the CPU, a few %
    // late sends), which would otherwise land on whichever run comes first.
    await runLoad({ baseUrl: url, phases: [{ rate: 2000, durationS: 2 }], makeRequest });
    await runLoad({ baseUrl: url, phases: [{ rate: 2000, durationS: 2 }], makeRequest, api: "request" });
    const { m: a } = await measure(url, 2000, 3);
    console.log(line("2k, api dispatch (default)", 2000, a));
    const { m: ar } = await measure(url, 2000, 3, { api: "request" });
    console.log(line("2k, api request", 2000, ar));
    if (ar.ok !== ar.scheduled) problems.push(`${ar.scheduled - ar.ok} of ${ar.scheduled} not answered 2xx at 2k with api request`);
    if (Math.abs(a.achievedRate - 2000) > 40) problems.push(`achieved ${a.achievedRate.toFixed(0)}/s instead of 2000/s`);
    if (a.unsent > 0) problems.push(`${a.unsent} unsent at 2k`);
    // The drill's own target is < 1 % late; a shared VM's stalls alone can come close to that
    // (see the jitter line), so the self-test fails only when lateness is clearly systematic.
    if (a.late > 0.05 * a.sent) problems.push(`${a.late} late sends at 2k (> 5 %)`);
    else if (a.late > 0.01 * a.sent) console.log(`  note: ${((100 * a.late) / a.sent).toFixed(2)} % late is above the drill's 1 % target; check the machine's load (other processes, the jitter line above)`);
    if (a.ok !== a.scheduled) problems.push(`${a.scheduled - a.ok} of ${a.scheduled} not answered 2xx at 2k`);
    if (!(a.p99 < 100)) problems.push(`p99 ${a.p99.toFixed(1)} ms at 2k against a local fake origin`);

    // 2. Open loop versus closed loop against a 200 ms origin on 4 connections.
    await setDefault(url, { mode: "healthy", latencyMs: 200 });
    const { m: open, run } = await measure(url, 500, 2, { connections: 4, timeoutMs: 6000 });
    const answered = run.results.filter((r) => r.status > 0);
    const [openAnsweredP50, openAnsweredP99] = percentiles(run.results, [50, 99], (r) => r.status > 0);
    const closed = await closedLoop(url, 4, 2);
    console.log(line("open loop, 200 ms origin, 4 connections", 500, open));
    console.log(
      `  open loop (from intended send time): p50 ${open.p50.toFixed(0)} ms, p99 ${open.p99.toFixed(0)} ms over all ${open.sent} sent ` +
        `(${open.errors["client-timeout"] ?? 0} gave up at the 6 s client timeout); over the ${answered.length} answered only: p50 ${openAnsweredP50!.toFixed(0)} ms, p99 ${openAnsweredP99!.toFixed(0)} ms`,
    );
    console.log(
      `  closed loop (4 workers, from each worker's own send): p50 ${closed.p50.toFixed(0)} ms, p99 ${closed.p99.toFixed(0)} ms, ` +
        `but only ${closed.count} requests in 2 s (${(closed.count / 2).toFixed(0)}/s) where 1000 were due: the queueing is omitted`,
    );
    if (!(open.p99 > 1000)) problems.push(`open-loop p99 ${open.p99.toFixed(0)} ms did not grow far beyond 200 ms`);
    if (!(openAnsweredP99! > 1000)) problems.push(`open-loop p99 of answered requests ${openAnsweredP99!.toFixed(0)} ms did not grow beyond 1 s`);
    if (!(closed.p99 >= 195 && closed.p99 < 400)) problems.push(`closed-loop p99 ${closed.p99.toFixed(0)} ms is not ~200 ms`);
    if (!(closed.count < 100)) problems.push(`closed loop sent ${closed.count} in 2 s at 4 x 200 ms`);
    await setDefault(url, { mode: "healthy" });

    // 3. How fast can one Node process generate here?
    if (!argv.includes("--no-max")) {
      for (const api of ["dispatch", "request"] as const) {
        await runLoad({ baseUrl: url, phases: [{ rate: 5000, durationS: 2 }], makeRequest, api }); // warm-up at speed
        for (const rate of [5000, 10_000, 15_000]) {
          const { m } = await measure(url, rate, 3, { api });
          console.log(line(`max ${rate / 1000}k, api ${api}`, rate, m));
        }
      }
    }
  } finally {
    child.stdin?.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGTERM");
        resolve();
      }, 3000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  if (problems.length > 0) {
    console.log(`load-check: FAIL\n  - ${problems.join("\n  - ")}`);
    return 1;
  }
  console.log("load-check: OK");
  return 0;
}

// Child mode: just the fake origin, until the parent closes our stdin.
if (process.argv[2] === "--origin") {
  const origin = await startFakeOrigin(0, "127.0.0.1");
  console.log(`ready ${origin.url}`);
  process.stdin.resume();
  process.stdin.on("end", () => void origin.close().then(() => process.exit(0)));
} else {
  process.exit(await main(process.argv.slice(2)));
}
