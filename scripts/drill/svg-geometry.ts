/**
 * Reads positions back out of the charts of svg.ts, for tests: where an x-axis value lands (from
 * the chart's own tick labels) and the state rectangles of a timeline row.
 */

/** Where the chart puts an x value (seconds), from the first and last of its x-axis tick labels. */
export function xScale(svg: string): (s: number) => number {
  const ticks = [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" font-size="11" text-anchor="middle" fill="#444">(-?[\d.]+)<\/text>/g)].map((m) => ({ px: Number(m[1]), s: Number(m[2]) }));
  if (ticks.length < 2) throw new Error(`the chart has ${ticks.length} numeric x tick(s); two are needed for the scale`);
  const a = ticks[0]!;
  const b = ticks[ticks.length - 1]!;
  return (s) => a.px + ((s - a.s) * (b.px - a.px)) / (b.s - a.s);
}

/** The state rectangles of one timeline row, left to right, with their SVG x and width. */
export function stateRects(svg: string, rowLabel: string): { state: string; x: number; width: number }[] {
  return [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="#[0-9a-f]{6}" data-state="([^"]+)"><title>([^<]*)<\/title>/g)]
    .filter((m) => m[4]!.startsWith(`${rowLabel}: `))
    .map((m) => ({ state: m[3]!, x: Number(m[1]), width: Number(m[2]) }));
}
