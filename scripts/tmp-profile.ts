import { startOrigins, freePort } from "./drill/run.ts";
import { runLoad } from "./drill/load.ts";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle } from "./drill/runtime.ts";
import { Miniflare, convertV4MiniflareOptions, Log, LogLevel } from "miniflare";
const tiers = process.argv[2] ?? '["memory"]';
const entry = process.argv[3] ?? "src/index.ts";
const o = await startOrigins(["primary"]);
const dir = await mkdtemp(join(tmpdir(), "prof-"));
const script = await bundle(entry, dir);
const port = await freePort(); const ip = await freePort();
const mf = new Miniflare(convertV4MiniflareOptions({ log: new Log(LogLevel.WARN), modules: true, modulesRoot: dir, scriptPath: script, compatibilityDate: "2026-10-01", compatibilityFlags: ["nodejs_compat"], cf: false,
  bindings: { ORIGINS: JSON.stringify([{ name: "primary", url: o.origins.primary, weight: 1 }]), ...(entry.includes("bare") ? { ORIGIN_URL: o.origins.primary! } : { LKG_TIERS: tiers }) },
  durableObjects: { BREAKER: { className: "BreakerObject", useSQLite: true } }, kvNamespaces: ["LKG_KV"], analyticsEngineDatasets: { METRICS: { dataset: "x" } },
  unsafeDirectSockets: [{ host: "127.0.0.1", port }], inspectorPort: ip, defaultPersistRoot: join(dir, "state") } as any));
await mf.ready;
const url = `http://127.0.0.1:${port}`;
const targets = await (await fetch(`http://127.0.0.1:${ip}/json`)).json() as any[];
const t = targets.find((x) => String(x.title).includes(process.argv[4] ?? "core:user:"))!;
console.log(targets.map((x: any) => x.title));
const ws = new WebSocket(t.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r));
let id = 0; const pending = new Map<number, (v: any) => void>();
ws.addEventListener("message", (e) => { const m = JSON.parse(String(e.data)); if (m.id && pending.has(m.id)) { pending.get(m.id)!(m.result); pending.delete(m.id); } });
const call = (method: string, params: any = {}) => new Promise<any>((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
const mk = (seq: number) => ({ method: "GET", path: `/k/${seq % 100}`, headers: {}, key: "", user: "anonymous" });
const chk = await fetch(url + "/k/1"); console.log("check", chk.status, chk.headers.get("cache-status")); await chk.text();
await runLoad({ baseUrl: url, phases: [{ rate: 500, durationS: 3 }], makeRequest: mk });
await call("Profiler.enable"); await call("Profiler.setSamplingInterval", { interval: 100 }); await call("Profiler.start");
await runLoad({ baseUrl: url, phases: [{ rate: 1000, durationS: 5 }], makeRequest: mk });
const { profile } = await call("Profiler.stop");
const self = new Map<string, number>(); const byId = new Map<number, any>();
for (const n of profile.nodes) byId.set(n.id, n);
const counts = new Map<number, number>(); for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
let total = 0;
for (const [nid, c] of counts) { const n = byId.get(nid); const f = n.callFrame; const k = `${f.functionName || "(anon)"} ${String(f.url).split("/").pop()}:${f.lineNumber}`; self.set(k, (self.get(k) ?? 0) + c); total += c; }
console.log("total samples", total);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 35)) console.log((100 * v / total).toFixed(1).padStart(5), k);
ws.close(); await mf.dispose(); o.child.kill(); process.exit(0);
