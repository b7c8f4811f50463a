/** Headers that never reach the LKG store, and the copy of a response's headers that may. */
import type { Config } from "../config.ts";
import { RUNTIME_DECODED } from "./encoding.ts";
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
 * Our own freshness headers are recomputed on every fallback answer, and the length is the stored
 * body's (a body the runtime decoded is longer than the origin said). Content-Encoding goes only
 * when the runtime decoded the body (scrub/encoding.ts): the copy is then that body, served as
 * identity, which every client can read. Any other encoding is kept with the origin's bytes, so the
 * copy says what they are.
 */
const RECOMPUTED = ["age", "cache-status", "content-length", "date"];

/** The headers a stored copy carries. */
export interface StoredHeaders {
  /** Lower-cased names and values as JavaScript sees them. */
  list: [string, string][];
  /**
   * The runtime's own Headers object with the same headers, when a value's bytes cannot be held in
   * a string (see `holdsBytes`); undefined otherwise. Only a tier that keeps this object (memory)
   * can replay those bytes.
   */
  native: Headers | undefined;
}

/**
 * workerd decodes received header values as UTF-8 and turns a byte that is not valid UTF-8 (a
 * latin1 `caf\xe9`) into U+FFFD, so the value JavaScript reads has lost the byte for good, while the
 * runtime's own Headers object (and a native copy of it) still holds it. Valid UTF-8 survives a
 * string (the runtime encodes non-ASCII values as UTF-8 when they are set). A value with U+FFFD may
 * also be the origin's own EF BF BD; the two look the same, so both are treated as not held.
 */
function holdsBytes(value: string): boolean {
  return !value.includes("\uFFFD");
}

export function scrubbedHeaders(headers: Headers, scrub: Config["scrub"]): StoredHeaders {
  const drop = new Set([...HOP_BY_HOP, ...CREDENTIAL_HEADERS, ...RECOMPUTED, ...scrub.sensitiveHeaders]);
  const connectionListed = (headers.get("connection") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const name of connectionListed) drop.add(headerKey(name));
  const list: [string, string][] = [];
  let held = true;
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (lower === "content-encoding" && RUNTIME_DECODED.has(value)) drop.add(lower);
    // By the name a client or origin would read it as: `x_api_key` is X-Api-Key to a CGI-style reader.
    if (drop.has(headerKey(lower))) return;
    if (!holdsBytes(value)) held = false;
    list.push([lower, value]);
  });
  if (held) return { list, native: undefined };
  // A native copy keeps every byte; deleting by name keeps the rest untouched.
  const native = new Headers(headers);
  // Every spelling of a dropped name, as above.
  headers.forEach((_, name) => {
    if (drop.has(headerKey(name))) native.delete(name);
  });
  return { list, native };
}
