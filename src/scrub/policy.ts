/** What may be served from or written to the shared LKG store, decided before and after the origin answers. */
import type { Config } from "../config.ts";
import { findCredential, type Credential } from "./credentials.ts";
import { storableEncoding } from "./encoding.ts";
import { lkgKey } from "./key.ts";
import { matchRoute } from "./routes.ts";

export type RequestPolicy =
  | { lkg: true; key: string; route: string; credential: Credential | undefined }
  | { lkg: false; reason: "method" | "route" | "credentialed"; route: string | undefined; credential: Credential | undefined };

export function requestPolicy(request: Request, url: URL, config: Config): RequestPolicy {
  const route = matchRoute(config.lkg.routes, url.pathname);
  // Cheapest first: a request that may not be stored anyway needs no credential scan.
  if (!config.lkg.methods.includes(request.method)) return { lkg: false, reason: "method", route, credential: undefined };
  if (!route) return { lkg: false, reason: "route", route, credential: undefined };
  const credential = findCredential(request, url, config.scrub);
  // RFC 9111 §3.5: a credentialed answer is user-specific unless the operator says the route is public.
  if (credential && !matchRoute(config.lkg.publicRoutes, url.pathname)) {
    return { lkg: false, reason: "credentialed", route, credential };
  }
  return { lkg: true, key: lkgKey(url, config.scrub), route, credential };
}

/** RFC 9110 §15.1: statuses that are cacheable by default. 206 is left out: the Cache API refuses it. */
const STORABLE_STATUSES = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

export type ResponseVerdict = { store: true } | { store: false; reason: "status" | "no-store" | "private" | "vary" | "too-large" | "method" | "encoding" };

export function responseVerdict(method: string, response: Response, config: Config): ResponseVerdict {
  // HEAD answers have no body to replay; GET answers serve HEAD lookups too.
  if (method !== "GET") return { store: false, reason: "method" };
  if (!STORABLE_STATUSES.has(response.status)) return { store: false, reason: "status" };
  const cacheControl = parseCacheControl(response.headers.get("cache-control"));
  if (cacheControl.has("no-store")) return { store: false, reason: "no-store" };
  if (cacheControl.has("private")) return { store: false, reason: "private" };
  const vary = (response.headers.get("vary") ?? "")
    .split(",")
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);
  // A copy is served only to clients that accept its encoding (scrub/encoding.ts), so
  // Accept-Encoding is the one request header a variant may depend on.
  if (vary.some((v) => v !== "accept-encoding")) return { store: false, reason: "vary" };
  if (!storableEncoding(response.headers.get("content-encoding"))) return { store: false, reason: "encoding" };
  const length = Number(response.headers.get("content-length") ?? "0");
  if (Number.isFinite(length) && length > config.lkg.maxBodyBytes) return { store: false, reason: "too-large" };
  return { store: true };
}

function parseCacheControl(value: string | null): Set<string> {
  const directives = new Set<string>();
  for (const part of (value ?? "").split(",")) {
    const name = part.split("=", 1)[0]!.trim().toLowerCase();
    if (name) directives.add(name);
  }
  return directives;
}
