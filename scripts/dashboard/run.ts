/**
 * `npm run dashboard`: the dashboard for production or for a drill.
 *
 *   npm run dashboard -- reports/partition-<time>   # a drill's captured data points, on local ClickHouse
 *   npm run dashboard -- latest                     # the newest drill report
 *   CLOUDFLARE_ACCOUNT_ID=... CLOUDFLARE_API_TOKEN=... npm run dashboard -- --since 6h --step 300
 *
 * Writes dashboard.html (and dashboard.json, the rows of every panel) and prints a summary.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { localEngine, type CapturedPoint } from "./engines/local.ts";
import { DEFAULT_API_BASE, sqlApiEngine } from "./engines/sql-api.ts";
import { PANELS, panelSql, windowProblems, type Engine, type Row, type Window } from "./queries.ts";
import { drillTimeAxis, renderPage, type PageInput, type PanelRows } from "./render.ts";
import { regionSummary } from "./render-regions.ts";
import { writesSummary } from "./render-writes.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DATASET = "edge_fallback";
const USAGE = `usage: npm run dashboard -- <drill report dir | latest> [--step <s>]
       npm run dashboard -- [--since <30m|6h|2d> | --from <ISO time> [--to <ISO time>]] [--step <s>] [--dataset <name>] [--out <dir>]
         (production: CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN)`;

export async function runPanels(engine: Engine, w: Window): Promise<PanelRows> {
  const rows = {} as PanelRows;
  for (const panel of PANELS) rows[panel] = await engine.run(panelSql(panel, w));
  return rows;
}

export function summary(rows: PanelRows): string[] {
  const lines: string[] = [];
  for (const r of rows.totals) {
    const rate = Number(r["cache_miss_rate"]);
    lines.push(
      `${r["origin"]}: ${r["answers"]} answers, edge_fallback_triggered ${r["edge_fallback_triggered"]} (served from a copy ${r["lkg_served"]}, no copy ${r["no_lkg"]}), cache_miss_rate ${(100 * rate).toFixed(1)} %, breaker trips ${r["breaker_trips"]}`,
    );
  }
  const regions = regionSummary(rows);
  if (regions !== undefined) lines.push(regions);
  const writes = writesSummary(rows);
  if (writes !== undefined) lines.push(writes);
  return lines;
}

interface DrillReport {
  plan: { name: string };
  startedAt: string;
  durationS: number;
  phaseWindows: { name: string; fromS: number; toS: number; fault: boolean }[];
  dataPointsFile?: string;
}

export async function latestReport(): Promise<string> {
  const dir = join(root, "reports");
  const entries = existsSync(dir) ? await readdir(dir) : [];
  const drills: { path: string; mtime: number }[] = [];
  for (const e of entries) {
    const path = join(dir, e);
    if (existsSync(join(path, "report.json")) && existsSync(join(path, "datapoints.json"))) drills.push({ path, mtime: (await stat(path)).mtimeMs });
  }
  if (drills.length === 0) throw new Error("no drill report under reports/ yet: run `npm run drill` first");
  return drills.sort((a, b) => b.mtime - a.mtime)[0]!.path;
}

/** The dashboard of one drill, written next to its report. */
export async function drillDashboard(dir: string, stepS = 1): Promise<{ html: string; rows: PanelRows; summary: string[] }> {
  const reportFile = join(dir, "report.json");
  if (!existsSync(reportFile)) throw new Error(`${dir} is not a drill report (no report.json); give a reports/<plan>-<time> directory, or "latest"`);
  const report = JSON.parse(await readFile(reportFile, "utf8")) as DrillReport;
  const pointsFile = join(dir, report.dataPointsFile ?? "datapoints.json");
  if (!existsSync(pointsFile)) throw new Error(`${dir} has no captured data points (${relative(dir, pointsFile)})`);
  const points = JSON.parse(await readFile(pointsFile, "utf8")) as CapturedPoint[];
  if (points.length === 0) throw new Error(`the drill in ${dir} captured no data points: nothing to show`);
  const from = Date.parse(report.startedAt);
  // The load starts a moment after the report's start time; cover every captured point.
  const lastPoint = Math.max(...points.map((p) => p.timestamp));
  const w: Window = { dataset: DATASET, from: Math.min(from, ...points.map((p) => p.timestamp)), to: Math.max(from + report.durationS * 1000, lastPoint + 1), stepS };
  const engine = await localEngine(DATASET, points);
  try {
    const rows = await runPanels(engine, w);
    const input: PageInput = {
      title: `Drill ${report.plan.name}: dashboard`,
      source: engine.describe(),
      window: w,
      rows,
      // The report's time axis: seconds since the drill's load started.
      ...drillTimeAxis(report),
      links: [{ href: "report.md", label: "drill report" }],
    };
    const html = join(dir, "dashboard.html");
    await writeFile(html, renderPage(input));
    await writeFile(join(dir, "dashboard.json"), JSON.stringify({ window: w, source: engine.describe(), rows }, null, 2));
    return { html, rows, summary: summary(rows) };
  } finally {
    await engine.close();
  }
}

function parseSince(text: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(text);
  if (!m) return Number.NaN;
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
}

interface ProductionOptions {
  since?: string;
  from?: string;
  to?: string;
  step?: string;
  dataset?: string;
  out?: string;
}

/** The window asked for: --from/--to (ISO times, e.g. an incident's), else the last --since. */
function productionWindow(values: ProductionOptions, problems: string[]): { from: number; to: number; label: string } {
  const now = Date.now();
  if (values.from !== undefined || values.to !== undefined) {
    if (values.since !== undefined) problems.push("give either --since or --from/--to, not both");
    const from = Date.parse(values.from ?? "");
    const to = values.to === undefined ? now : Date.parse(values.to);
    if (!Number.isFinite(from)) problems.push(`--from must be an ISO time such as 2026-11-22T12:00:00Z, got ${JSON.stringify(values.from)}`);
    if (!Number.isFinite(to)) problems.push(`--to must be an ISO time such as 2026-11-22T13:00:00Z, got ${JSON.stringify(values.to)}`);
    return { from, to, label: `${values.from} to ${values.to ?? "now"}` };
  }
  const sinceMs = parseSince(values.since ?? "1h");
  if (!Number.isFinite(sinceMs) || sinceMs <= 0) problems.push(`--since must look like 30m, 6h or 2d, got ${JSON.stringify(values.since)}`);
  return { from: now - sinceMs, to: now, label: `last ${values.since ?? "1h"}` };
}

async function productionDashboard(values: ProductionOptions): Promise<{ html: string; summary: string[] }> {
  const problems: string[] = [];
  const accountId = process.env["CLOUDFLARE_ACCOUNT_ID"] ?? "";
  const token = process.env["CLOUDFLARE_API_TOKEN"] ?? "";
  if (!accountId) problems.push("CLOUDFLARE_ACCOUNT_ID is not set (your account id, from the dashboard's sidebar or `wrangler whoami`)");
  if (!token) problems.push('CLOUDFLARE_API_TOKEN is not set (a token with the "Account Analytics Read" permission)');
  const asked = productionWindow(values, problems);
  const w: Window = { dataset: values.dataset ?? DATASET, from: asked.from, to: asked.to, stepS: Number(values.step ?? 60) };
  if (Number.isFinite(w.from) && Number.isFinite(w.to)) problems.push(...windowProblems(w));
  else problems.push(...windowProblems({ ...w, from: 0, to: 1 }));
  if (problems.length) throw new Error(`cannot query production:\n  - ${problems.join("\n  - ")}\n${USAGE}`);
  const engine = sqlApiEngine({ accountId, token, apiBase: process.env["CLOUDFLARE_API_BASE_URL"] ?? DEFAULT_API_BASE });
  const rows = await runPanels(engine, w);
  if (rows.totals.length === 0) {
    throw new Error(`no data points in ${w.dataset} between ${new Date(w.from).toISOString()} and ${new Date(w.to).toISOString()}: is the worker deployed, receiving traffic, and bound to this dataset? Try a longer window.`);
  }
  const dir = resolve(values.out ?? join(root, "reports", `dashboard-${new Date(w.to).toISOString().replace(/[:.]/g, "-")}`));
  await mkdir(dir, { recursive: true });
  const html = join(dir, "dashboard.html");
  await writeFile(html, renderPage({ title: `edge-fallback: ${asked.label}`, source: engine.describe(), window: w, rows }));
  await writeFile(join(dir, "dashboard.json"), JSON.stringify({ window: w, source: engine.describe(), rows }, null, 2));
  return { html, summary: summary(rows) };
}

/** `print` receives what the CLI shows on stdout (the summary, the page's path); tests pass a collector. */
export async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  let args: { values: ProductionOptions & { help?: boolean }; positionals: string[] };
  try {
    args = parseArgs({
      args: argv,
      options: { since: { type: "string" }, from: { type: "string" }, to: { type: "string" }, step: { type: "string" }, dataset: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`, { cause: err });
  }
  if (args.values.help) {
    print(USAGE);
    return 0;
  }
  const target = args.positionals[0];
  const result = target
    ? await drillDashboard(target === "latest" ? await latestReport() : resolve(target), Number(args.values.step ?? 1))
    : await productionDashboard(args.values);
  for (const line of result.summary) print(line);
  print(`dashboard: ${relative(process.cwd(), result.html)}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`dashboard: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}

export type { Row };
