/** Headers that never reach the LKG store, and the copy of a response's headers that may. */
import type { Config } from "../config.ts";
import { headerKey } from "./names.ts";

/** RFC 9110 §7.6.1 connection-specific fields, never forwarded in either direction. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const CREDENTIAL_HEADERS = ["set-cookie", "set-cookie2", "authorization", "cookie", "proxy-authorization", "www-authenticate"];

/**
 * Our own freshness headers are recomputed on every fallback answer, and the body is stored
 * decoded, so the origin's encoding and length no longer describe it.
 */
const RECOMPUTED = ["age", "cache-status", "content-encoding", "content-length", "date"];

export function scrubbedHeaders(headers: Headers, scrub: Config["scrub"]): [string, string][] {
  const drop = new Set([...HOP_BY_HOP, ...CREDENTIAL_HEADERS, ...RECOMPUTED, ...scrub.sensitiveHeaders]);
  const connectionListed = (headers.get("connection") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const name of connectionListed) drop.add(headerKey(name));
  const out: [string, string][] = [];
  headers.forEach((value, name) => {
    // By the name a client or origin would read it as: `x_api_key` is X-Api-Key to a CGI-style reader.
    if (!drop.has(headerKey(name))) out.push([name.toLowerCase(), value]);
  });
  return out;
}
