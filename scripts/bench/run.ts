/**
 * `npm run bench`: the same fixed-rate, open-loop load against (a) a bare pass-through worker,
 * (b) our worker with a healthy origin, (c) our worker with the origin partitioned (answers from
 * the LKG store) and (d) nginx with proxy_cache_use_stale under the same partition. Finds each
 * one's highest sustained rate (p99 < 50 ms, no late or unsent requests, no failures), then
 * measures all four at one common rate, alternating, and prints ratios measured in this run.
 * Writes reports/bench-<time>/bench.json and bench.md. Loopback only, bounded in time.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startOrigins } from "../drill/run.ts";
import { percentile, runLoad, type RequestSpec } from "../drill/load.ts";
import { startWorker, type RunningWorker } from "../drill/runtime.ts";
import type { RequestResult } from "../drill/types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const KEYS = 100;
const STEP_S = Number(process.env["BENCH_STEP_S"] ?? 4);
const RATES = (process.env["BENCH_RATES"] ?? "500,1000,2000,3000,4000,6000,8000,10000").split(",").map(Number);
const COMMON_RATE = Number(process.env["BENCH_COMMON_RATE"] ?? 1000);
const ROUNDS = 2;

type TargetName = "bare" | "ours-healthy" | "ours-partitioned" | "nginx-partitioned";

interface Target {
  name: TargetName;
  url: string;
  /** Puts the target into the state to be measured (warm copies, origin cut off). */
  prepare(): Promise<void>;
}

interface Step {
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  late: number;
  unsent: number;
  failed: number;
  sustained: boolean;
}

const makeRequest = (seq: number): RequestSpec => {
  const key = `/bench/${seq % KEYS}`;
  return { method: "GET", path: key, headers: {}, key, user: "anonymous" };
};

async function measure(url: string, rate: number, durationS: number): Promise<Step> {
  const run = await runLoad({ baseUrl: url, phases: [{ rate, durationS }], makeRequest, timeoutMs: 10_000 });
  const results: RequestResult[] = run.results;
  const sent = results.filter((r) => r.error !== "unsent");
  const late = sent.filter((r) => r.sendDelayMs > 5).length;
  const unsent = results.length - sent.length;
  const failed = sent.filter((r) => r.status !== 200).length;
  const p99 = percentile(results, 99);
  const lastAnswer = Math.max(...sent.map((r) => r.intendedAt + r.latencyMs), 1);
  const achieved = sent.filter((r) => r.status > 0).length / (lastAnswer / 1000);
  return {
    rate,
    achieved: Math.round(achieved),
    p50: +percentile(results, 50).toFixed(2),
    p99: +p99.toFixed(2),
    late,
    unsent,
    failed,
    sustained: p99 < 50 && late <= 0.01 * results.length && unsent === 0 && failed === 0,
  };
}

async function setOrigin(originUrl: string, setting: unknown): Promise<void> {
  await fetch(`${originUrl}/__control/default`, { method: "POST", body: JSON.stringify(setting) }).then((r) => r.text());
}

async function warm(url: string): Promise<void> {
  for (let i = 0; i < KEYS; i++) await fetch(`${url}/bench/${i}`).then((r) => r.arrayBuffer());
}

function nginxConfig(dir: string, port: number, originPort: number): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=lkg:10m max_size=100m inactive=60s use_temp_path=off;
  upstream origin {
    server 127.0.0.1:${originPort} max_fails=1 fail_timeout=5s;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache lkg;
      proxy_cache_valid 200 30s;
      proxy_cache_use_stale error timeout http_500 http_502 http_503 http_504 updating;
      proxy_connect_timeout 5s;
      proxy_read_timeout 5s;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }
}
`;
}

async function startNginx(originPort: number): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => spawnSync(p, ["-v"]).status === 0);
  if (!nginx) throw new Error("nginx is not installed: run `apt-get update && apt-get install -y nginx-light` (Debian), or set BENCH_SKIP_NGINX=1");
  const dir = await mkdtemp(join(tmpdir(), "edge-fallback-nginx-"));
  const port = await freePort();
  await writeFile(join(dir, "nginx.conf"), nginxConfig(dir, port, originPort));
  const child = spawn(nginx, ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await fetch(`${url}/ping`).then(() => true, () => false)) return { url, child, dir };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("nginx did not start");
}

async function main(): Promise<void> {
  console.log(`bench: ${cpus().length} cores; rates ${RATES.join(", ")} req/s, ${STEP_S} s each; common rate ${COMMON_RATE} req/s x ${ROUNDS} rounds`);
  const origins = await startOrigins(["primary"]);
  const originUrl = origins.origins["primary"]!;
  const originPort = Number(new URL(originUrl).port);
  const workers: RunningWorker[] = [];
  let nginx: { url: string; child: ChildProcess; dir: string } | undefined;
  try {
    const bare = await startWorker({ entry: "scripts/drill/worker/bare.ts", port: await freePort(), productBindings: false, vars: { ORIGIN_URL: originUrl } });
    workers.push(bare);
    const ours = await startWorker({
      entry: "src/index.ts",
      port: await freePort(),
      productBindings: true,
      vars: { ORIGINS: JSON.stringify([{ name: "primary", url: originUrl, weight: 1 }]) },
    });
    workers.push(ours);
    if (!process.env["BENCH_SKIP_NGINX"]) nginx = await startNginx(originPort);

    // Partitioned: fresh copies of every key, the origin cut off, the breaker tripped by a few requests.
    const partition = async (url: string) => {
      await setOrigin(originUrl, { mode: "healthy" });
      await warm(url);
      await setOrigin(originUrl, { mode: "blackhole" });
      await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${url}/bench/${i}`).then((r) => r.arrayBuffer(), () => undefined)));
    };
    const targets: Target[] = [
      { name: "bare", url: bare.url, prepare: () => setOrigin(originUrl, { mode: "healthy" }) },
      { name: "ours-healthy", url: ours.url, prepare: async () => (await setOrigin(originUrl, { mode: "healthy" }), await warm(ours.url)) },
      { name: "ours-partitioned", url: ours.url, prepare: () => partition(ours.url) },
    ];
    if (nginx) targets.push({ name: "nginx-partitioned", url: nginx.url, prepare: () => partition(nginx!.url) });

    const ladder: Record<string, Step[]> = {};
    for (const t of targets) {
      ladder[t.name] = [];
      for (const rate of RATES) {
        await t.prepare();
        const step = await measure(t.url, rate, STEP_S);
        ladder[t.name]!.push(step);
        console.log(`  ${t.name.padEnd(18)} ${String(rate).padStart(6)} req/s -> achieved ${step.achieved}, p50 ${step.p50} ms, p99 ${step.p99} ms, late ${step.late}, unsent ${step.unsent}, failed ${step.failed} ${step.sustained ? "ok" : "NOT sustained"}`);
        if (!step.sustained) break;
      }
    }

    const common: Record<string, Step[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        await t.prepare();
        const step = await measure(t.url, COMMON_RATE, STEP_S);
        (common[t.name] ??= []).push(step);
        console.log(`  round ${round + 1} ${t.name.padEnd(18)} at ${COMMON_RATE} req/s: p50 ${step.p50} ms, p99 ${step.p99} ms, failed ${step.failed}`);
      }
    }

    const maxSustained = (name: string) => Math.max(0, ...(ladder[name] ?? []).filter((s) => s.sustained).map((s) => s.rate));
    const med = (name: string, k: "p50" | "p99") => {
      const v = (common[name] ?? []).map((s) => s[k]).sort((a, b) => a - b);
      return v.length ? v[Math.floor((v.length - 1) / 2)]! : NaN;
    };
    const failedAtCommon = (name: string) => (common[name] ?? []).reduce((n, s) => n + s.failed, 0);
    const rows = targets.map((t) => ({
      target: t.name,
      maxSustained: maxSustained(t.name),
      p50: med(t.name, "p50"),
      p99: med(t.name, "p99"),
      failed: failedAtCommon(t.name),
    }));
    const ratio = (a: number, b: number) => (b > 0 ? +(a / b).toFixed(2) : NaN);
    const ratios = {
      "ours-healthy / bare, p99 at common rate": ratio(med("ours-healthy", "p99"), med("bare", "p99")),
      "ours-healthy / bare, max sustained rate": ratio(maxSustained("ours-healthy"), maxSustained("bare")),
      "ours-partitioned / bare, max sustained rate": ratio(maxSustained("ours-partitioned"), maxSustained("bare")),
      ...(nginx
        ? {
            "ours-partitioned / nginx-partitioned, max sustained rate": ratio(maxSustained("ours-partitioned"), maxSustained("nginx-partitioned")),
            "ours-partitioned / nginx-partitioned, p99 at common rate": ratio(med("ours-partitioned", "p99"), med("nginx-partitioned", "p99")),
          }
        : {}),
    };
    const table = [
      `| target | max sustained req/s (p99 < 50 ms, no late/unsent/failed) | p50 at ${COMMON_RATE} req/s | p99 at ${COMMON_RATE} req/s | failed at ${COMMON_RATE} req/s |`,
      "|---|---|---|---|---|",
      ...rows.map((r) => `| ${r.target} | ${r.maxSustained || `< ${RATES[0]}`} | ${r.p50} ms | ${r.p99} ms | ${r.failed} |`),
      "",
      "| ratio (this run) | value |",
      "|---|---|",
      ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v} |`),
    ].join("\n");
    console.log(`\n${table}\n`);
    const limit = RATES[RATES.length - 1]!;
    const notes = [
      `Load generator, workerd, the fake origin and nginx share ${cpus().length} cores; a rate that is not sustained may be limited by any of them.`,
      `Highest rate tried: ${limit} req/s; a target sustaining it may go higher.`,
      "nginx: proxy_cache_valid 200 30s, proxy_cache_use_stale error timeout http_500..504 updating, max_fails=1 fail_timeout=5s, 1 worker process.",
    ];
    const dir = join(root, "reports", `bench-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "bench.json"), JSON.stringify({ ladder, common, rows, ratios, notes, rates: RATES, stepS: STEP_S, commonRate: COMMON_RATE }, null, 2));
    await writeFile(join(dir, "bench.md"), `# Benchmark\n\nCommand: \`npm run bench\`\n\n${table}\n\n${notes.map((n) => `- ${n}`).join("\n")}\n`);
    console.log(notes.map((n) => `note: ${n}`).join("\n"));
    console.log(`bench: ${relative(process.cwd(), join(dir, "bench.md"))}`);
  } finally {
    for (const w of workers) await w.dispose();
    if (nginx) {
      nginx.child.kill("SIGQUIT");
      await rm(nginx.dir, { recursive: true, force: true });
    }
    origins.child.stdin?.end();
    origins.child.kill("SIGTERM");
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
