/** Times in panel rows: ClickHouse's UTC time strings ('2026-11-22 12:00:05[.123]') or epoch seconds. */
export function epochMs(t: string | number): number {
  return typeof t === "number" ? t * 1000 : Date.parse(`${t.replace(" ", "T")}Z`);
}
