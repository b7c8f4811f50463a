/** The dashboard's numbers (the production SQL over the worker's data points) against what the clients saw. */
import { HOSTILE_USER, type RequestResult, type TargetResult } from "../types.ts";

/**
 * The fallback numbers as the clients saw them, for comparison with the dashboard's SQL over the
 * worker's own data points. A lookup is an anonymous GET answered from the fallback path: a copy
 * ("; hit" in Cache-Status) or no copy to give ("no-lkg"); credentialed requests and writes are
 * never looked up.
 */
export function fallbackCounts(results: RequestResult[]): { served: number; lookups: number; misses: number; missRate: number } {
  let served = 0;
  let misses = 0;
  for (const r of results) {
    if (r.cacheStatus.includes("; hit")) served++;
    // Hostile clients (drill broken-route) send no credentials either: their GETs are looked up too.
    else if (r.method === "GET" && (r.user === "anonymous" || r.user === HOSTILE_USER) && r.cacheStatus.includes("no-lkg")) misses++;
  }
  const lookups = served + misses;
  return { served, lookups, misses, missRate: lookups === 0 ? 0 : misses / lookups };
}

/** The dashboard's totals (SQL on the captured points) against the drill's own count. */
export function dashboardAgreement(fromResponses: ReturnType<typeof fallbackCounts>, sql: { lkg_served: number; lookups: number; lookup_misses: number }): TargetResult {
  const sqlRate = sql.lookups === 0 ? 0 : sql.lookup_misses / sql.lookups;
  const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
  return {
    name: "dashboard agrees with the drill",
    target: "fallback answers and cache_miss_rate from SQL = counted from responses",
    measured: `fallback answers ${sql.lkg_served} (SQL) vs ${fromResponses.served} (responses); cache_miss_rate ${pct(sqlRate)} (${sql.lookup_misses}/${sql.lookups}) vs ${pct(fromResponses.missRate)} (${fromResponses.misses}/${fromResponses.lookups})`,
    pass: sql.lkg_served === fromResponses.served && sql.lookups === fromResponses.lookups && sql.lookup_misses === fromResponses.misses,
  };
}

