/** The LKG cache key: host, path and sorted query, with every secret query parameter left out. */
import type { Config } from "../config.ts";

export function lkgKey(url: URL, scrub: Config["scrub"]): string {
  if (url.search === "") return `${url.host.toLowerCase()}${url.pathname}`;
  const kept: [string, string][] = [];
  for (const [name, value] of url.searchParams) {
    if (!scrub.secretQueryParams.includes(name.toLowerCase())) kept.push([name, value]);
  }
  // Sorting makes ?a=1&b=2 and ?b=2&a=1 one entry; a stable sort keeps repeated names in order.
  kept.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const query = new URLSearchParams(kept).toString();
  return `${url.host.toLowerCase()}${url.pathname}${query ? `?${query}` : ""}`;
}
