/** Whether a request carries anything that makes its answer user-specific (RFC 9111 §3.5 and our session rules). */
import type { Config } from "../config.ts";

export type Credential = "authorization" | "proxy-authorization" | "session-cookie" | "secret-query" | "sensitive-header";

export function findCredential(request: Request, url: URL, scrub: Config["scrub"]): Credential | undefined {
  const headers = request.headers;
  if (headers.has("authorization")) return "authorization";
  if (headers.has("proxy-authorization")) return "proxy-authorization";
  for (const name of scrub.sensitiveHeaders) if (headers.has(name)) return "sensitive-header";
  const cookie = headers.get("cookie");
  if (cookie && hasSessionCookie(cookie, scrub.sessionCookies)) return "session-cookie";
  // A secret in the query is a credential exactly like Authorization: dropping it from the key
  // and then storing the answer would hand one token's answer to every other token.
  for (const name of url.searchParams.keys()) {
    if (scrub.secretQueryParams.includes(name.toLowerCase())) return "secret-query";
  }
  return undefined;
}

function hasSessionCookie(cookieHeader: string, sessionCookies: readonly string[]): boolean {
  const names = cookieHeader
    .split(";")
    .map((part) => part.split("=", 1)[0]!.trim())
    .filter((n) => n.length > 0);
  if (names.length === 0) return false;
  if (sessionCookies.includes("*")) return true;
  const wanted = sessionCookies.map((c) => c.toLowerCase());
  return names.some((n) => wanted.includes(n.toLowerCase()));
}
