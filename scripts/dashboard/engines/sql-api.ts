/**
 * Production: the Workers Analytics Engine SQL API. POST the query text to
 * /accounts/<id>/analytics_engine/sql with a token that has Account Analytics Read.
 * Every way this can go wrong ends in one clear sentence, never a stack trace.
 */
import type { Engine, Row } from "../queries.ts";

export const DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4";

export interface SqlApiOptions {
  accountId: string;
  token: string;
  /** Overridable so tests can point it at a local stand-in server. */
  apiBase?: string;
  timeoutMs?: number;
}

export function sqlApiEngine(o: SqlApiOptions): Engine {
  const base = (o.apiBase ?? DEFAULT_API_BASE).replace(/\/$/, "");
  const url = `${base}/accounts/${encodeURIComponent(o.accountId)}/analytics_engine/sql`;
  return {
    describe: () => `Analytics Engine SQL API, account ${o.accountId}`,
    async run(sql: string): Promise<Row[]> {
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${o.token}`, "content-type": "text/plain" },
          body: `${sql}\nFORMAT JSON`,
          signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
        });
      } catch (err) {
        throw new Error(`could not reach the Analytics Engine SQL API at ${base}: ${(err as Error).message}`, { cause: err });
      }
      const text = await res.text();
      if (res.status === 401 || res.status === 403) {
        throw new Error(`the SQL API refused the token (HTTP ${res.status}): CLOUDFLARE_API_TOKEN needs the "Account Analytics Read" permission for account ${o.accountId}`);
      }
      if (!res.ok) {
        const detail = text.trim().slice(0, 500);
        if (/unknown table|does not exist|unknown dataset/i.test(detail)) {
          throw new Error(`the SQL API does not know that dataset: ${detail} (the dataset is the analytics_engine_datasets name in wrangler.toml, and appears after the worker's first data point)`);
        }
        throw new Error(`the SQL API answered HTTP ${res.status}: ${detail}`);
      }
      let body: { data?: Row[] };
      try {
        body = JSON.parse(text) as { data?: Row[] };
      } catch {
        throw new Error(`the SQL API answered something that is not JSON: ${text.slice(0, 200)}`);
      }
      if (!Array.isArray(body.data)) throw new Error(`the SQL API answer has no data rows: ${text.slice(0, 200)}`);
      return body.data.map(numbersAsNumbers);
    },
  };
}

/** ClickHouse's JSON output quotes 64-bit integers; the page wants numbers. */
export function numbersAsNumbers(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === "string" && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v) ? Number(v) : v;
  return out;
}
