/**
 * nginx from Debian as the classic alternative: a caching reverse proxy that serves stale copies
 * on upstream errors (proxy_cache_use_stale). Two profiles:
 * - `nginx-30s-partitioned`: proxy_cache_valid 200 30s, as an operator would write for the same
 *   30 s promise. While a copy is valid nginx never asks the origin, healthy or not, so under a
 *   partition it answers every request from its cache without noticing the origin is gone;
 * - `nginx-fair-partitioned`: asks its origin as our worker does. proxy_cache_valid 200 1s (so a
 *   copy is only "fresh" for about a second), stale copies served on errors, timeouts and while
 *   updating, the refresh done in a background subrequest (proxy_cache_background_update), one
 *   refresh per key at a time (proxy_cache_lock), and connect/read timeouts equal to our
 *   ORIGIN_TIMEOUT_MS default.
 * Each instance runs from its own temp dir on its own free loopback port, one worker process.
 * Answers carry `Cache-Status: <$upstream_cache_status>` (HIT, MISS, EXPIRED, STALE, UPDATING...),
 * which the load generator records per request.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS } from "../../src/config.ts";
import { freePort } from "../drill/run.ts";

export interface RunningNginx {
  url: string;
  child: ChildProcess;
  dir: string;
  profile: NginxProfile;
  /** Master and worker (and cache helper) processes, for CPU accounting. */
  pids: number[];
  stop(): Promise<void>;
}

export interface NginxProfile {
  name: "nginx-30s-partitioned" | "nginx-fair-partitioned";
  /** The cache directives of the `location`, as written into nginx.conf. */
  directives: string[];
  /** How long a stored 200 counts as fresh, in seconds (proxy_cache_valid). */
  validS: number;
}

const timeoutS = `${DEFAULTS.ORIGIN_TIMEOUT_MS / 1000}s`;

/** Today's nginx: a copy is valid for 30 s, during which nginx does not ask the origin at all. */
export const NGINX_30S: NginxProfile = {
  name: "nginx-30s-partitioned",
  validS: 30,
  directives: [
    "proxy_cache_valid 200 30s;",
    "proxy_cache_use_stale error timeout http_500 http_502 http_503 http_504 updating;",
    "proxy_connect_timeout 5s;",
    "proxy_read_timeout 5s;",
  ],
};

/** An nginx that asks its origin as our worker does (each copy fresh for ~1 s only). */
export const NGINX_FAIR: NginxProfile = {
  name: "nginx-fair-partitioned",
  validS: 1,
  directives: [
    "proxy_cache_valid 200 1s;",
    "proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;",
    "proxy_cache_background_update on;",
    "proxy_cache_lock on;",
    `proxy_connect_timeout ${timeoutS};`,
    `proxy_read_timeout ${timeoutS};`,
  ],
};

const COMMON = "upstream: one server, max_fails=1 fail_timeout=5s (ignored by nginx for a one-server upstream), keepalive 64; 1 worker process";

/** One line for the report: the profile's name and its cache directives. */
export function nginxSummary(profile: NginxProfile): string {
  return `${profile.name}: ${profile.directives.map((d) => `\`${d.replace(/;$/, "")}\``).join(", ")}; ${COMMON}.`;
}

function nginxConfig(dir: string, port: number, originPort: number, profile: NginxProfile): string {
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
${profile.directives.map((d) => `      ${d}`).join("\n")}
      add_header Cache-Status $upstream_cache_status always;
    }
  }
}
`;
}

function nginxBinary(): string {
  const nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => spawnSync(p, ["-v"]).status === 0);
  if (!nginx) throw new Error("nginx is not installed: run `apt-get update && apt-get install -y nginx-light` (Debian), or set BENCH_SKIP_NGINX=1");
  return nginx;
}

/** Fails early, before the workers start, when nginx is missing. */
export function checkNginx(): void {
  nginxBinary();
}

export async function startNginx(originPort: number, profile: NginxProfile): Promise<RunningNginx> {
  const nginx = nginxBinary();
  const dir = await mkdtemp(join(tmpdir(), `edge-fallback-${profile.name}-`));
  // Started as root, nginx's workers run as nobody: mkdtemp's 0700 would make every cache write
  // fail with EACCES, and nginx would answer 500 to everything (an unfair comparison).
  await chmod(dir, 0o755);
  const port = await freePort();
  await writeFile(join(dir, "nginx.conf"), nginxConfig(dir, port, originPort, profile));
  const child = spawn(nginx, ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "inherit" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    // SIGTERM, not SIGQUIT: a graceful quit would wait for background updates stuck on a
    // blackholed origin (up to the read timeout).
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    if (await fetch(`${url}/ping`).then((r) => r.arrayBuffer().then(() => true), () => false)) {
      return { url, child, dir, profile, pids: workerPids(child.pid!), stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`nginx (${profile.name}) did not start`);
}

/** The master and its worker processes (children of the master). */
function workerPids(master: number): number[] {
  const out = spawnSync("ps", ["-o", "pid=", "--ppid", String(master)], { encoding: "utf8" });
  return [master, ...out.stdout.split("\n").map((l) => Number(l.trim())).filter((n) => n > 0)];
}
