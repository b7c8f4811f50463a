/**
 * The dashboard's panels as SQL, one file each in queries/: the single source of truth that runs
 * unchanged on the Analytics Engine SQL API in production and on a local ClickHouse (chdb) for
 * drill data. Only {{dataset}}, {{from}}, {{to}} and {{step}} are filled in, after validation.
 */
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const QUERIES_DIR = join(dirname(fileURLToPath(import.meta.url)), "queries");

export const PANELS = [
  "totals",
  "edge_fallback_triggered",
  "cache_miss_rate",
  "answers",
  "latency",
  "stale_age",
  "errors",
  "breaker_transitions",
  "failing_routes",
  "region_share",
  "ramp",
  "failovers",
  "routing_changes",
  "write_outcomes",
  "backlog",
  "writer",
] as const;
export type PanelName = (typeof PANELS)[number];

/** Panels whose rows are totals or single events rather than a series per step: tables in Grafana. */
export const TABLE_PANELS: ReadonlySet<PanelName> = new Set(["totals", "breaker_transitions", "failing_routes", "failovers", "routing_changes", "writer"]);

export interface Window {
  /** Analytics Engine dataset (the table name), as bound in wrangler.toml. */
  dataset: string;
  /** Inclusive start and exclusive end, in epoch ms. */
  from: number;
  to: number;
  /** Bucket width in whole seconds. */
  stepS: number;
}

/** Every problem with a window, at once. */
export function windowProblems(w: Window): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(w.dataset)) problems.push(`dataset must be a plain table name (letters, digits, _), got ${JSON.stringify(w.dataset)}`);
  if (!Number.isFinite(w.from) || !Number.isFinite(w.to)) problems.push("the window needs a start and an end time");
  else if (w.to <= w.from) problems.push(`the window ends (${new Date(w.to).toISOString()}) before it starts (${new Date(w.from).toISOString()})`);
  if (!Number.isInteger(w.stepS) || w.stepS < 1 || w.stepS > 86_400) problems.push(`step must be whole seconds from 1 to 86400, got ${w.stepS}`);
  return problems;
}

/** 'YYYY-MM-DD hh:mm:ss' in UTC: the literal both engines read with toDateTime(). Whole seconds. */
export function sqlTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace("T", " ").slice(0, 19);
}

/**
 * A panel's SQL file with its comments off (one statement per request, nothing for an API to
 * trip on) and its placeholders still in: what every way of running the panel starts from.
 */
export function panelTemplate(panel: PanelName): string {
  return readFileSync(join(QUERIES_DIR, `${panel}.sql`), "utf8")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .trim();
}

export function panelSql(panel: PanelName, w: Window): string {
  const problems = windowProblems(w);
  if (problems.length) throw new Error(`bad dashboard window: ${problems.join("; ")}`);
  const values: Record<string, string> = { dataset: w.dataset, from: sqlTime(w.from), to: sqlTime(w.to + 999), step: String(w.stepS) };
  return panelTemplate(panel).replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${panel}.sql uses an unknown placeholder {{${key}}}`);
    return value;
  });
}

/** The SQL files on disk, so a test can check that every file is a panel and every panel a file. */
export function queryFiles(): string[] {
  return readdirSync(QUERIES_DIR)
    .filter((f) => f.endsWith(".sql"))
    .map((f) => basename(f, ".sql"))
    .sort();
}

/** One row of a panel's result: column name to value (numbers as numbers, times as strings). */
export type Row = Record<string, string | number>;

/** The totals panel over every origin: the counts add up; the miss rate is recomputed from them. */
export function overallTotals(rows: Row[]): Row {
  const all: Row = { origin: "all" };
  for (const column of ["answers", "edge_fallback_triggered", "lkg_served", "no_lkg", "lookups", "lookup_misses", "breaker_trips"]) {
    all[column] = rows.reduce((n, r) => n + Number(r[column] ?? 0), 0);
  }
  const lookups = all["lookups"] as number;
  all["cache_miss_rate"] = lookups > 0 ? (all["lookup_misses"] as number) / lookups : 0;
  return all;
}

export interface Engine {
  /** Where the numbers come from, for the page. */
  describe(): string;
  run(sql: string): Promise<Row[]>;
}
