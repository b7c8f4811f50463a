/**
 * Local: the same SQL on a real ClickHouse engine (chdb, embedded), over the data points a drill
 * captured, loaded in Analytics Engine's column layout: timestamp, index1, blob1..blob20,
 * double1..double20, _sample_interval (1: nothing is sampled locally).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numbersAsNumbers } from "./sql-api.ts";
import type { Engine, Row } from "../queries.ts";

export interface CapturedPoint {
  timestamp: number;
  indexes?: string[];
  blobs?: (string | null)[];
  doubles?: number[];
}

export const CHDB_VERSION = "3.4.0";
export const CHDB_MISSING =
  `the local dashboard runs its SQL on chdb, an embedded ClickHouse (about 550 MB, kept out of the default install): ` +
  `run \`npm run dashboard:install\` once (npm install --no-save chdb@${CHDB_VERSION})`;

interface ChdbSession {
  query(sql: string, format?: string): string;
  cleanup?(): void;
}

async function openSession(path: string): Promise<ChdbSession> {
  let mod: { Session: new (path?: string) => ChdbSession };
  // Through a variable: chdb is installed on demand, so a clean checkout must type-check without it.
  const name = "chdb";
  try {
    mod = (await import(name)) as typeof mod;
  } catch {
    throw new Error(CHDB_MISSING);
  }
  return new mod.Session(path);
}

const COLUMNS = [
  "timestamp DateTime64(3, 'UTC')",
  "index1 String",
  ...Array.from({ length: 20 }, (_, i) => `blob${i + 1} String`),
  ...Array.from({ length: 20 }, (_, i) => `double${i + 1} Float64`),
  "_sample_interval UInt32",
];

/** One JSONEachRow line in the Analytics Engine layout. */
export function aeRow(p: CapturedPoint): Record<string, string | number> {
  const row: Record<string, string | number> = { timestamp: new Date(p.timestamp).toISOString().replace("T", " ").replace("Z", ""), index1: p.indexes?.[0] ?? "" };
  for (let i = 0; i < 20; i++) row[`blob${i + 1}`] = p.blobs?.[i] ?? "";
  for (let i = 0; i < 20; i++) row[`double${i + 1}`] = p.doubles?.[i] ?? 0;
  row["_sample_interval"] = 1;
  return row;
}

export async function localEngine(dataset: string, points: CapturedPoint[]): Promise<Engine & { close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "edge-fallback-dashboard-"));
  const session = await openSession(join(dir, "db"));
  // toDateTime('...') in the queries means UTC, as on the SQL API.
  session.query("SET session_timezone = 'UTC'");
  session.query(`CREATE TABLE ${dataset} (${COLUMNS.join(", ")}) ENGINE = Memory`);
  const file = join(dir, "points.jsonl");
  await writeFile(file, points.map((p) => JSON.stringify(aeRow(p))).join("\n"));
  if (points.length) session.query(`INSERT INTO ${dataset} SELECT * FROM file('${file}', JSONEachRow)`);
  return {
    describe: () => `chdb (embedded ClickHouse) over ${points.length} captured data points`,
    async run(sql: string): Promise<Row[]> {
      let text: string;
      try {
        text = session.query(sql, "JSON");
      } catch (err) {
        throw new Error(`local ClickHouse refused the query: ${(err as Error).message}\n${sql}`, { cause: err });
      }
      const body = JSON.parse(text || '{"data":[]}') as { data: Row[] };
      return body.data.map(numbersAsNumbers);
    },
    async close() {
      session.cleanup?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
