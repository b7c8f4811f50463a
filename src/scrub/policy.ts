/** What may be served from or written to the shared LKG store, decided before and after the origin answers. */
import type { Config } from "../config.ts";
import { storeDenial } from "./cache-control.ts";
import { hasSecretParam, type Credential } from "./credentials.ts";
import { storableEncoding } from "./encoding.ts";
import { lkgKey } from "./key.ts";
import { matchRoute } from "./routes.ts";
import { rulesFor } from "./rules.ts";
import { AUTHORIZATION, CREDENTIALED, NO_STORE, PROXY_AUTHORIZATION, SENSITIVE_HEADER, SESSION_COOKIE, STEERED, scanHeaders } from "./scan.ts";

export type RequestPolicy =
  | {
      lkg: true;
      key: string;
      route: string;
      credential: Credential | undefined;
      /** The path is in PUBLIC_ROUTES: the operator promises its answers are the same for everyone. */
      publicRoute: boolean;
      /** The request said `Cache-Control: no-store`: its answer is not stored, but a copy may answer it. */
      requestNoStore: boolean;
    }
  | { lkg: false; reason: "method" | "route" | "credentialed" | "steered"; route: string | undefined; credential: Credential | undefined };

export function requestPolicy(request: Request, url: URL, config: Config): RequestPolicy {
  const route = matchRoute(config.lkg.routes, url.pathname);
  // Cheapest first: a request that may not be stored anyway needs no header scan.
  if (!config.lkg.methods.includes(request.method)) return { lkg: false, reason: "method", route, credential: undefined };
  if (!route) return { lkg: false, reason: "route", route, credential: undefined };
  const rules = rulesFor(config.scrub);
  const flags = scanHeaders(request.headers, rules);
  const credential = credentialOf(flags) ?? (hasSecretParam(url, rules) ? "secret-query" : undefined);
  const publicRoute = matchRoute(config.lkg.publicRoutes, url.pathname) !== undefined;
  // RFC 9111 §3.5: a credentialed answer is user-specific unless the operator says the route is public.
  if (credential && !publicRoute) return { lkg: false, reason: "credentialed", route, credential };
  // Forwarded, not stored: an attacker's X-Forwarded-Prefix or method override shapes only his own
  // answer. Public routes too: "the same for every user" says nothing about a rewritten URL.
  if (flags & STEERED) return { lkg: false, reason: "steered", route, credential };
  return { lkg: true, key: lkgKey(url, rules), route, credential, publicRoute, requestNoStore: (flags & NO_STORE) !== 0 };
}

function credentialOf(flags: number): Credential | undefined {
  if ((flags & CREDENTIALED) === 0) return undefined;
  if (flags & AUTHORIZATION) return "authorization";
  if (flags & PROXY_AUTHORIZATION) return "proxy-authorization";
  if (flags & SENSITIVE_HEADER) return "sensitive-header";
  if (flags & SESSION_COOKIE) return "session-cookie";
  return undefined;
}

/** RFC 9110 §15.1: statuses that are cacheable by default. 206 is left out: the Cache API refuses it. */
const STORABLE_STATUSES = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

export type ResponseVerdict =
  | { store: true }
  | { store: false; reason: "request-no-store" | "status" | "no-store" | "private" | "set-cookie" | "vary" | "too-large" | "method" | "encoding" };

/**
 * RFC 9213: a CDN that honours CDN-Cache-Control ignores Cache-Control. For privacy we are
 * stricter: `no-store` or `private` in any of the three forbids the shared store.
 */
const CACHE_CONTROL_FIELDS = ["cache-control", "cdn-cache-control", "cloudflare-cdn-cache-control"];

export function responseVerdict(method: string, response: Response, config: Config, request: { publicRoute: boolean; requestNoStore: boolean }): ResponseVerdict {
  // RFC 9111 §5.2.1.5: a request's no-store forbids storing the answer to it (not serving a copy).
  if (request.requestNoStore) return { store: false, reason: "request-no-store" };
  // HEAD answers have no body to replay; GET answers serve HEAD lookups too.
  if (method !== "GET") return { store: false, reason: "method" };
  if (!STORABLE_STATUSES.has(response.status)) return { store: false, reason: "status" };
  const headers = response.headers;
  for (const field of CACHE_CONTROL_FIELDS) {
    const denial = storeDenial(headers.get(field));
    if (denial) return { store: false, reason: denial };
  }
  // The stored copy would lose the header but keep the body, and a body that comes with a new
  // session cookie often carries the same session's token (CSRF field, user name): not shared.
  if (!request.publicRoute && (headers.has("set-cookie") || headers.has("set-cookie2"))) return { store: false, reason: "set-cookie" };
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
