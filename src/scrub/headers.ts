/** Headers that never reach the LKG store, and the copy of a response's headers that may. */
import type { Config } from "../config.ts";
import { RUNTIME_DECODED } from "./encoding.ts";

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
 * Our own freshness headers are recomputed on every fallback answer, and the length is the stored
 * body's (a body the runtime decoded is longer than the origin said). Content-Encoding goes only
 * when the runtime decoded the body (scrub/encoding.ts): the copy is then that body, served as
 * identity, which every client can read. Any other encoding is kept with the origin's bytes, so the
 * copy says what they are.
 */
const RECOMPUTED = ["age", "cache-status", "content-length", "date"];

export function scrubbedHeaders(headers: Headers, scrub: Config["scrub"]): [string, string][] {
  const drop = new Set([...HOP_BY_HOP, ...CREDENTIAL_HEADERS, ...RECOMPUTED, ...scrub.sensitiveHeaders]);
  const connectionListed = (headers.get("connection") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const name of connectionListed) drop.add(name);
  const out: [string, string][] = [];
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (drop.has(lower) || (lower === "content-encoding" && RUNTIME_DECODED.has(value))) return;
    out.push([lower, value]);
  });
  return out;
}
