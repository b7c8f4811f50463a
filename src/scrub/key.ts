/** The LKG cache key: host, path and sorted query, with every secret query parameter left out. */
import { paramKey } from "./names.ts";
import type { ScrubRules } from "./rules.ts";

export function lkgKey(url: URL, rules: ScrubRules): string {
  if (url.search === "") return `${url.host.toLowerCase()}${url.pathname}`;
  const kept: [string, string][] = [];
  for (const [name, value] of url.searchParams) {
    // Folded as the origin's framework may read it: `token[]`, `Access.Token` are secrets too.
    if (!rules.secretParams.has(paramKey(name))) kept.push([name, value]);
  }
  // Sorting makes ?a=1&b=2 and ?b=2&a=1 one entry; a stable sort keeps repeated names in order.
  kept.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const query = new URLSearchParams(kept).toString();
  return `${url.host.toLowerCase()}${url.pathname}${query ? `?${query}` : ""}`;
}
