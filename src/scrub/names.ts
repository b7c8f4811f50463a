/**
 * Names compared as the origin will read them, not as they were spelt: an origin that sees a
 * credential or a steering header under another spelling acts on it just the same.
 */

/**
 * A request header name (already lower-case from Headers) as a CGI-style origin reads it: PHP,
 * WSGI, Rack and CGI map `X-Api-Key` and `x_api_key` alike to HTTP_X_API_KEY, so `_` is `-`.
 */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes("_") ? lower.replaceAll("_", "-") : lower;
}

const PLAIN_PARAM = /^[a-z0-9_]+$/;

/**
 * A query parameter or cookie name (already percent-decoded) as a framework may read it, folded
 * to one spelling: lower-case; `token[]` and `token[0]` are `token` (PHP, Rack arrays); leading
 * spaces dropped and `.`, ` ` and an unmatched `[` read as `_` (PHP's register rules); `-` also
 * reads as `_`. Folding more names together only ever counts more requests as credentialed.
 */
export function paramKey(name: string): string {
  const lower = name.toLowerCase();
  if (PLAIN_PARAM.test(lower)) return lower;
  let base = lower.trimStart();
  const open = base.indexOf("[");
  if (open > 0 && base.indexOf("]", open) > open) base = base.slice(0, open);
  return base.replace(/[.\s[-]/g, "_");
}

/** A cookie name as a parser that percent-decodes names (PHP does) and folds it as above. */
export function cookieKey(name: string): string {
  let decoded = name;
  if (name.includes("%")) {
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // A malformed escape stays as it is: no parser can decode it into another name either.
    }
  }
  return paramKey(decoded.trim());
}
