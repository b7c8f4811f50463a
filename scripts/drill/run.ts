/**
 * `npm run drill [-- <plan>]`: starts the worker in workerd with its real bindings, the fake
 * origins and a collector, runs the plan's fixed-rate load with its faults on a timeline,
 * prints one line a second, checks the targets from the raw results, writes the report, and
 * exits non-zero when a target fails. Loopback only; everything stops by itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULTS } from "../../src/config.ts";
import { CHDB_MISSING } from "../dashboard/engines/local.ts";
import type { LatencyProfile } from "../lib/latency-profile.ts";
import { overallTotals } from "../dashboard/queries.ts";
import { drillDashboard } from "../dashboard/run.ts";
import { chooseRate, climb, HEADROOM, laddersSettleRatio, machineTarget, measureRung, oursVsBareTarget, recheckOursVsBare, type Calibration } from "./calibrate.ts";
import { dashboardAgreement, fallbackCounts } from "./judge/dashboard.ts";
import { openIntervals, type ActionRecord, type BacklogSample, type CounterSample, type DataPoint, type FaultRecord, type RegionRun, type WriteRunData } from "./judge/data.ts";
import { evaluate } from "./judge/index.ts";
import { sendAdmin } from "./admin.ts";
import { runLoad, summarizeSeconds, type LivePoint } from "./load.ts";
import { baselinePins, requestMaker } from "./mix.ts";
import { createNetns, type Netns } from "./netns.ts";
import { DEFAULT_PLAN, listPlans, loadPlan, MAX_RATE } from "./plan.ts";
import { runChecks } from "./probes.ts";
import { drillRouting, isMultiRegion, originsVar, ROUTING_SYNC_DEFAULT_MS } from "./regions.ts";
import { StickyJar } from "./sticky.ts";
import { verdictOf } from "./judge/verdict.ts";
import { breakerTransitionsFrom, formatTargetsTable, writeReport, type ReportInput } from "./report.ts";
import { startWorker, type RunningWorker } from "./runtime.ts";
import { routingChanges } from "./region-points.ts";
import type { FaultSetting, Plan, RequestResult, SecondStats, TargetResult } from "./types.ts";
import { readWriteLogs, resetWriteLogs, sampleWrites, sendWriteAdmin, waitForDelivery, writesVar, type WriteActionRecord } from "./write-run.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The drill runs the product's own defaults (src/config.ts, as deployed from wrangler.toml)
 * unless a plan overrides them; only what the drill's traffic needs is added here.
 */
const BASE_VARS: Record<string, string> = {
  SENSITIVE_HEADERS: '["x-api-key"]',
  // The fake origin stamps every answer in these headers; they are not a change of content. A fake
  // region also names itself in x-fake-region: the same content from another region is no change
  // either (a real origin's per-server headers belong in LKG_VOLATILE_HEADERS the same way).
  LKG_VOLATILE_HEADERS: '["x-origin-served-at","x-origin-seq","x-fake-region"]',
};

/**
 * The drill's origin answers a path with the same body every time, as static pages and API reads
 * do (its per-answer stamps travel in headers), so the shared tiers see unchanged content unless
 * a plan says otherwise ("stableBody": false in a phase's origin setting).
 */
const ORIGIN_DEFAULTS = { stableBody: true };

/** After the load, how long a write drill waits for every 202 to be delivered and the backlog to empty. */
const DELIVERY_DEADLINE_MS = 60_000;

/** Exit codes: 0 pass, 1 a target failed, 2 bad arguments or a broken run, 3 every correctness target passed but latency is unverified. */
export const EXIT_INCONCLUSIVE = 3;

/** A numeric setting as the worker will see it: the plan's var, else the product default. */
function setting(vars: Record<string, string>, name: keyof typeof DEFAULTS): number {
  return Number(vars[name] ?? DEFAULTS[name]);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface OriginProcess {
  child: ChildProcess;
  origins: Record<string, string>;
  collector: string;
}

function spawnOriginProcess(command: string[], args: string[]): Promise<OriginProcess> {
  const child = spawn(command[0]!, [...command.slice(1), join(root, "scripts/drill/origin-process.ts"), ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  return new Promise<OriginProcess>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the origin process did not start within 10 s")), 10_000);
    lines.on("line", (line) => {
      if (line.startsWith("ready ")) {
        clearTimeout(timer);
        resolve({ child, ...(JSON.parse(line.slice(6)) as { origins: Record<string, string>; collector: string }) });
      }
    });
    child.once("exit", (code) => reject(new Error(`the origin process exited with ${code}`)));
  });
}

/**
 * The fake origins and the collector of the worker's data points. With a network namespace the
 * origins run inside it and the collector stays on the host, so a partition never cuts the drill
 * off from its own data.
 */
export async function startOrigins(names: string[], netns?: Netns): Promise<{ origins: Record<string, string>; collector: string; pids: number[]; stop(): void }> {
  if (!netns) {
    const one = await spawnOriginProcess([process.execPath], names);
    return { origins: one.origins, collector: one.collector, pids: [one.child.pid!], stop: () => stopProcess(one.child) };
  }
  const inside = await spawnOriginProcess([...netns.exec, process.execPath], ["--host", netns.originIp, "--no-collector", ...names]);
  const collector = await spawnOriginProcess([process.execPath], []).catch((err: unknown) => {
    stopProcess(inside.child);
    throw err;
  });
  return {
    origins: inside.origins,
    collector: collector.collector,
    // `ip netns exec` execs the program, so the child's pid is the origin process's own.
    pids: [inside.child.pid!],
    stop: () => {
      stopProcess(inside.child);
      stopProcess(collector.child);
    },
  };
}

/**
 * A multi-region plan's fake origins: one process per region, each playing its region
 * (`x-fake-region`), and with --netns each in its own namespace, so a partition cuts off that
 * region alone. The collector is a process of its own on the host.
 */
export async function startRegionOrigins(names: string[], netns?: Record<string, Netns>, writes = false): Promise<{ origins: Record<string, string>; collector: string; pids: number[]; stop(): void }> {
  const started: OriginProcess[] = [];
  const stop = () => {
    for (const p of started) stopProcess(p.child);
  };
  try {
    for (const name of names) {
      const ns = netns?.[name];
      started.push(await spawnOriginProcess(ns ? [...ns.exec, process.execPath] : [process.execPath], [...(ns ? ["--host", ns.originIp] : []), "--no-collector", "--regions", ...(writes ? ["--writes"] : []), name]));
    }
    const collector = await spawnOriginProcess([process.execPath], []);
    started.push(collector);
    return { origins: Object.assign({}, ...started.map((p) => p.origins)) as Record<string, string>, collector: collector.collector, pids: started.map((p) => p.child.pid!), stop };
  } catch (err) {
    stop();
    throw err;
  }
}

function stopProcess(child: ChildProcess): void {
  child.stdin?.end();
  child.kill("SIGTERM");
}

async function setFault(originUrl: string, setting: object, scenario = "default"): Promise<void> {
  const res = await fetch(`${originUrl}/__control/${scenario}`, { method: "POST", body: JSON.stringify({ ...ORIGIN_DEFAULTS, ...setting }) });
  if (res.status !== 200) throw new Error(`origin refused fault ${JSON.stringify(setting)}: ${await res.text()}`);
}

/**
 * Applies one phase's fault to one origin. "partition" is a real one in a network namespace (the
 * origin itself stays healthy, its replies are dropped), else the fake origin's blackhole. The
 * control requests cross the same link, so a partition is healed before the origin is told
 * anything and installed after.
 */
async function applyFault(originUrl: string, setting: FaultSetting, netns: Netns | undefined, profile: LatencyProfile | undefined): Promise<void> {
  const distance = profile ? { profile } : {};
  if (setting.mode === "partition") {
    if (!netns) return setFault(originUrl, { mode: "blackhole" });
    netns.partition(false);
    await setFault(originUrl, { mode: "healthy", ...distance });
    netns.partition(true);
    return;
  }
  netns?.partition(false);
  await setFault(originUrl, { ...setting, ...distance });
}

/** The plan's origin latency profiles in one line, for the terminal and the report. */
function latencyText(plan: Plan): string {
  const entries = Object.entries(plan.latency ?? {});
  if (entries.length === 0) return "loopback-fast (no profile: what the bench measures, our own overhead)";
  return entries.map(([name, p]) => `${name} median ${p.medianMs} ms, p99 ${p.p99Ms} ms`).join("; ");
}

function liveLine(p: LivePoint, plan: Plan, breaker: string): string {
  const phase = plan.phases[p.phase]?.name ?? "drain";
  const mix = Object.entries(p.statuses)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`)
    .join(" ");
  // Several regions: who answered this second ("edge": a copy or the worker's own answer).
  const regions = isMultiRegion(plan)
    ? ` regions ${Object.entries(p.regions)
        .map(([r, n]) => `${r || "edge"}=${n}`)
        .join(" ")}`
    : "";
  return `t=${String(p.second).padStart(3)}s ${phase.padEnd(12)} sent=${p.sent} answered=${p.answered} ${mix} p99=${p.p99.toFixed(1)}ms breaker=${breaker} fallback=${p.fallback} late=${p.late} unsent=${p.unsent} in-flight=${p.inFlight}${regions}`;
}

const USAGE = "usage: npm run drill [-- <plan | path/to/plan.json>] [--rate <req/s>] [--netns] [--loopback]";

export async function main(argv: string[]): Promise<number> {
  let args: { values: { rate?: string; netns?: boolean; loopback?: boolean; help?: boolean }; positionals: string[] };
  try {
    args = parseArgs({ args: argv, options: { rate: { type: "string" }, netns: { type: "boolean" }, loopback: { type: "boolean" }, help: { type: "boolean", short: "h" } }, allowPositionals: true });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`, { cause: err });
  }
  if (args.values.help) {
    console.log(
      `${USAGE}\n  plans: ${(await listPlans()).join(", ")} (default ${DEFAULT_PLAN})\n  --rate   run every phase at this many requests per second instead of the plan's rates\n  --netns  run the origins in a network namespace, where "partition" phases really drop their replies (root, iproute2)\n  --loopback  drop the plan's origin latency profiles: loopback-fast origins, to see our own overhead`,
    );
    return 0;
  }
  if (args.positionals.length > 1) throw new Error(`one plan at a time, got ${args.positionals.join(", ")}\n${USAGE}`);
  const plan = await loadPlan(args.positionals[0] ?? DEFAULT_PLAN);
  if (args.values.loopback) delete plan.latency;
  let forcedRate: number | undefined;
  if (args.values.rate !== undefined) {
    forcedRate = Number(args.values.rate);
    if (!Number.isInteger(forcedRate) || forcedRate < 1 || forcedRate > MAX_RATE) throw new Error(`--rate must be a whole number from 1 to ${MAX_RATE} req/s, got ${JSON.stringify(args.values.rate)}`);
  }
  const planRate = Math.max(...plan.phases.map((p) => p.rate));
  const multi = isMultiRegion(plan);
  const originNames = multi ? plan.regions.map((r) => r.name) : [...new Set(plan.phases.flatMap((p) => Object.keys(p.origins)))];
  const vars = { ...BASE_VARS, ...plan.vars };
  const started = new Date();
  const command = `npm run drill -- ${args.positionals[0] ?? plan.name}${args.values.rate !== undefined ? ` --rate ${args.values.rate}` : ""}${args.values.netns ? " --netns" : ""}${args.values.loopback ? " --loopback" : ""}`;
  console.log(`drill ${plan.name}: ${plan.description}`);
  console.log(`origin latency: ${latencyText(plan)}`);
  for (const u of plan.unsupported ?? []) console.log(`not supported yet: ${u.field}: ${u.reason}`);

  // One namespace per region in a multi-region plan, so partitioning one leaves the others reachable.
  const namespaces: Netns[] = [];
  const disposeNetns = () => {
    for (const ns of namespaces.splice(0)) ns.dispose();
  };
  const netnsOf: Record<string, Netns> = {};
  let origins: Awaited<ReturnType<typeof startOrigins>>;
  try {
    if (args.values.netns) {
      if (multi) originNames.forEach((name, i) => namespaces.push((netnsOf[name] = createNetns(i))));
      else namespaces.push(createNetns());
    }
    origins = multi ? await startRegionOrigins(originNames, args.values.netns ? netnsOf : undefined, plan.writes !== undefined) : await startOrigins(originNames, namespaces[0]);
  } catch (err) {
    disposeNetns();
    throw err;
  }
  const netns = multi ? undefined : namespaces[0];
  const netnsFor = (origin: string) => (multi ? netnsOf[origin] : netns);
  // Ctrl-C must not leave a namespace behind.
  let worker: RunningWorker | undefined;
  const onSignal = () => {
    origins.stop();
    disposeNetns();
    // workerd took the same Ctrl-C; its state (in RAM under /dev/shm) must not outlive the run.
    if (worker) rmSync(worker.dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  try {
    // Several regions: ORIGINS and ROUTING from the plan, and an admin token of this run's own for the region routes.
    const adminToken = randomBytes(24).toString("base64url");
    const workerVars: Record<string, string> = {
      ...vars,
      ORIGINS: multi ? originsVar(plan.regions, origins.origins) : JSON.stringify(originNames.map((n) => ({ name: n, url: origins.origins[n], weight: 1 }))),
      DRILL_COLLECTOR_URL: origins.collector,
      ...(multi ? { ROUTING: JSON.stringify(plan.routing ?? {}), ADMIN_TOKEN: adminToken } : {}),
      ...(plan.writes ? { WRITES: writesVar(plan)! } : {}),
    };
    const routing = drillRouting(plan.routing);
    const regionRun: RegionRun = { routing, syncMs: Number(vars["ROUTING_SYNC_MS"] ?? ROUTING_SYNC_DEFAULT_MS), actions: [] as ActionRecord[], faults: [] as FaultRecord[] };
    for (const url of Object.values(origins.origins)) {
      await setFault(url, { mode: "healthy" });
      for (const h of plan.mix.hostile ?? []) await setFault(url, h.setting, `hostile-${h.name}`);
    }
    const calibration: Calibration =
      forcedRate !== undefined
        ? { planRate, rateUsed: forcedRate, mode: "forced", reason: "forced with --rate (no calibration)", cap: 0, durationS: 0 }
        : await calibrateMachine(plan, planRate, workerVars, origins);
    console.log(`rate: plan ${planRate} req/s, using ${calibration.rateUsed} req/s: ${calibration.reason}`);
    // The calibration's workers sent writes of their own: the origins forget them (and their keys).
    if (plan.writes) await resetWriteLogs(origins.origins);
    for (const phase of plan.phases) phase.rate = forcedRate ?? Math.max(1, Math.round((phase.rate * calibration.rateUsed) / planRate));

    // The replay rate scales with the load, as the phases' rates do.
    if (plan.writes) workerVars["WRITES"] = writesVar(plan, calibration.rateUsed / planRate)!;
    const port = await freePort();
    worker = await startWorker({ entry: "scripts/drill/worker/entry.ts", port, productBindings: true, vars: workerVars, yieldToLoad: true });
    console.log(`worker ${worker.url} (workerd via Miniflare, direct socket), origins ${Object.values(origins.origins).join(", ")}`);

    const phaseSettings = plan.phases.map((p) => p.origins);
    let hostileOn = false;
    const jar = plan.mix.sticky ? new StickyJar(routing.stickyHeader) : undefined;
    let pinsOn = false;
    const maker = requestMaker(plan.mix, () => hostileOn, jar, undefined, baselinePins(plan, routing, adminToken, () => pinsOn));
    const checkTargets = { workerUrl: worker.url, adminToken, origins: origins.origins, hotKeys: plan.mix.hotKeys };
    // pre checks gate the incident: run in the baseline's last 1.5 s, on a warm store.
    let preChecks: Promise<TargetResult[]> = Promise.resolve([]);
    const baselineIndex = plan.phases.findIndex((p) => p.baseline);
    let breaker = "closed";
    // The lease and the backlog, as the worker reports them, every 500 ms through the run and the drain.
    const writeSamples: BacklogSample[] = [];
    const writeActions: WriteActionRecord[] = [];
    const writeTimer = plan.writes
      ? setInterval(() => {
          void sampleWrites(worker!.url, adminToken).then((s) => writeSamples.push(s));
        }, 500)
      : undefined;
    const stateTimer = setInterval(() => {
      fetch(`${worker!.url}/__drill/state`)
        .then((r) => r.json() as Promise<{ breaker: string }>)
        .then((s) => (breaker = s.breaker))
        .catch(() => {});
    }, 1000);
    const run = await runLoad({
      baseUrl: worker.url,
      phases: plan.phases.map((p) => ({ rate: p.rate, durationS: p.durationS })),
      makeRequest: (seq) => maker(seq),
      ...(jar ? { onAnswer: (r) => jar.update(r) } : {}),
      onPhaseStart: async (i) => {
        hostileOn = plan.phases[i]?.hostile === true;
        pinsOn = plan.phases[i]?.baseline === true;
        if (i === baselineIndex && plan.checks?.pre?.length) {
          const pre = plan.checks.pre;
          preChecks = new Promise((resolve) => setTimeout(resolve, Math.max(0, plan.phases[i]!.durationS * 1000 - 1500))).then(() => runChecks("pre", pre, checkTargets));
        }
        for (const [originName, setting] of Object.entries(phaseSettings[i] ?? {})) {
          await applyFault(origins.origins[originName]!, setting, netnsFor(originName), plan.latency?.[originName]);
          regionRun.faults.push({ phase: i, region: originName, setting, appliedAt: Date.now() });
        }
        // After the phase's faults: a repaired region is healthy before it is restored.
        for (const a of plan.phases[i]?.admin ?? []) {
          const record = await sendAdmin(worker!.url, adminToken, i, a);
          regionRun.actions.push(record);
          console.log(`admin: ${a.action} ${a.region}${a.percent !== undefined ? ` ${a.percent} %` : ""}: ${record.status || "no answer"} ${record.detail.slice(0, 120)}`);
        }
        for (const a of plan.phases[i]?.writeAdmin ?? []) {
          const record = await sendWriteAdmin(worker!.url, adminToken, i, a);
          writeActions.push(record);
          console.log(`admin: writes ${a.action}${a.action === "promote" ? ` ${a.region}` : ""}: ${record.status || "no answer"} ${record.detail.slice(0, 120)}`);
        }
      },
      onSecond: (p) => console.log(liveLine(p, plan, breaker)),
    });
    clearInterval(stateTimer);
    let writeRun: WriteRunData | undefined;
    if (plan.writes) {
      // Every 202 is polled until delivered or failed (or 60 s), and the backlog until empty.
      const locations = [...new Set(run.results.filter((r) => r.status === 202 && r.write?.location).map((r) => r.write!.location))];
      const statuses = await waitForDelivery(worker.url, adminToken, locations, DELIVERY_DEADLINE_MS, (s) => writeSamples.push(s), (line) => console.log(line));
      clearInterval(writeTimer);
      // A copy: a sample still in flight when the timer stopped must not land after the drain's last one.
      const samples = [...writeSamples].sort((a, b) => a.at - b.at);
      writeRun = { ...(await readWriteLogs(origins.origins)), samples, statuses };
      const refused = writeActions.filter((a) => a.status !== 200);
      if (refused.length) console.log(`admin: ${refused.length} write action(s) refused: ${refused.map((a) => `${a.action.action} ${a.status} ${a.detail.slice(0, 80)}`).join("; ")}`);
    }
    const checkResults = [...(await preChecks)];
    if (multi && plan.checks?.post?.length) {
      // post checks compare content, not faults: every region healed first (its version stamp kept).
      for (const name of originNames) await applyFault(origins.origins[name]!, { mode: "healthy", ...lastVersion(plan, name) }, netnsFor(name), plan.latency?.[name]);
      checkResults.push(...(await runChecks("post", plan.checks.post, checkTargets)));
    }

    // Ship the worker's last points, then read everything the collector and origins saw.
    await fetch(`${worker.url}/__drill/flush`).then((r) => r.text());
    const collected = (await (await fetch(`${origins.collector}/points`)).json()) as { points: DataPoint[]; counters: CounterSample[] };
    const originPerSecond: Record<string, Record<string, number>> = {};
    for (const [originName, url] of Object.entries(origins.origins)) {
      const log = (await (await fetch(`${url}/__control/default?detail=0`)).json()) as { perSecond: Record<string, number> };
      originPerSecond[originName] = log.perSecond;
    }

    const bounds = [0];
    for (const p of plan.phases) bounds.push(bounds[bounds.length - 1]! + p.durationS * 1000);
    const data = {
      plan,
      startedAt: run.startedAtEpochMs,
      bounds,
      results: run.results,
      points: collected.points,
      counters: collected.counters,
      originPerSecond,
      settings: {
        maxAgeS: setting(vars, "LKG_MAX_AGE_SECONDS"),
        threshold: setting(vars, "BREAKER_FAILURE_THRESHOLD"),
        openMaxMs: setting(vars, "BREAKER_OPEN_MAX_MS"),
        timeoutMs: setting(vars, "ORIGIN_TIMEOUT_MS"),
        rateScale: calibration.rateUsed / planRate,
        sharedWritesPerSecond: setting(vars, "LKG_SHARED_WRITES_PER_SECOND"),
      },
      faults: regionRun.faults,
      ...(multi ? { regionRun } : {}),
      ...(writeRun ? { writes: writeRun } : {}),
    };
    const { targets, totals } = evaluate(data);
    if (writeActions.length) targets.push(writeAdminAnswered(writeActions, data.startedAt));
    targets.push(...checkResults);
    for (const t of [machineTarget(calibration), oursVsBareTarget(calibration)]) if (t) targets.push(t);
    const seconds = annotateSeconds(summarizeSeconds(run.results, bounds.slice(0, -1)), data.startedAt, collected.points, originPerSecond, bounds);
    if (multi) addRegionCounts(seconds, run.results);

    const stamp = started.toISOString().replace(/[:.]/g, "-");
    const dir = join(root, "reports", `${plan.name}-${stamp}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "datapoints.json"), JSON.stringify(collected.points));
    // Every request as the client saw it: the raw results every target is computed from.
    await writeFile(join(dir, "results.json"), JSON.stringify(run.results));
    if (writeRun) await writeFile(join(dir, "writes.json"), JSON.stringify({ ...writeRun, actions: writeActions, sends: run.results.filter((r) => r.write) }));
    const reportInput: ReportInput = {
      plan,
      startedAt: started.toISOString(),
      durationS: bounds[bounds.length - 1]! / 1000,
      command,
      seconds,
      targets,
      phaseWindows: plan.phases.map((p, i) => ({ name: p.name, fromS: bounds[i]! / 1000, toS: bounds[i + 1]! / 1000, fault: p.fault, origins: p.origins })),
      totals,
      environment: {
        node: process.version,
        cores: String(cpus().length),
        runtime: "workerd via Miniflare (unsafeDirectSockets), real Durable Object (SQLite), KV and Cache API",
        "load generator": "open loop, constant arrival rate, latency from intended send time (undici, HdrHistogram)",
        vars: JSON.stringify(vars),
      },
      notes: [`Origin latency: ${latencyText(plan)}.`],
      dataPointsFile: "datapoints.json",
      loadStartedAtEpochMs: run.startedAtEpochMs,
      breakerTransitions: breakerTransitionsFrom(collected.points, run.startedAtEpochMs),
      calibration,
      ...(multi ? { regions: { names: originNames, urls: origins.origins, routing: plan.routing ?? {}, actions: regionRun.actions, changes: routingChanges(collected.points) } } : {}),
    };
    let written = await writeReport(dir, reportInput);
    // The dashboard for this run, from the same data points through the same SQL as production;
    // its numbers must match what the clients saw.
    try {
      const dashboard = await drillDashboard(dir);
      const sql = overallTotals(dashboard.rows.totals);
      targets.push(
        dashboardAgreement(fallbackCounts(run.results), { lkg_served: Number(sql["lkg_served"]), lookups: Number(sql["lookups"]), lookup_misses: Number(sql["lookup_misses"]) }),
      );
      reportInput.notes.push("Dashboard for this run (the production SQL on the captured data points): [dashboard.html](dashboard.html)");
      written = await writeReport(dir, reportInput);
      for (const line of dashboard.summary) console.log(`dashboard: ${line}`);
    } catch (err) {
      if ((err as Error).message !== CHDB_MISSING) throw err;
      reportInput.notes.push(`No dashboard: ${CHDB_MISSING}.`);
      written = await writeReport(dir, reportInput);
      console.log(`note: no dashboard for this run: ${CHDB_MISSING}`);
    }
    console.log(`\n${formatTargetsTable(targets)}\n`);
    for (const u of plan.unsupported ?? []) console.log(`not supported yet: ${u.field}: ${u.reason}`);
    console.log(`report: ${relative(process.cwd(), written.md)}`);
    const { verdict, reason } = verdictOf(targets);
    console.log(`drill ${plan.name}: ${verdict.toUpperCase()}${verdict === "pass" ? "" : ` (${reason})`}`);
    return verdict === "pass" ? 0 : verdict === "inconclusive" ? EXIT_INCONCLUSIVE : 1;
  } finally {
    process.off("SIGINT", onSignal);
    try {
      await worker?.dispose();
    } finally {
      origins.stop();
      disposeNetns();
    }
  }
}

/**
 * What this machine sustains with the plan's mix, measured now: our drill worker, then the bare
 * one, each in a fresh workerd against the healthy origin; the collector then forgets their points.
 */
async function calibrateMachine(plan: Plan, planRate: number, workerVars: Record<string, string>, origins: { origins: Record<string, string>; collector: string }): Promise<Calibration> {
  const t0 = Date.now();
  const cap = Math.ceil(planRate / HEADROOM);
  const log = (line: string) => console.log(line);
  const makeRequest = requestMaker({ ...plan.mix, hostile: undefined });
  const workers: Awaited<ReturnType<typeof startWorker>>[] = [];
  try {
    // Both stay up until the end: a recheck measures each again in the state its ladder left it.
    const oursWorker = await startWorker({ entry: "scripts/drill/worker/entry.ts", port: await freePort(), productBindings: true, vars: workerVars, yieldToLoad: true });
    workers.push(oursWorker);
    // The machine is measured with the users' mix: hostile requests fail by design.
    const ours = await climb(oursWorker.url, cap, makeRequest, log, "ours");
    const bareWorker = await startWorker({
      entry: "scripts/drill/worker/bare-tapped.ts",
      port: await freePort(),
      productBindings: false,
      vars: { ORIGIN_URL: Object.values(origins.origins)[0]!, DRILL_COLLECTOR_URL: origins.collector },
      yieldToLoad: true,
    });
    workers.push(bareWorker);
    const bare = await climb(bareWorker.url, cap, makeRequest, log, "bare");
    let recheck: Calibration["recheck"];
    if (!laddersSettleRatio(ours, bare, cap)) {
      recheck = await recheckOursVsBare({ ours: oursWorker.url, bare: bareWorker.url }, bare.sustained, cap, (url, rate) => measureRung(url, rate, makeRequest), log);
      // What ours held on the recheck is what it sustains: the drill's rate follows from it.
      if (recheck.outcome === "pass") ours.sustained = Math.max(ours.sustained, recheck.rate);
    }
    await fetch(`${origins.collector}/reset`, { method: "POST" }).then((r) => r.text());
    return { planRate, cap, ...chooseRate(planRate, ours.sustained), bare, ours, ...(recheck ? { recheck } : {}), durationS: (Date.now() - t0) / 1000 };
  } finally {
    for (const w of workers) await w.dispose();
  }
}

/** The version stamp a region's last setting in the plan gives it (post checks keep it when they heal the region). */
function lastVersion(plan: Plan, region: string): { version?: string } {
  let version: string | undefined;
  for (const p of plan.phases) {
    const s = p.origins[region];
    if (s) version = s.version;
  }
  return version !== undefined ? { version } : {};
}

/** Answers per second by the region that answered (by intended time, as the rest of the series). */
function addRegionCounts(seconds: SecondStats[], results: RequestResult[]): void {
  for (const s of seconds) s.regions = {};
  for (const r of results) {
    if (r.status === 0) continue;
    const s = seconds[Math.floor(r.intendedAt / 1000)];
    if (s) s.regions![r.region] = (s.regions![r.region] ?? 0) + 1;
  }
}

/** Adds the breaker state (from the object's transitions) and the origin's request counts to each second. */
function annotateSeconds(seconds: SecondStats[], startedAt: number, points: DataPoint[], originPerSecond: Record<string, Record<string, number>>, bounds: number[]): SecondStats[] {
  const end = startedAt + bounds[bounds.length - 1]!;
  const intervals = openIntervals(points, end);
  const halfOpen = points.filter((p) => p.blobs?.[0] === "breaker" && p.blobs?.[2] === "half-open").map((p) => p.timestamp);
  return seconds.map((s) => {
    const from = startedAt + s.second * 1000;
    const to = from + 1000;
    const open = intervals.some((iv) => iv.from < to && iv.to > from);
    const probing = halfOpen.some((t) => t >= from && t < to);
    let originRequests = 0;
    for (const perSecond of Object.values(originPerSecond)) originRequests += perSecond[String(Math.floor(from / 1000))] ?? 0;
    return { ...s, breaker: probing ? "half-open" : open ? "open" : "closed", originRequests };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`drill: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}

/** Every write-lease action the plan sends is taken (200). */
function writeAdminAnswered(actions: WriteActionRecord[], startedAt: number): TargetResult {
  const refused = actions.filter((a) => a.status !== 200);
  return {
    name: "admin write actions answered 200",
    target: "every write-lease action the plan sends is taken (200)",
    measured: actions.map((a) => `${a.action.action}${a.action.action === "promote" ? ` ${a.action.region}` : ""} at ${((a.sentAt - startedAt) / 1000).toFixed(1)} s: ${a.status || "no answer"}${a.status !== 200 ? ` ${a.detail.slice(0, 120)}` : ""}`).join("; "),
    pass: refused.length === 0,
  };
}
