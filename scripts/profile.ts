/**
 * `npm run profile [-- <target>] [--rate N] [--seconds N]`: a V8 CPU profile of one worker under
 * fixed-rate healthy load, taken through workerd's inspector, and its top functions by self time.
 * `npm run profile -- --compare bare,ours-nostore,... [--rounds N]`: no profiler, only each
 * workerd's CPU per answered request (from /proc), the targets alternating in rounds, and the
 * ratio of the medians to bare: a quick A/B of a change, far quicker than `npm run bench`.
 * Targets: ours (as deployed: memory, Cache API, KV), ours-memory, ours-nostore (stores nothing),
 * bare (the pass-through worker). Writes reports/profile-<target>-<time>.cpuprofile (open it in
 * Chrome DevTools) and prints the table. Loopback only; bounded in time.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WebSocket } from "undici";
import { runLoad } from "./drill/load.ts";
import { freePort, startOrigins } from "./drill/run.ts";
import { startWorker, type RunningWorker } from "./drill/runtime.ts";
import { procCpuMs } from "./lib/proc-cpu.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function connect(url: string): Promise<{ send(method: string, params?: object): Promise<Record<string, unknown>>; close(): void }> {
  // Miniflare's inspector proxy admits DevTools-like clients: a local Origin is required.
  const ws = new WebSocket(url, { headers: { origin: "http://localhost" } });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`cannot open the inspector at ${url}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, (v: Record<string, unknown>) => void>();
  ws.addEventListener("message", (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.error ? { error: msg.error.message } : (msg.result ?? {}));
  });
  return {
    send(method, params = {}) {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve));
    },
    close: () => ws.close(),
  };
}

/** Self time per function (ms), from the profile's samples. */
export function topFunctions(profile: Profile, limit: number): { name: string; where: string; selfMs: number; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byName = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.split("/").pop() ?? "";
    const name = f.functionName || "(anonymous)";
    const key = `${name}@${file}:${f.lineNumber + 1}`;
    const e = byName.get(key) ?? { name, where: file ? `${file}:${f.lineNumber + 1}` : "", us: 0 };
    e.us += us;
    byName.set(key, e);
  }
  return [...byName.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ name: e.name, where: e.where, selfMs: +(e.us / 1000).toFixed(1), share: +((100 * e.us) / Math.max(1, total)).toFixed(1) }));
}

const TARGETS: Record<string, { entry: string; vars: Record<string, string>; product: boolean }> = {
  ours: { entry: "src/index.ts", vars: {}, product: true },
  "ours-memory": { entry: "src/index.ts", vars: { LKG_TIERS: '["memory"]' }, product: true },
  "ours-nostore": { entry: "src/index.ts", vars: { LKG_TIERS: '["memory"]', LKG_ROUTES: '["/never"]' }, product: true },
  bare: { entry: "scripts/drill/worker/bare.ts", vars: {}, product: false },
  // Two regions on one origin (failover mode, home first): what routing adds to a healthy request.
  "ours-regions": { entry: "src/index.ts", vars: { STICKY_SECRET: "profile-sticky-secret-0123456789" }, product: true },
};
// PROFILE_BEFORE=<dir>: the same targets built from another checkout of the product (e.g. a git
// worktree of an earlier commit inside this repository), named before-<target>, for before/after.
const before = process.env["PROFILE_BEFORE"];
if (before) for (const [name, t] of Object.entries({ ...TARGETS })) if (t.product) TARGETS[`before-${name}`] = { ...t, entry: `${before}/${t.entry}` };

const makeRequest = (seq: number) => ({ method: "GET", path: `/bench/${seq % 100}`, headers: {}, key: "", user: "anonymous" });

function workerVars(name: string, originUrl: string): Record<string, string> {
  const target = TARGETS[name]!;
  const origins = name.endsWith("ours-regions")
    ? [
        { name: "primary", url: originUrl, home: true },
        { name: "second", url: originUrl },
      ]
    : [{ name: "primary", url: originUrl, weight: 1 }];
  return target.product ? { ORIGINS: JSON.stringify(origins), ...target.vars } : { ORIGIN_URL: originUrl, ...target.vars };
}

const cpuOf = (w: RunningWorker) => w.pids.reduce((n, pid) => n + (procCpuMs(pid) || 0), 0);

/** CPU µs per answered request of each target, in alternating rounds; medians and ratios to bare. */
async function compare(names: string[], rate: number, seconds: number, rounds: number): Promise<void> {
  for (const n of names) if (!TARGETS[n]) throw new Error(`unknown target ${JSON.stringify(n)}: one of ${Object.keys(TARGETS).join(", ")}`);
  const origins = await startOrigins(["primary"]);
  const originUrl = origins.origins["primary"]!;
  const workers: Record<string, RunningWorker> = {};
  try {
    for (const n of names) workers[n] = await startWorker({ entry: TARGETS[n]!.entry, port: await freePort(), productBindings: TARGETS[n]!.product, vars: workerVars(n, originUrl) });
    for (const n of names) await runLoad({ baseUrl: workers[n]!.url, phases: [{ rate, durationS: 3 }], makeRequest });
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      for (const n of names) {
        const w = workers[n]!;
        const before = cpuOf(w);
        const run = await runLoad({ baseUrl: w.url, phases: [{ rate, durationS: seconds }], makeRequest });
        // Let deferred work (stores in waitUntil) finish and count.
        await new Promise((r) => setTimeout(r, 500));
        const answered = run.results.filter((r) => r.status > 0).length;
        const us = ((cpuOf(w) - before) * 1000) / Math.max(1, answered);
        samples[n]!.push(us);
        console.log(`round ${round + 1} ${n.padEnd(13)} ${Math.round(us)} µs/request (${answered} answers)`);
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
    const bare = samples["bare"] ? median(samples["bare"]) : undefined;
    console.log(`| target | CPU µs/request (median of ${rounds}) | / bare |\n|---|---|---|`);
    for (const n of names) console.log(`| ${n} | ${Math.round(median(samples[n]!))} | ${bare ? (median(samples[n]!) / bare).toFixed(2) : ""} |`);
  } finally {
    for (const w of Object.values(workers)) await w.dispose();
    origins.stop();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: { rate: { type: "string" }, seconds: { type: "string" }, compare: { type: "string" }, rounds: { type: "string" } },
    allowPositionals: true,
  });
  if (values.compare) {
    const rounds = Number(values.rounds ?? 3);
    if (!(rounds >= 1 && rounds <= 20)) throw new Error("--rounds 1..20");
    return compare(values.compare.split(","), Number(values.rate ?? 200), Number(values.seconds ?? 8), rounds);
  }
  const name = positionals[0] ?? "ours-nostore";
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target ${JSON.stringify(name)}: one of ${Object.keys(TARGETS).join(", ")}`);
  const rate = Number(values.rate ?? 200);
  const seconds = Number(values.seconds ?? 10);
  if (!(rate >= 1 && rate <= 5000) || !(seconds >= 1 && seconds <= 120)) throw new Error("--rate 1..5000 and --seconds 1..120");
  const origins = await startOrigins(["primary"]);
  const originUrl = origins.origins["primary"]!;
  const inspectorPort = await freePort();
  const vars = workerVars(name, originUrl);
  const worker = await startWorker({ entry: target.entry, port: await freePort(), productBindings: target.product, vars, inspectorPort });
  try {
    // Warm up first: the profile is of the steady state, not of compiling the code.
    await runLoad({ baseUrl: worker.url, phases: [{ rate, durationS: 3 }], makeRequest });
    const cdp = await connect(`ws://127.0.0.1:${inspectorPort}/worker`);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    await cdp.send("Profiler.start");
    const run = await runLoad({ baseUrl: worker.url, phases: [{ rate, durationS: seconds }], makeRequest });
    const { profile } = (await cdp.send("Profiler.stop")) as { profile: Profile };
    cdp.close();
    const answered = run.results.filter((r) => r.status > 0).length;
    const dir = join(root, "reports");
    await mkdir(dir, { recursive: true });
    const file = join(dir, `profile-${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    const top = topFunctions(profile, 25);
    const sampledMs = (profile.endTime - profile.startTime) / 1000;
    console.log(`profile ${name}: ${answered} answers at ${rate} req/s over ${seconds} s; ${sampledMs.toFixed(0)} ms profiled`);
    console.log("| self ms | share | function | where |\n|---|---|---|---|");
    for (const t of top) console.log(`| ${t.selfMs} | ${t.share} % | ${t.name} | ${t.where} |`);
    console.log(`profile: ${relative(process.cwd(), file)}`);
  } finally {
    await worker.dispose();
    origins.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`profile: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
