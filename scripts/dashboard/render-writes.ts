/**
 * The dashboard's write panels, once for the fleet (writes have one writer, not one per origin):
 * writes by outcome at the edge and in the queue, the backlog, and the writer lease's changes,
 * from the rows of write_outcomes.sql, backlog.sql and writer.sql.
 */
import { escapeXml, lineChart, stackedBars, type LineSeries } from "../drill/svg.ts";
import { WRITE_COLORS } from "../lib/palette.ts";
import { htmlTable } from "./html-table.ts";
import type { PanelName, Row } from "./queries.ts";
import { colorsOf, regionOrder, sinceDrill, type ChartAxis, type XOf } from "./render-regions.ts";

/**
 * The write charts. Unlike CHART_PANELS they are drawn only when their window has data: a fleet
 * without WRITES has none, and its dashboard must not show (or the browser check fail on) empty charts.
 */
export const WRITE_CHART_PANELS = ["write_outcomes", "backlog", "writer"] as const satisfies readonly PanelName[];
type WritePanel = (typeof WRITE_CHART_PANELS)[number];
export type WriteRows = Record<WritePanel, Row[]>;

/** write_outcomes.sql's columns: what the request path answered, then what the queue consumer did. */
export const EDGE_OUTCOMES = ["passed", "queued", "replayed", "in_flight", "mismatch", "missing_key", "too_large"] as const;
export const QUEUE_ACTIONS = ["delivered", "duplicate_dropped", "retry", "dead_lettered", "replayed_dead"] as const;
/** The refusals among EDGE_OUTCOMES: 409, 422, 400 and 503 answers, no write made. */
const REFUSALS = ["in_flight", "mismatch", "missing_key", "too_large"] as const;

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

interface Drawn {
  panel: WritePanel;
  rows: number;
  caption: string;
  svgs: string[];
}

/** Rows summed per step (x: seconds), sorted. */
function perStep(rows: Row[], xOf: XOf, columns: readonly string[]): [number, Record<string, number>][] {
  const out = new Map<number, Record<string, number>>();
  for (const r of rows) {
    const x = xOf(r["t"]!);
    const acc = out.get(x) ?? Object.fromEntries(columns.map((c) => [c, 0]));
    for (const c of columns) acc[c]! += num(r[c]);
    out.set(x, acc);
  }
  return [...out].sort((a, b) => a[0] - b[0]);
}

function line(steps: [number, Record<string, number>][], column: string, name: string, color: string | undefined): LineSeries {
  return { name, color, points: steps.map(([x, v]) => [x, v[column]!] as [number, number]) };
}

/**
 * The epoch over time, one line per region: each lease change holds its epoch, in its region's
 * colour, until the next change (of any region) or the window's end; a region's line breaks
 * where another region's change takes over. A promotion shows as its target's line at the old
 * epoch (draining), then a rise to the new one at promote_done.
 */
export function epochLines(rows: Row[], xOf: XOf, xEnd: number, order: string[], colors: Record<string, string>): LineSeries[] {
  const changes = rows.map((r) => ({ x: xOf(r["t"]!), region: String(r["region"]), epoch: num(r["epoch"]) })).sort((a, b) => a.x - b.x);
  return order.map((region) => {
    const points: [number, number][] = [];
    changes.forEach((c, i) => {
      if (c.region !== region) return;
      const next = changes[i + 1];
      const until = Math.max(c.x, next?.x ?? xEnd);
      points.push([c.x, c.epoch], [until, c.epoch]);
      if (next !== undefined && next.region !== region) points.push([until, Number.NaN]);
    });
    return { name: region, color: colors[region], points };
  });
}

function drawn(rows: WriteRows, axis: ChartAxis, xOf: XOf, stepS: number): Drawn[] {
  const per = `per ${stepS} s`;
  const outcomes = perStep(rows.write_outcomes, xOf, [...EDGE_OUTCOMES, ...QUEUE_ACTIONS]);
  const backlog = perStep(rows.backlog, xOf, ["queued_writes", "oldest_age_s", "dead_letters"]);
  const regions = regionOrder([rows.writer]);
  const colors = colorsOf(regions);
  return [
    {
      panel: "write_outcomes",
      rows: rows.write_outcomes.length,
      caption:
        `What happened to the writes? Above, write and webhook requests ${per} by what the edge answered: passed on to the writer, queued (202), replayed (a stored result, or 202 again for the same key), ` +
        "or refused: in_flight (409, the same key is being sent), mismatch (422, the key was used with another request), missing_key (400), too_large (503, too large to queue). " +
        "Below, what the queue consumer did: delivered, duplicate_dropped (already delivered: nothing sent twice), retry, dead_lettered, replayed_dead (an operator's replay).",
      svgs: [
        stackedBars({
          ...axis,
          title: "Write requests by what the edge answered",
          yLabel: `requests ${per}`,
          categories: [...EDGE_OUTCOMES],
          colors: WRITE_COLORS,
          rows: outcomes.map(([x, values]) => ({ x, values })),
          barWidth: stepS,
        }),
        lineChart({
          ...axis,
          title: "Queued writes: what the consumer did",
          yLabel: `writes ${per}`,
          series: QUEUE_ACTIONS.map((a) => line(outcomes, a, a, WRITE_COLORS[a])),
        }),
      ],
    },
    {
      panel: "backlog",
      rows: rows.backlog.length,
      caption:
        "Is the queue draining? The queued writes not yet delivered and the dead letters waiting for a replay (the largest count the backlog object made in each step), " +
        "and how long the oldest queued write has waited.",
      svgs: [
        lineChart({
          ...axis,
          title: "Write backlog: queued writes and dead letters",
          yLabel: "writes",
          series: [line(backlog, "queued_writes", "queued writes", WRITE_COLORS["queued"]), line(backlog, "dead_letters", "dead letters", WRITE_COLORS["dead_lettered"])],
        }),
        lineChart({
          ...axis,
          title: "Age of the oldest queued write",
          yLabel: "seconds",
          series: [line(backlog, "oldest_age_s", "oldest queued write", WRITE_COLORS["retry"])],
        }),
      ],
    },
    {
      panel: "writer",
      rows: rows.writer.length,
      caption:
        "Which region holds the write lease, under which epoch? Each lease change (promote, promote_done, freeze, unfreeze) holds its epoch in its region's colour until the next one; " +
        "a promotion is its target at the old epoch while writes drain, then the new epoch. The changes are listed below.",
      svgs: [
        lineChart({
          ...axis,
          title: "Writer lease: epoch by region",
          yLabel: "epoch",
          series: epochLines(rows.writer, xOf, axis.xDomain[1], regions, colors),
        }),
      ],
    },
  ];
}

const EMPTY: Record<WritePanel, string> = {
  write_outcomes: "No write or webhook requests and no queue deliveries in this window.",
  backlog: "No backlog counts in this window.",
  writer: "No writer lease changes in this window: no promotion, freeze or unfreeze.",
};

function leaseChangesTable(rows: Row[], drillStartMs: number | undefined): string {
  if (rows.length === 0) return "";
  const since = drillStartMs === undefined ? [] : ["at (s)"];
  const cols = [...since, "t", "region", "action", "reason", "source", "epoch"];
  return htmlTable(cols, rows, (r, c) => (c === "at (s)" ? sinceDrill(r["t"]!, drillStartMs!) : String(r[c] ?? "")));
}

/** The page's Writes section: a chart per write panel with data, a sentence for one without, and the lease changes. */
export function writesSection(rows: WriteRows, axis: ChartAxis, xOf: XOf, stepS: number, drillStartMs: number | undefined): string {
  if (WRITE_CHART_PANELS.every((p) => rows[p].length === 0)) {
    return "<p>No writes in this window: WRITES is unset, or no write, webhook, queue delivery or lease change happened.</p>";
  }
  const panels = drawn(rows, axis, xOf, stepS).map((p) =>
    p.rows === 0 ? `<p>${escapeXml(EMPTY[p.panel])}</p>` : `<div class="panel" data-panel="${p.panel}" data-rows="${p.rows}"><p class="caption">${escapeXml(p.caption)}</p>\n${p.svgs.join("")}</div>`,
  );
  return [...panels, leaseChangesTable(rows.writer, drillStartMs)].filter((s) => s !== "").join("\n");
}

/** One line for the CLI, when the window has writes: the edge's answers, the consumer's actions, the backlog's peak, the lease changes. */
export function writesSummary(rows: WriteRows): string | undefined {
  if (WRITE_CHART_PANELS.every((p) => rows[p].length === 0)) return undefined;
  const total = (c: string) => rows.write_outcomes.reduce((n, r) => n + num(r[c]), 0);
  const peak = (c: string) => rows.backlog.reduce((n, r) => Math.max(n, num(r[c])), 0);
  const refused = REFUSALS.reduce((n, c) => n + total(c), 0);
  const epochs = rows.writer.map((r) => num(r["epoch"]));
  const lease = rows.writer.length === 0 ? "no lease changes" : `${rows.writer.length} lease change${rows.writer.length === 1 ? "" : "s"} (last epoch ${epochs[epochs.length - 1]})`;
  return (
    `writes: ${total("passed")} passed, ${total("queued")} queued, ${total("replayed")} replayed, ${refused} refused; ` +
    `queue: ${total("delivered")} delivered, ${total("duplicate_dropped")} duplicates dropped, ${total("retry")} retries, ${total("dead_lettered")} dead-lettered; ` +
    `backlog peak ${peak("queued_writes")} (oldest ${peak("oldest_age_s").toFixed(1)} s), ${peak("dead_letters")} dead letters; ${lease}`
  );
}
