/** Content codings of a stored copy: which ones the runtime already undid, and which clients may get the rest. */

/**
 * workerd's fetch decodes a body only when Content-Encoding is exactly `gzip`, or exactly `br` with
 * the `brotli_content_encoding` compatibility flag (on from compatibility date 2024-04-29; ours is
 * 2026-10-01), compared case-sensitively, one coding alone: not `x-gzip`, `GZIP`, `deflate`,
 * `zstd`, `gzip, br` or two header lines (workerd's getContentEncoding, src/workerd/api/
 * system-streams.c++; test/encodings.test.ts pins it). Every other body reaches us, and the healthy
 * client, as the origin's bytes. The same rule decides what the runtime encodes on the way out, so a
 * copy labelled with anything else is sent as its stored bytes.
 *
 * The flag is read from the runtime, not assumed: taking `br` for decoded when it was not would
 * serve brotli bytes as identity. The reverse mistake is harmless (the label is kept, and the
 * runtime encodes the decoded body again on the way out, as it does for the healthy answer).
 */
export const RUNTIME_DECODED: ReadonlySet<string> = new Set(runtimeFlag("brotli_content_encoding") ? ["gzip", "br"] : ["gzip"]);

function runtimeFlag(name: string): boolean {
  const cloudflare = (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } }).Cloudflare;
  return cloudflare?.compatibilityFlags?.[name] === true;
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
/** RFC 9110 §8.4: a comma-separated list of coding names, empty elements allowed (§5.6.1). */
const CODING_LIST = new RegExp(`^[\\t ]*(?:${TOKEN})?(?:[\\t ]*,[\\t ]*(?:${TOKEN})?)*[\\t ]*$`);

/** RFC 9110 §8.4.1: recipients treat the x- names as the codings they stood for. */
const ALIASES: Record<string, string> = { "x-gzip": "gzip", "x-compress": "compress" };

/**
 * The codings a Content-Encoding value says were applied, in order, lower-cased, without `identity`
 * and empty elements; undefined when the value is not a list of coding names (such a body cannot be
 * described to anyone, so it is not stored: `skip:encoding`).
 */
export function contentCodings(value: string): string[] | undefined {
  if (!CODING_LIST.test(value)) return undefined;
  const codings: string[] = [];
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (name && name !== "identity") codings.push(ALIASES[name] ?? name);
  }
  return codings;
}

/** Whether a stored copy with this Content-Encoding (null: none) may be stored at all. */
export function storableEncoding(value: string | null): boolean {
  return value === null || RUNTIME_DECODED.has(value) || contentCodings(value) !== undefined;
}

/**
 * Whether a client that sent `acceptEncoding` can take a body still encoded with `contentEncoding`
 * (RFC 9110 §12.5.3): every coding listed with q > 0, or not listed and covered by `*` with q > 0.
 * A copy without codings suits everyone. No header, or an empty one, accepts no coding: RFC 9110
 * would let a server send any coding to a client that sent none, but nothing says that client can
 * decode it, and the copy was made for whatever some other client accepted.
 */
export function acceptsEncoding(acceptEncoding: string | null, contentEncoding: string): boolean {
  const codings = contentCodings(contentEncoding);
  if (codings === undefined) return false;
  if (codings.length === 0) return true;
  if (!acceptEncoding) return false;
  const weights = new Map<string, number>();
  for (const element of acceptEncoding.split(",")) {
    const [rawName, ...params] = element.split(";");
    const name = rawName!.trim().toLowerCase();
    if (!name) continue;
    let q = 1;
    for (const param of params) {
      const [key, val] = param.split("=");
      if (key?.trim().toLowerCase() === "q") q = /^\s*(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/.test(val ?? "") ? Number(val) : 0;
    }
    const coding = ALIASES[name] ?? name;
    if (!weights.has(coding)) weights.set(coding, q);
  }
  const any = weights.get("*") ?? 0;
  return codings.every((coding) => (weights.get(coding) ?? any) > 0);
}

/**
 * The client's own Accept-Encoding. Cloudflare (and wrangler dev) rewrite the header a worker sees
 * to `br, gzip` and keep the client's in `request.cf.clientAcceptEncoding` ("" when it sent none).
 */
export function clientAcceptEncoding(request: Request): string | null {
  const own = request.cf?.clientAcceptEncoding;
  return typeof own === "string" ? own : request.headers.get("accept-encoding");
}
