/**
 * nginx from Debian as the classic alternative: a caching reverse proxy that serves stale copies
 * on upstream errors (proxy_cache_use_stale), configured as an operator would for the same 30 s
 * promise. Run from a temp dir on a free loopback port, one worker process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../drill/run.ts";

export interface RunningNginx {
  url: string;
  child: ChildProcess;
  dir: string;
  /** Master and worker, for CPU accounting. */
  pids: number[];
  stop(): Promise<void>;
}

export const NGINX_SUMMARY =
  "nginx: proxy_cache_valid 200 30s, proxy_cache_use_stale error timeout http_500..504 updating, max_fails=1 fail_timeout=5s, proxy_read_timeout 5s, 1 worker process.";

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

export async function startNginx(originPort: number): Promise<RunningNginx> {
  const nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => spawnSync(p, ["-v"]).status === 0);
  if (!nginx) throw new Error("nginx is not installed: run `apt-get update && apt-get install -y nginx-light` (Debian), or set BENCH_SKIP_NGINX=1");
  const dir = await mkdtemp(join(tmpdir(), "edge-fallback-nginx-"));
  // Started as root, nginx's workers run as nobody: mkdtemp's 0700 would make every cache write
  // fail with EACCES, and nginx would answer 500 to everything (an unfair comparison).
  await chmod(dir, 0o755);
  const port = await freePort();
  await writeFile(join(dir, "nginx.conf"), nginxConfig(dir, port, originPort));
  const child = spawn(nginx, ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await fetch(`${url}/ping`).then(() => true, () => false)) {
      return {
        url,
        child,
        dir,
        pids: workerPids(child.pid!),
        async stop() {
          child.kill("SIGQUIT");
          await new Promise((r) => setTimeout(r, 200));
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("nginx did not start");
}


/** The master and its worker processes (children of the master). */
function workerPids(master: number): number[] {
  const out = spawnSync("ps", ["-o", "pid=", "--ppid", String(master)], { encoding: "utf8" });
  return [master, ...out.stdout.split("\n").map((l) => Number(l.trim())).filter((n) => n > 0)];
}
