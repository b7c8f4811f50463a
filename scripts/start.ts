/**
 * `npm start`: the local demo. Starts the fake origin and `wrangler dev` (local mode) in front of it,
 * prints how to try the fallback, and stops both on Ctrl-C / SIGTERM.
 *
 * `npm start -- --smoke`: the same two processes, then one healthy request, the origin flipped to
 * 502, the same request again, which must be the stored copy (200, Cache-Status "hit", Age).
 * Exits 0 or 1 within 60 s, so CI can run it. It uses free ports and a throw-away state folder
 * unless --port / --origin-port are given, so it also runs beside a running demo.
 *
 * Options: --port N (worker, default 8787), --origin-port N (fake origin, default 8788), --verbose.
 * Both ports are checked before anything starts; a busy one ends it with one sentence naming the
 * port and the option that moves it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, stripVTControlCharacters } from "node:util";
import { startFakeOrigin, type FakeOrigin } from "./lib/fake-origin.ts";

const HOST = "127.0.0.1";
const SMOKE_BUDGET_MS = 55_000; // Under the 60 s promised to CI, cleanup included.
const DEMO_READY_MS = 90_000;
const STOP_GRACE_MS = 5_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const USAGE = `usage: npm start [-- --smoke] [--port 8787] [--origin-port 8788] [--verbose]
  --port N         the worker's port (default 8787; --smoke: a free one)
  --origin-port N  the fake origin's port (default 8788; --smoke: a free one)
  --smoke          one request, the origin flipped to 502, the fallback answer checked; exits 0 or 1
  --verbose        with --smoke, show wrangler's output as it comes`;

let opts: { smoke?: boolean; port?: string; "origin-port"?: string; verbose?: boolean; help?: boolean };
try {
  opts = parseArgs({
    options: {
      smoke: { type: "boolean", default: false },
      port: { type: "string" },
      "origin-port": { type: "string" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  console.error(`start: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const smoke = opts.smoke === true;
const verbose = opts.verbose === true;

let origin: FakeOrigin | undefined;
let wrangler: ChildProcess | undefined;
let wranglerExit: Promise<number | null> | undefined;
let persistDir: string | undefined;
let stopping: Promise<void> | undefined;
/** Set once wrangler's group is gone, so its (reusable) group id is never signalled again. */
let groupReaped = false;
/** Wrangler's output; in smoke mode shown only when something goes wrong (or with --verbose). */
const wranglerLog: string[] = [];

function log(line: string): void {
  console.log(smoke ? `smoke: ${line}` : line);
}

function port(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${value}`);
  return n;
}

/**
 * Whether something already listens on HOST:p. Checked before anything starts: otherwise a busy
 * worker port is only noticed when whatever holds it answers the health check, and the message
 * blames the worker.
 */
function portInUse(p: number): Promise<boolean> {
  return new Promise((resolveBusy, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") resolveBusy(true);
      else reject(new Error(`cannot listen on ${HOST}:${p} (${err.code ?? err.message})`));
    });
    server.listen({ port: p, host: HOST, exclusive: true }, () => server.close(() => resolveBusy(false)));
  });
}

/** Fails with one sentence per busy port, naming the option that moves it. */
async function checkPorts(ports: { port: number; what: string; option: string }[]): Promise<void> {
  const [a, b] = ports;
  if (a && b && a.port !== 0 && a.port === b.port) throw new Error(`${a.what} and ${b.what} cannot share port ${a.port}: give ${a.option} and ${b.option} different ports`);
  const busy: string[] = [];
  for (const { port: p, what, option } of ports) {
    if (p !== 0 && (await portInUse(p))) {
      busy.push(`port ${p} on ${HOST}, ${what}'s, is already in use (another \`npm start\`?): stop what holds it, or choose another port with \`npm start -- ${option} N\``);
    }
  }
  if (busy.length > 0) throw new Error(busy.join("\n       "));
}

/** A port nobody listens on right now (small race, fine for a local demo and CI). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => resolvePort(p));
    });
  });
}

function startWrangler(workerPort: number, inspectorPort: number, originUrl: string, adminToken?: string): void {
  const args = [
    "dev",
    "--local",
    "--ip",
    HOST,
    "--port",
    String(workerPort),
    "--inspector-port",
    String(inspectorPort),
    "--var",
    `ORIGINS:${JSON.stringify([{ name: "primary", url: originUrl, weight: 1 }])}`,
    "--show-interactive-dev-session=false",
  ];
  if (persistDir) args.push("--persist-to", persistDir);
  if (adminToken) args.push("--var", `ADMIN_TOKEN:${adminToken}`);
  const bin = join(root, "node_modules", ".bin");
  wrangler = spawn(join(bin, "wrangler"), args, {
    cwd: root,
    // Its own process group, so Ctrl-C reaches us first and we stop it (and workerd) in order.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      // The wrangler shebang must find the same Node 22 we run on, even outside `npm run`.
      PATH: [dirname(process.execPath), bin, process.env["PATH"] ?? ""].join(":"),
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      FORCE_COLOR: smoke ? "0" : (process.env["FORCE_COLOR"] ?? (process.stdout.isTTY ? "1" : "0")),
    },
  });
  const child = wrangler;
  wranglerExit = new Promise((done) => child.once("exit", (code, signal) => done(code ?? (signal ? 128 : null))));
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8");
    let partial = "";
    const emit = (text: string) => {
      if (smoke && !verbose) wranglerLog.push(text);
      else process.stdout.write(text.replace(/^(?=.)/gm, "[wrangler] "));
    };
    // Whole lines only, so the prefix never lands in the middle of one.
    stream.on("data", (chunk: string) => {
      const text = partial + chunk;
      const cut = text.lastIndexOf("\n") + 1;
      partial = text.slice(cut);
      if (cut > 0) emit(text.slice(0, cut));
    });
    stream.on("end", () => partial && emit(partial + "\n"));
  }
  // If this process dies unexpectedly, take the whole wrangler group (workerd included) with it.
  process.once("exit", () => killGroup("SIGKILL"));
}

/** Signals wrangler's whole process group (wrangler, its cli child, workerd); never after it was reaped. */
function killGroup(signal: NodeJS.Signals): void {
  const pid = wrangler?.pid;
  if (pid === undefined || groupReaped) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
/**
 * Stops wrangler and the fake origin. Idempotent. SIGTERM goes to wrangler alone, which passes it
 * on and shuts workerd down itself; whatever of its group is left after that, or after a grace
 * period, gets SIGKILL.
 */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    if (wrangler?.pid !== undefined && wranglerExit) {
      if (wrangler.exitCode === null && wrangler.signalCode === null) {
        try {
          process.kill(wrangler.pid, "SIGTERM");
        } catch {
          // Exited meanwhile.
        }
      }
      const timer = setTimeout(() => killGroup("SIGKILL"), STOP_GRACE_MS);
      await wranglerExit;
      clearTimeout(timer);
      killGroup("SIGKILL");
      groupReaped = true;
    }
    await origin?.close();
    if (persistDir) rmSync(persistDir, { recursive: true, force: true });
  })();
  return stopping;
}

async function get(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/**
 * Waits until the worker answers its health route; fails early if wrangler exits or the config is
 * refused. With the admin headers it reads the full page (config digest, LKG counters), else the public one.
 */
async function waitReady(workerUrl: string, budgetMs: number, headers: Record<string, string> = {}): Promise<{ configDigest?: string; version?: string }> {
  const deadline = Date.now() + budgetMs;
  let exited: number | null | undefined;
  void wranglerExit?.then((code) => (exited = code));
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`wrangler dev exited (code ${exited}) before the worker was ready`);
    try {
      const res = await get(`${workerUrl}/__edge/health`, { headers }, 2_000);
      if (res.status === 200) return JSON.parse(res.body) as { configDigest?: string; version?: string };
      // Our worker answers its health route with 200, or 500 and JSON for a refused configuration;
      // anything else is most likely another server that took the port after the check.
      const ours = res.headers.get("content-type")?.includes("application/json") === true;
      throw new Error(
        ours
          ? `the worker answers /__edge/health with ${res.status}: ${res.body}`
          : `${workerUrl}/__edge/health answers ${res.status} and not as this worker does: is another server listening on that port? Choose another with \`npm start -- --port N\``,
        { cause: "fatal" },
      );
    } catch (err) {
      if ((err as Error).cause === "fatal") throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the worker was not ready after ${Math.round(budgetMs / 1000)} s`);
}

async function control(setting: Record<string, unknown>): Promise<void> {
  const res = await get(`${origin!.url}/__control/default`, { method: "POST", body: JSON.stringify(setting) });
  if (res.status !== 200) throw new Error(`fake origin refused ${JSON.stringify(setting)}: ${res.status} ${res.body}`);
}

// --- the demo -----------------------------------------------------------------------------------

async function demo(): Promise<void> {
  const workerPort = port(opts.port, 8787);
  const originPort = port(opts["origin-port"], 8788);
  await checkPorts([
    { port: workerPort, what: "the worker", option: "--port" },
    { port: originPort, what: "the fake origin", option: "--origin-port" },
  ]);
  origin = await startFakeOrigin(originPort, HOST).catch((err: unknown) => {
    throw new Error(`the fake origin cannot listen on ${HOST}:${originPort} (${(err as Error).message}); is a demo already running? Choose another port with \`npm start -- --origin-port N\``);
  });
  const workerUrl = `http://${HOST}:${workerPort}`;
  log(`fake origin listening on ${origin.url}; starting wrangler dev on ${workerUrl} ...`);
  startWrangler(workerPort, await freePort(), origin.url);

  const stopOnSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping wrangler dev and the fake origin ...`);
    void stopAll().then(() => {
      log("stopped.");
      process.exit(0);
    });
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  void wranglerExit!.then(async (code) => {
    if (stopping) return;
    log(`wrangler dev exited (code ${code}); stopping the fake origin.`);
    await stopAll();
    process.exit(code === 0 ? 0 : 1);
  });

  const health = await waitReady(workerUrl, DEMO_READY_MS);
  const o = origin.url;
  console.log(`
edge-fallback ${health.version ?? "?"} is running
  worker        ${workerUrl}   wrangler dev, local mode, ORIGINS -> ${o}
  fake origin   ${o}   scripts/lib/fake-origin.ts

Try it:
  1. A healthy answer; the worker stores it as the last-known-good copy:
       curl -i ${workerUrl}/hello
  2. Make the origin fail:
       curl -X POST ${o}/__control/default -d '{"mode":"status","status":502}'
  3. Within 30 s the same request is answered from the stored copy, marked with
     Age and Cache-Status (hit; detail=stale-origin-5xx). After 30 s you get the 502.
       curl -i ${workerUrl}/hello
  4. Public status (ok or degraded, each origin's breaker state, version):
       curl -s ${workerUrl}/__edge/health
     The full page (origin URLs, breaker timings, LKG counters, config digest) needs the admin token:
       curl -s -H "authorization: Bearer $ADMIN_TOKEN" ${workerUrl}/__edge/health
  5. Heal the origin:
       curl -X POST ${o}/__control/default -d '{"mode":"healthy"}'
  Other origin modes: blackhole, reset, truncate, stall-body, flaky ({"mode":"flaky","failRate":0.5}).
  The full health page and the admin routes need ADMIN_TOKEN=... in .dev.vars (restart after adding it).

Ctrl-C stops both.`);
}

// --- the smoke test -----------------------------------------------------------------------------

async function runSmoke(): Promise<boolean> {
  const started = Date.now();
  const workerPort = opts.port !== undefined ? port(opts.port, 8787) : await freePort();
  const originPort = port(opts["origin-port"], 0);
  await checkPorts([
    { port: workerPort, what: "the worker", option: "--port" },
    { port: originPort, what: "the fake origin", option: "--origin-port" },
  ]);
  origin = await startFakeOrigin(originPort, HOST);
  persistDir = mkdtempSync(join(tmpdir(), "edge-fallback-smoke-"));
  const workerUrl = `http://${HOST}:${workerPort}`;
  // A throw-away admin token for this run only: the smoke reads the full health page (config digest,
  // LKG counters), which the public page no longer shows.
  const adminToken = randomBytes(16).toString("hex");
  const admin = { authorization: `Bearer ${adminToken}` };
  startWrangler(workerPort, await freePort(), origin.url, adminToken);

  const health = await waitReady(workerUrl, SMOKE_BUDGET_MS - 15_000, admin);
  log(`worker ready on ${workerUrl} after ${((Date.now() - started) / 1000).toFixed(1)} s (config digest ${health.configDigest ?? "?"}), origin ${origin.url}`);

  const path = "/smoke";
  const first = await get(`${workerUrl}${path}`);
  log(`1. GET ${path} with a healthy origin -> ${first.status}, cache-status: ${first.headers.get("cache-status")}`);
  if (first.status !== 200) throw new Error(`expected 200 from a healthy origin, got ${first.status}: ${first.body}`);
  const firstSeq = (JSON.parse(first.body) as { seq?: number }).seq;

  // The copy is written in waitUntil; wait until the isolate's memory tier holds it.
  const storeDeadline = Date.now() + 5_000;
  while (Date.now() < storeDeadline) {
    const h = JSON.parse((await get(`${workerUrl}/__edge/health`, { headers: admin })).body) as { lkg?: { counters?: { stores?: Record<string, number> } } };
    const stores = h.lkg?.counters?.stores ?? {};
    if (Object.values(stores).some((n) => n > 0)) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  await control({ mode: "status", status: 502 });
  log(`2. origin flipped to 502`);
  const second = await get(`${workerUrl}${path}`);
  const cacheStatus = second.headers.get("cache-status") ?? "";
  const age = second.headers.get("age");
  log(`3. GET ${path} with the origin failing -> ${second.status}, age: ${age}, cache-status: ${cacheStatus}`);

  const problems: string[] = [];
  if (second.status !== 200) problems.push(`status ${second.status}, expected 200 (body: ${second.body.slice(0, 300)})`);
  if (!cacheStatus.includes("hit")) problems.push(`cache-status ${JSON.stringify(cacheStatus)} does not contain "hit"`);
  if (age === null) problems.push("no Age header");
  if (second.status === 200) {
    const seq = (JSON.parse(second.body) as { seq?: number }).seq;
    if (seq !== firstSeq) problems.push(`body seq ${seq}, expected the stored copy's seq ${firstSeq}`);
  }
  if (problems.length > 0) throw new Error(`the fallback answer is wrong:\n  - ${problems.join("\n  - ")}`);
  log(`PASS: the failing origin's request was answered from the last-known-good copy (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return true;
}

// --- main ---------------------------------------------------------------------------------------

if (smoke) {
  let ok = false;
  let interrupted = false;
  const budget = setTimeout(() => {
    console.error(`smoke: FAIL: no result within ${SMOKE_BUDGET_MS / 1000} s`);
    void finish();
  }, SMOKE_BUDGET_MS);
  const finish = async () => {
    clearTimeout(budget);
    if (!ok && !verbose && wranglerLog.length > 0) {
      console.error("smoke: wrangler dev output:\n" + stripVTControlCharacters(wranglerLog.join("")).replace(/^(?=.)/gm, "  [wrangler] "));
    }
    await stopAll();
    process.exit(ok ? 0 : 1);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`smoke: ${signal}, stopping`);
      void finish();
    });
  }
  try {
    ok = await runSmoke();
  } catch (err) {
    if (!interrupted) console.error(`smoke: FAIL: ${err instanceof Error ? err.message : String(err)}`);
  }
  await finish();
} else {
  demo().catch(async (err: unknown) => {
    console.error(`start: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    process.exit(1);
  });
}
