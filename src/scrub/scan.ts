/** One pass over a request's headers: what in them makes its answer user-specific, steered, or not to be stored. */
import { hasNoStore } from "./cache-control.ts";
import { hasSessionCookie } from "./credentials.ts";
import type { ScrubRules } from "./rules.ts";

export const AUTHORIZATION = 1;
export const PROXY_AUTHORIZATION = 2;
export const SESSION_COOKIE = 4;
export const SENSITIVE_HEADER = 8;
export const STEERED = 16;
/** The request's own Cache-Control says no-store (RFC 9111 §5.2.1.5). */
export const NO_STORE = 32;
export const CREDENTIALED = AUTHORIZATION | PROXY_AUTHORIZATION | SESSION_COOKIE | SENSITIVE_HEADER;

/**
 * Every header is looked at once, by the name the origin will read it as (names.ts headerKey): a
 * `has()` per listed name would miss `x_api_key`, and would cost a call into the runtime per name.
 * Returns the flags above, OR-ed; no allocation beyond the iteration itself.
 */
export function scanHeaders(headers: Headers, rules: ScrubRules): number {
  let flags = 0;
  // Names only: materialising every value costs more than fetching the two we read (Cookie, Cache-Control).
  for (const name of headers.keys()) {
    // Headers hands names over lower-case: only `_` is left to fold (headerKey, inlined).
    const key = name.includes("_") ? name.replaceAll("_", "-") : name;
    switch (rules.requestHeaders.get(key)) {
      case undefined:
        break;
      case "authorization":
        flags |= AUTHORIZATION;
        break;
      case "proxy-authorization":
        flags |= PROXY_AUTHORIZATION;
        break;
      case "sensitive-header":
        flags |= SENSITIVE_HEADER;
        break;
      case "cookie":
        if (hasSessionCookie(headers.get(name) ?? "", rules)) flags |= SESSION_COOKIE;
        break;
      case "steering":
        flags |= STEERED;
        break;
      case "edge-owned":
        // Ours replaces this spelling on the way out; another spelling would reach the origin beside ours.
        if (key !== name) flags |= STEERED;
        break;
      case "cache-control":
        if (hasNoStore(headers.get(name) ?? "")) flags |= NO_STORE;
        break;
    }
  }
  return flags;
}
