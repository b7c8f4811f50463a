/** The scrub settings compiled once per configuration into lookups, so a request only does lookups. */
import { EDGE_OWNED_HEADERS, type Config } from "../config.ts";
import { cookieKey, headerKey, paramKey } from "./names.ts";

/** What a request header (by its headerKey) means for the store. */
export type HeaderRole = "authorization" | "proxy-authorization" | "cookie" | "sensitive-header" | "steering" | "edge-owned" | "cache-control";

export interface ScrubRules {
  requestHeaders: ReadonlyMap<string, HeaderRole>;
  /** Secret query parameter names, by paramKey. */
  secretParams: ReadonlySet<string>;
  /** SESSION_COOKIES includes "*": any non-empty Cookie header is a session. */
  anyCookie: boolean;
  /** Session cookie names, by cookieKey. */
  sessionCookies: ReadonlySet<string>;
}

const compiled = new WeakMap<Config["scrub"], ScrubRules>();

/** The rules for `scrub`, compiled on first use; the resolved configuration lives as long as its runtime. */
export function rulesFor(scrub: Config["scrub"]): ScrubRules {
  let rules = compiled.get(scrub);
  if (!rules) {
    rules = compile(scrub);
    compiled.set(scrub, rules);
  }
  return rules;
}

function compile(scrub: Config["scrub"]): ScrubRules {
  const requestHeaders = new Map<string, HeaderRole>();
  // Later roles win: a credential outranks steering, so a name on both lists is credentialed.
  for (const name of EDGE_OWNED_HEADERS) requestHeaders.set(headerKey(name), "edge-owned");
  for (const name of scrub.steeringHeaders) requestHeaders.set(headerKey(name), "steering");
  for (const name of scrub.sensitiveHeaders) requestHeaders.set(headerKey(name), "sensitive-header");
  requestHeaders.set("cache-control", "cache-control");
  requestHeaders.set("cookie", "cookie");
  requestHeaders.set("authorization", "authorization");
  requestHeaders.set("proxy-authorization", "proxy-authorization");
  return {
    requestHeaders,
    secretParams: new Set(scrub.secretQueryParams.map(paramKey)),
    anyCookie: scrub.sessionCookies.includes("*"),
    sessionCookies: new Set(scrub.sessionCookies.filter((c) => c !== "*").map(cookieKey)),
  };
}
