/** An HTML table of panel rows: one header row, one row per result row, every cell escaped. */
import { escapeXml } from "../drill/svg.ts";
import type { Row } from "./queries.ts";

export function htmlTable(cols: string[], rows: Row[], value: (r: Row, c: string) => string = (r, c) => String(r[c] ?? "")): string {
  return `<table><thead><tr>${cols.map((c) => `<th>${escapeXml(c)}</th>`).join("")}</tr></thead><tbody>\n${rows
    .map((r) => `<tr>${cols.map((c) => `<td>${escapeXml(value(r, c))}</td>`).join("")}</tr>`)
    .join("\n")}\n</tbody></table>`;
}
