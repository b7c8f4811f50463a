/** Builds the answers of the fallback path: a stored copy marked with Age and Cache-Status, or a clear error. */
import { isNullBodyStatus, type LkgEntry } from "./entry.ts";

/** The name we give ourselves in Cache-Status (RFC 9211). */
export const CACHE_NAME = "edge-fallback";

/** Names the region whose answer this is; a stored copy or a worker-made error carries none. */
export const REGION_HEADER = "x-edge-region";

/** `origin-over-budget`: the client held a copy and the origin took longer than ORIGIN_COPY_BUDGET_MS (no failure). */
export type StaleCause = "origin-5xx" | "origin-timeout" | "origin-unreachable" | "origin-slow" | "origin-over-budget" | "breaker-open";

export function fromEntry(entry: LkgEntry, ageMs: number, cause: StaleCause, method: string): Response {
  // A native copy of the runtime's Headers keeps bytes a string could not (scrub/headers.ts).
  const headers = new Headers(entry.nativeHeaders ?? entry.headers);
  headers.set("age", String(Math.floor(ageMs / 1000)));
  // A copy is not a region's answer now, whatever the origin put in it.
  headers.delete(REGION_HEADER);
  headers.set("cache-status", `${CACHE_NAME}; hit; detail=stale-${cause}`);
  if (isNullBodyStatus(entry.status)) return new Response(null, { status: entry.status, headers });
  // The stored body's own length (the origin's was dropped when storing: the copy is kept decoded).
  // A HEAD carries it too, as the GET it stands for would (RFC 9110 section 9.3.2).
  headers.set("content-length", String(entry.body.byteLength));
  return new Response(method === "HEAD" ? null : entry.body, { status: entry.status, headers });
}

export function unavailable(cause: StaleCause, retryAfterSeconds: number, detail: string): Response {
  return new Response(JSON.stringify({ error: "origin unavailable", cause, detail, retryAfterSeconds }), {
    status: 503,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "retry-after": String(retryAfterSeconds),
      "cache-control": "no-store",
      "cache-status": `${CACHE_NAME}; fwd=uri-miss; detail=${cause === "breaker-open" ? "breaker-open" : "origin-unreachable"}-no-lkg`,
    },
  });
}

export function jsonError(status: number, error: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error, ...extra }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}
