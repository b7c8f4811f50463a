/** Whether a request carries anything that makes its answer user-specific (RFC 9111 §3.5 and our session rules). */
import { cookieKey, paramKey } from "./names.ts";
import type { ScrubRules } from "./rules.ts";

export type Credential = "authorization" | "proxy-authorization" | "session-cookie" | "secret-query" | "sensitive-header";

/**
 * Whether a non-empty Cookie header value holds a session. With "*" every cookie is one, whatever
 * it looks like (`=USERA` parses as {"": "USERA"}). Otherwise a pair with no name, or no `=`
 * (parsers disagree whether `USERA` is a name or a value), counts too; names are folded as a
 * parser may read them. Commas split as well: several Cookie headers arrive joined by ", ".
 */
export function hasSessionCookie(value: string, rules: ScrubRules): boolean {
  // An empty Cookie header carries nothing an origin could read.
  if (value === "") return false;
  if (rules.anyCookie) return true;
  for (const part of value.split(/[;,]/)) {
    const pair = part.trim();
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) return true;
    const name = cookieKey(pair.slice(0, eq));
    if (name === "" || rules.sessionCookies.has(name)) return true;
  }
  return false;
}

/**
 * A secret in the query is a credential exactly like Authorization: dropping it from the key
 * and then storing the answer would hand one token's answer to every other token.
 */
export function hasSecretParam(url: URL, rules: ScrubRules): boolean {
  if (url.search === "") return false;
  for (const name of url.searchParams.keys()) if (rules.secretParams.has(paramKey(name))) return true;
  return false;
}
