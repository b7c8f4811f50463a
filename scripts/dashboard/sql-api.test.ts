/**
 * The production path against a local stand-in for the Analytics Engine SQL API: the dashboard
 * must send the same SQL text the local engine runs, to the right URL with the token, and turn
 * every failure into one clear sentence.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlApiEngine } from "./engines/sql-api.ts";
import { GRAFANA_FILE, grafanaDashboard } from "./grafana.ts";
import { PANELS, panelSql, queryFiles, type Window } from "./queries.ts";
import { main, runPanels } from "./run.ts";

interface Seen {
  method: string;
  url: string;
  authorization: string;
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
/** What the stand-in answers next, by token. */
const answer = (token: string, body: string): { status: number; body: string } => {
  if (token === "rejected") return { status: 403, body: JSON.stringify({ errors: [{ message: "Authentication error" }] }) };
  if (token === "nodataset") return { status: 422, body: "unknown table: edge_fallbak" };
  if (token === "empty") return { status: 200, body: JSON.stringify({ meta: [], data: [], rows: 0 }) };
  // Quoted 64-bit integers, as ClickHouse's JSON output has them; every column each panel selects.
  const data = Object.entries(ROWS).find(([marker]) => body.includes(marker))?.[1] ?? [];
  return { status: 200, body: JSON.stringify({ meta: [], data, rows: data.length }) };
};

/** What the stand-in answers, by a phrase only that panel's SQL has. */
const ROWS: Record<string, Record<string, string | number>[]> = {
  "AS edge_fallback_triggered": [{ origin: "primary", answers: "120", edge_fallback_triggered: "36", lkg_served: "30", no_lkg: "6", lookups: "40", lookup_misses: "10", cache_miss_rate: 0.25, breaker_trips: "2" }],
  "'(copy or edge error)'": [
    { t: "2026-11-22 12:00:00", region: "(copy or edge error)", answers: "30" },
    { t: "2026-11-22 12:00:00", region: "eu", answers: "60" },
    { t: "2026-11-22 12:00:00", region: "us", answers: "30" },
  ],
  "AS ramp_percent": [
    { t: "2026-11-22 12:00:00", region: "eu", answers: "60", ramp_percent: 30 },
    { t: "2026-11-22 12:00:00", region: "us", answers: "30", ramp_percent: 100 },
  ],
  "AS failovers": [{ from_region: "eu", to_region: "us", routing_reason: "weighted", failovers: "7", last_seen: "2026-11-22 12:00:59" }],
  "blob2 IN ('promote', 'promote_done', 'freeze', 'unfreeze')": [{ t: "2026-11-22 12:00:20", region: "us", action: "promote_done", reason: "writer eu down", source: "object", epoch: "2" }],
  "blob1 = 'routing'": [{ t: "2026-11-22 12:00:10", region: "eu", action: "ramp_step", reason: "step 1: 30%", source: "object", percent: "30", step: "1", generation: "9" }],
  "AS duplicate_dropped": [
    { t: "2026-11-22 12:00:00", passed: "40", queued: "12", replayed: "3", in_flight: "1", mismatch: "2", missing_key: "4", too_large: "0", delivered: "12", duplicate_dropped: "3", retry: "5", dead_lettered: "0", replayed_dead: "0" },
  ],
  "AS oldest_age_s": [{ t: "2026-11-22 12:00:00", queued_writes: 9, oldest_age_s: 31.5, dead_letters: 0 }],
};

async function read(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

beforeAll(async () => {
  // node:http ignores what a handler returns: a rejection would go unhandled, so answer 500 instead.
  server = createServer((req, res) => {
    void read(req).then(
      (body) => {
        const authorization = req.headers.authorization ?? "";
        seen.push({ method: req.method ?? "", url: req.url ?? "", authorization, body });
        const { status, body: out } = answer(authorization.replace(/^Bearer /, ""), body);
        res.writeHead(status, { "content-type": "application/json" }).end(out);
      },
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const w: Window = { dataset: "edge_fallback", from: Date.parse("2026-11-22T12:00:00Z"), to: Date.parse("2026-11-22T13:00:00Z"), stepS: 60 };

describe("Analytics Engine SQL API", () => {
  it("posts each panel's SQL, unchanged, with FORMAT JSON, to the account's endpoint with the bearer token", async () => {
    seen.length = 0;
    const rows = await runPanels(sqlApiEngine({ accountId: "acc123", token: "good-token", apiBase: base }), w);
    expect(seen).toHaveLength(PANELS.length);
    PANELS.forEach((panel, i) => {
      expect(seen[i]).toEqual({
        method: "POST",
        url: "/client/v4/accounts/acc123/analytics_engine/sql",
        authorization: "Bearer good-token",
        body: `${panelSql(panel, w)}\nFORMAT JSON`,
      });
    });
    expect(seen[0]!.body).toContain("FROM edge_fallback\nWHERE blob1 IN ('request', 'breaker') AND timestamp >= toDateTime('2026-11-22 12:00:00') AND timestamp < toDateTime('2026-11-22 13:00:00')");
    expect(seen[0]!.body).toContain("sumIf(_sample_interval, blob1 = 'request' AND blob2 = 'lkg_served') AS lkg_served");
    // Quoted integers come back as numbers.
    expect(rows.totals).toEqual([{ origin: "primary", answers: 120, edge_fallback_triggered: 36, lkg_served: 30, no_lkg: 6, lookups: 40, lookup_misses: 10, cache_miss_rate: 0.25, breaker_trips: 2 }]);
    // The region panels: weighted counts from the columns the README's schema names.
    const body = (panel: string) => seen[PANELS.indexOf(panel as (typeof PANELS)[number])]!.body;
    expect(body("region_share")).toContain("if(blob14 = '', '(copy or edge error)', blob14) AS region,\n  SUM(_sample_interval) AS answers");
    expect(body("ramp")).toContain("SUM(_sample_interval * double7) / answers AS ramp_percent");
    expect(body("ramp")).toContain("WHERE blob1 = 'request' AND blob14 != '' AND timestamp >= ");
    expect(body("failovers")).toContain("WHERE blob1 = 'request' AND blob15 != '' AND timestamp >= ");
    expect(body("routing_changes")).toContain("WHERE blob1 = 'routing' AND timestamp >= ");
    expect(rows.failovers).toEqual([{ from_region: "eu", to_region: "us", routing_reason: "weighted", failovers: 7, last_seen: "2026-11-22 12:00:59" }]);
    expect(rows.routing_changes).toEqual([{ t: "2026-11-22 12:00:10", region: "eu", action: "ramp_step", reason: "step 1: 30%", source: "object", percent: 30, step: 1, generation: 9 }]);
    // The write panels: the request points' blob17, the write points' blob2, the backlog's doubles, the lease's routing actions.
    expect(body("write_outcomes")).toContain("sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'missing-key') AS missing_key");
    expect(body("write_outcomes")).toContain("WHERE (blob1 = 'write' OR (blob1 = 'request' AND blob17 != '')) AND timestamp >= ");
    expect(body("backlog")).toContain("max(double2) / 1000 AS oldest_age_s");
    expect(body("writer")).toContain("WHERE blob1 = 'routing' AND blob2 IN ('promote', 'promote_done', 'freeze', 'unfreeze') AND timestamp >= ");
    expect(rows.write_outcomes[0]).toMatchObject({ passed: 40, queued: 12, delivered: 12, missing_key: 4 });
    expect(rows.writer).toEqual([{ t: "2026-11-22 12:00:20", region: "us", action: "promote_done", reason: "writer eu down", source: "object", epoch: 2 }]);
  });

  it("says what a rejected token needs", async () => {
    const engine = sqlApiEngine({ accountId: "acc123", token: "rejected", apiBase: base });
    await expect(engine.run("SELECT 1")).rejects.toThrow('the SQL API refused the token (HTTP 403): CLOUDFLARE_API_TOKEN needs the "Account Analytics Read" permission for account acc123');
  });

  it("says which dataset it did not know", async () => {
    const engine = sqlApiEngine({ accountId: "acc123", token: "nodataset", apiBase: base });
    await expect(engine.run("SELECT 1")).rejects.toThrow(/^the SQL API does not know that dataset: unknown table: edge_fallbak/);
  });

  it("says when the API cannot be reached at all", async () => {
    const engine = sqlApiEngine({ accountId: "acc123", token: "good-token", apiBase: "http://127.0.0.1:9/client/v4", timeoutMs: 2000 });
    await expect(engine.run("SELECT 1")).rejects.toThrow(/^could not reach the Analytics Engine SQL API at http:\/\/127\.0\.0\.1:9\/client\/v4: /);
  });
});

describe("npm run dashboard (production)", () => {
  function withEnv(env: Record<string, string | undefined>, fn: () => Promise<unknown>): Promise<unknown> {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const apply = (values: Record<string, string | undefined>) => {
      for (const [k, v] of Object.entries(values)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    apply(env);
    return fn().finally(() => apply(saved));
  }

  it("lists every missing setting in one message", async () => {
    await withEnv({ CLOUDFLARE_ACCOUNT_ID: undefined, CLOUDFLARE_API_TOKEN: undefined }, async () => {
      const err = await main(["--since", "soon"]).catch((e: Error) => e);
      expect((err as Error).message).toMatch(
        /^cannot query production:\n {2}- CLOUDFLARE_ACCOUNT_ID is not set .*\n {2}- CLOUDFLARE_API_TOKEN is not set .*\n {2}- --since must look like 30m, 6h or 2d, got "soon"\n/,
      );
    });
  });

  it("takes an incident's absolute window, and names every problem with it", async () => {
    await withEnv({ CLOUDFLARE_ACCOUNT_ID: "acc123", CLOUDFLARE_API_TOKEN: "good-token", CLOUDFLARE_API_BASE_URL: base }, async () => {
      const err = (await main(["--since", "1h", "--from", "yesterday", "--to", "2026-11-22T13:00:00Z", "--step", "0"]).catch((e: Error) => e)) as Error;
      expect(err.message.split("\n").slice(0, 5)).toEqual([
        "cannot query production:",
        "  - give either --since or --from/--to, not both",
        '  - --from must be an ISO time such as 2026-11-22T12:00:00Z, got "yesterday"',
        "  - step must be whole seconds from 1 to 86400, got 0",
        expect.stringMatching(/^usage: /),
      ]);
      seen.length = 0;
      const dir = await mkdtemp(join(tmpdir(), "edge-fallback-dash-test-"));
      const printed: string[] = [];
      expect(await main(["--from", "2026-11-22T12:00:00Z", "--to", "2026-11-22T13:00:00Z", "--step", "60", "--out", dir], (line) => printed.push(line))).toBe(0);
      expect(printed).toEqual([
        "primary: 120 answers, edge_fallback_triggered 36 (served from a copy 30, no copy 6), cache_miss_rate 25.0 %, breaker trips 2",
        "regions: eu 50.0 %, us 25.0 %, (copy or edge error) 25.0 % of answers; 7 failovers; 1 routing change",
        "writes: 40 passed, 12 queued, 3 replayed, 7 refused; queue: 12 delivered, 3 duplicates dropped, 5 retries, 0 dead-lettered; backlog peak 9 (oldest 31.5 s), 0 dead letters; 1 lease change (last epoch 2)",
        `dashboard: ${relative(process.cwd(), join(dir, "dashboard.html"))}`,
      ]);
      expect(seen[0]!.body).toContain("timestamp >= toDateTime('2026-11-22 12:00:00') AND timestamp < toDateTime('2026-11-22 13:00:00')");
      const html = readFileSync(join(dir, "dashboard.html"), "utf8");
      expect(html).toContain("<title>edge-fallback: 2026-11-22T12:00:00Z to 2026-11-22T13:00:00Z</title>");
      expect(html).toContain('<div class="panel" data-panel="region_share" data-rows="3">');
      expect(html).toContain('<div class="panel" data-panel="ramp" data-rows="2">');
      expect(html).toContain("<tr><td>eu</td><td>us</td><td>weighted</td><td>7</td><td>2026-11-22 12:00:59</td></tr>");
      expect(html).toContain("<tr><td>2026-11-22 12:00:10</td><td>eu</td><td>ramp_step</td><td>step 1: 30%</td><td>object</td><td>30</td><td>1</td><td>9</td></tr>");
      await rm(dir, { recursive: true, force: true });
    });
  });

  it("says so when the window holds no data points", async () => {
    await withEnv({ CLOUDFLARE_ACCOUNT_ID: "acc123", CLOUDFLARE_API_TOKEN: "empty", CLOUDFLARE_API_BASE_URL: base }, async () => {
      await expect(main(["--since", "30m"])).rejects.toThrow(/^no data points in edge_fallback between .* Try a longer window\.$/);
    });
  });
});

describe("panel SQL", () => {
  it("has one file per panel and fills every placeholder", () => {
    expect(queryFiles()).toEqual([...PANELS].sort());
    for (const panel of PANELS) {
      const sql = panelSql(panel, w);
      expect(sql).not.toMatch(/\{\{|\}\}/);
      expect(sql).not.toContain("--");
      expect(sql).toMatch(/^SELECT/);
    }
  });

  it("refuses a bad window with every problem at once", () => {
    expect(() => panelSql("totals", { dataset: "edge fallback; DROP", from: 2000, to: 1000, stepS: 0 })).toThrow(
      "bad dashboard window: dataset must be a plain table name (letters, digits, _), got \"edge fallback; DROP\"; the window ends (1970-01-01T00:00:01.000Z) before it starts (1970-01-01T00:00:02.000Z); step must be whole seconds from 1 to 86400, got 0",
    );
  });
});

describe("Grafana dashboard", () => {
  it("shows the region share stacked to 100 % and the ramp as steps in percent; failovers and routing changes as tables", () => {
    const panels = (grafanaDashboard() as { panels: { title: string; type: string; fieldConfig?: unknown; targets: { format: string }[] }[] }).panels;
    const of = (panel: (typeof PANELS)[number]) => panels[PANELS.indexOf(panel)]!;
    expect(of("region_share")).toMatchObject({ type: "timeseries", fieldConfig: { defaults: { custom: { stacking: { mode: "percent" } } } }, targets: [{ format: "time_series" }] });
    expect(of("ramp")).toMatchObject({ type: "timeseries", fieldConfig: { defaults: { unit: "percent", min: 0, max: 100, custom: { lineInterpolation: "stepAfter" } } } });
    for (const table of ["failovers", "routing_changes"] as const) expect(of(table)).toMatchObject({ type: "table", targets: [{ format: "table" }] });
  });

  it("shows writes by outcome and the backlog over time (the oldest write's age in seconds on its own axis), and the lease changes as a table", () => {
    const panels = (grafanaDashboard() as { panels: { title: string; type: string; fieldConfig?: unknown; targets: { format: string }[] }[] }).panels;
    const of = (panel: (typeof PANELS)[number]) => panels[PANELS.indexOf(panel)]!;
    expect(of("write_outcomes")).toMatchObject({ type: "timeseries", targets: [{ format: "time_series" }] });
    expect(of("backlog")).toMatchObject({
      type: "timeseries",
      fieldConfig: { overrides: [{ matcher: { id: "byName", options: "oldest_age_s" }, properties: [{ id: "unit", value: "s" }, { id: "custom.axisPlacement", value: "right" }] }] },
      targets: [{ format: "time_series" }],
    });
    expect(of("writer")).toMatchObject({ type: "table", targets: [{ format: "table" }] });
  });

  it("is generated from the same SQL files, and the committed file is up to date", () => {
    const committed = JSON.parse(readFileSync(GRAFANA_FILE, "utf8")) as { panels: { targets: { query: string }[] }[] };
    expect(committed).toEqual(JSON.parse(JSON.stringify(grafanaDashboard())));
    expect(committed.panels).toHaveLength(PANELS.length);
    PANELS.forEach((panel, i) => {
      const query = committed.panels[i]!.targets[0]!.query;
      expect(query).toContain("$timeFilter");
      // Substituting the window back gives exactly the SQL the dashboard sends.
      const back = query
        .replace("$timeFilter", "timestamp >= toDateTime('2026-11-22 12:00:00') AND timestamp < toDateTime('2026-11-22 13:00:00')")
        .replaceAll("'$interval'", "'60'")
        .replaceAll("${dataset}", "edge_fallback");
      expect(back).toBe(panelSql(panel, w));
    });
  });
});
