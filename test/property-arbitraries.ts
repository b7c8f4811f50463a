/** fast-check generators for the privacy properties: credential spellings, cookie shapes, secret parameters, reserved paths, response headers. */
import fc from "fast-check";
import { BUILTIN_SECRET_QUERY_PARAMS, BUILTIN_SENSITIVE_HEADERS } from "../src/config.ts";

/**
 * One seed for every property, so CI replays the same inputs; fast-check prints it (with the
 * shrunk counterexample's path) when a property fails, and `{ seed, path }` replays that case.
 */
export const SEED = 20_261_202;

/** Configured on top of the built-ins by the credential property, to cover SENSITIVE_HEADERS too. */
export const CONFIGURED_SENSITIVE_HEADER = "x-tenant-secret";

export const REQUEST_CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", ...BUILTIN_SENSITIVE_HEADERS, CONFIGURED_SENSITIVE_HEADER];

/** What a stored copy must never carry, by the name a client or origin reads it as (lower case, `_` = `-`). */
export const RESPONSE_CREDENTIAL_HEADERS = new Set(["set-cookie", "set-cookie2", "authorization", "cookie", "proxy-authorization", "www-authenticate", ...BUILTIN_SENSITIVE_HEADERS]);

const hex = (code: number) => fc.boolean().map((upper) => `%${code.toString(16).padStart(2, "0")[upper ? "toUpperCase" : "toLowerCase"]()}`);

/** `name` with every character's case chosen at random and `-`/`_` swapped at random: one origin-visible header. */
export function headerSpelling(name: string): fc.Arbitrary<string> {
  return fc.tuple(...name.split("").map((c) => charSpelling(c, false))).map((chars) => chars.join(""));
}

function charSpelling(c: string, percent: boolean): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [];
  if (/[a-z]/.test(c)) options.push(fc.constant(c), fc.constant(c.toUpperCase()));
  else if (c === "-" || c === "_") options.push(fc.constant("-"), fc.constant("_"));
  else options.push(fc.constant(c));
  if (percent) options.push(hex(c.charCodeAt(0)));
  return fc.oneof(...options);
}

const tokenValue = fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,24}$/);

/** A request header that carries a credential, under any spelling an origin reads as the same header. */
export const credentialHeader = fc
  .constantFrom(...REQUEST_CREDENTIAL_HEADERS)
  .chain((name) => fc.record({ canonical: fc.constant(name), name: headerSpelling(name), value: tokenValue }));

/** Cookie names that fold to no session name (`c` + letters can never read as `sid` / `s_id`). */
const benignCookieName = fc.stringMatching(/^c[a-z0-9]{0,7}$/);
const cookieValue = fc.oneof(fc.stringMatching(/^[A-Za-z0-9!#$&'()*+\-./:<>?@[\]^_`{|}~]{0,12}$/), fc.stringMatching(/^"[A-Za-z0-9 ]{0,10}"$/));
const pad = fc.constantFrom("", " ", "  ");

/** One `name=value` pair as it may appear in a Cookie header: spaces around, empty or quoted value. */
function pair(name: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(pad, name, pad, cookieValue, pad).map(([a, n, b, v, c]) => `${a}${n}${b}=${v}${c}`);
}

/** Shapes that carry no readable name: `=v`, a bare `v`, an empty pair between separators. */
const namelessPair = fc.oneof(
  cookieValue.map((v) => `=${v}`),
  fc.stringMatching(/^[A-Za-z0-9]{1,8}$/),
  fc.constant(""),
);

const separator = fc.constantFrom(";", "; ", " ;", ",", ", ");

function joinCookies(pairs: string[], seps: string[]): string {
  return pairs.map((p, i) => (i === 0 ? p : `${seps[i % seps.length]}${p}`)).join("");
}

/** Any Cookie header with something in it once the runtime trims it: a session when SESSION_COOKIES is ["*"]. */
export const anyCookieHeader = fc
  .tuple(fc.array(fc.oneof(pair(benignCookieName), namelessPair), { minLength: 1, maxLength: 12 }), fc.array(separator, { minLength: 1, maxLength: 4 }))
  .map(([pairs, seps]) => joinCookies(pairs, seps))
  .filter((value) => value.trim() !== "");

/** `sid` or `s_id` as a cookie parser may still read it: case, percent-escaped letters, `[]`, `.`/`-`/space for `_`. */
const sessionCookieName = fc
  .constantFrom("sid", "s_id")
  .chain((name) =>
    fc.tuple(
      fc.tuple(...name.split("").map((c) => (c === "_" ? fc.constantFrom("_", ".", "-", " ", "%5F", "%2E", "%20") : charSpelling(c, true)))),
      fc.constantFrom("", "[]", "[0]", "%5B%5D"),
    ),
  )
  .map(([chars, suffix]) => chars.join("") + suffix);

/** A Cookie header holding, among benign cookies, one session cookie (SESSION_COOKIES ["sid", "s_id"]) or a nameless pair. */
export const sessionCookieHeader = fc
  .tuple(
    fc.array(pair(benignCookieName), { maxLength: 10 }),
    fc.oneof(pair(sessionCookieName), namelessPair.filter((p) => p !== "")),
    fc.nat(),
    fc.array(separator, { minLength: 1, maxLength: 4 }),
  )
  .map(([benign, session, at, seps]) => {
    const pairs = [...benign];
    pairs.splice(at % (benign.length + 1), 0, session);
    return joinCookies(pairs, seps);
  })
  .filter((value) => value.trim() !== "");

/**
 * A secret query parameter's name as a framework still reads it (names.ts paramKey): case,
 * percent-escapes of any character, `_`/`-` as `-`, `_`, `.`, `+` or a space, a `[]` suffix,
 * leading spaces.
 */
export const secretParamSpelling = fc
  .constantFrom(...BUILTIN_SECRET_QUERY_PARAMS)
  .chain((name) =>
    fc.tuple(
      fc.constant(name),
      fc.constantFrom("", "+", "%20"),
      fc.tuple(...name.split("").map((c) => (c === "_" || c === "-" ? fc.constantFrom("_", "-", ".", "+", "%20", "%5F", "%2D", "%2E") : charSpelling(c, true)))),
      fc.constantFrom("", "[]", "[0]", "[a]", "%5B%5D"),
    ),
  )
  .map(([canonical, lead, chars, suffix]) => ({ canonical, name: lead + chars.join("") + suffix }));

/** Percent-encodes `c` `depth` times (`_` -> `%5F` -> `%255F` ...). */
function encodeTimes(c: string, depth: number): string {
  let out = depth > 0 ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c;
  for (let i = 1; i < depth; i++) out = out.replace("%", "%25");
  return out;
}

/** One character of `__edge`: case, percent-encoded up to three times (hex case at random), or another spelling of `_`. */
function reservedChar(c: string): fc.Arbitrary<string> {
  const plain = /[a-z]/.test(c) ? fc.constantFrom(c, c.toUpperCase()) : fc.constant(c);
  const options = [plain, fc.integer({ min: 1, max: 3 }).chain((depth) => fc.boolean().map((lower) => (lower ? encodeTimes(c, depth).toLowerCase() : encodeTimes(c, depth))))];
  // Fullwidth `＿` (NFKC folds it), and nibble-wise double encodings: `%%35%46` and `%5%46` decode to `%5F`, then `_`.
  if (c === "_") options.push(fc.constantFrom("%EF%BC%BF", "＿", "%%35%46", "%%35f", "%5%46", "%%35%66"));
  return fc.oneof(...options);
}

/**
 * A path that reads as the reserved /__edge namespace once normalized the way some origin may:
 * repeated, encoded or back slashes before it, dot segments, the segment spelled in any case or
 * encoding, `;` parameters or a trailing dot after it, and an admin or health rest behind an
 * encoded or plain separator. Written for a URL after the host, as a client would send it.
 */
export const reservedPath = fc
  .tuple(
    fc.constantFrom("/", "//", "///", "/%2F", "/%2f", "/\\", "/./", "/a/../", "/%2e/", "/x/%2e%2e/", "/x/%252e%252e/", "/%5C"),
    fc.tuple(..."__edge".split("").map(reservedChar)).map((chars) => chars.join("")),
    fc.constantFrom("", ";x", ";jsessionid=1", "%3bx", ".", "%20", "%00.html"),
    // Nothing after the segment, or a separator (plain, doubled, encoded, a backslash) and a rest behind it.
    fc.oneof(
      fc.constant(""),
      fc.tuple(fc.constantFrom("/", "//", "%2F", "%2f", "\\", "%5C", "%252F"), fc.constantFrom("", "health", "admin", "admin/breakers/primary/open")).map(([sep, rest]) => sep + rest),
    ),
  )
  .map(([lead, segment, after, tail]) => `${lead}${segment}${after}${tail}`);

/** Cache-Control-shaped values; `deny` says whether one forbids the shared store. */
const cacheControl = fc.constantFrom(
  { value: "public, max-age=60", deny: false },
  { value: "max-age=0", deny: false },
  { value: "no-cache", deny: false },
  { value: "private", deny: true },
  { value: "no-store", deny: true },
  { value: "public, no-store", deny: true },
  { value: "max-age=60, Private", deny: true },
  { value: 'private="set-cookie"', deny: true },
  { value: "s-maxage=30", deny: false },
);

/** Absent three times in four: with all three fields often present, almost every answer would be refused. */
function sometimes<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
}

/** Random extra headers the origin sends, names no store rule looks at. */
const extraHeaders = fc.dictionary(fc.stringMatching(/^x-r-[a-z0-9]{1,8}$/), fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/), { maxKeys: 6 });

/** The credential headers an origin may answer with, in any spelling (Set-Cookie, WWW-Authenticate, X_Api_Key, ...). */
const responseCredentials = fc.uniqueArray(
  fc.constantFrom(...RESPONSE_CREDENTIAL_HEADERS).chain((name) => fc.tuple(headerSpelling(name), tokenValue)),
  { maxLength: 4, selector: ([name]) => name.toLowerCase() },
);

export interface ResponseHeaderSet {
  headers: Record<string, string>;
  /** Cache-Control, CDN-Cache-Control or Cloudflare-CDN-Cache-Control says private or no-store. */
  denied: boolean;
  /** Set-Cookie or Set-Cookie2 under its exact name (the verdict's test; other spellings are stripped, not refused). */
  setsCookie: boolean;
}

/** A response header set: random extras, credential headers in any spelling, and the three Cache-Control fields. */
export const responseHeaderSet: fc.Arbitrary<ResponseHeaderSet> = fc
  .record({
    extras: extraHeaders,
    credentials: responseCredentials,
    cacheControl: sometimes(cacheControl),
    cdnCacheControl: sometimes(cacheControl),
    cloudflareCdnCacheControl: sometimes(cacheControl),
  })
  .map(({ extras, credentials, cacheControl, cdnCacheControl, cloudflareCdnCacheControl }) => {
    const headers: Record<string, string> = { ...extras };
    for (const [name, value] of credentials) headers[name] = value;
    if (cacheControl) headers["cache-control"] = cacheControl.value;
    if (cdnCacheControl) headers["CDN-Cache-Control"] = cdnCacheControl.value;
    if (cloudflareCdnCacheControl) headers["cloudflare-cdn-cache-control"] = cloudflareCdnCacheControl.value;
    const denied = [cacheControl, cdnCacheControl, cloudflareCdnCacheControl].some((c) => c?.deny === true);
    const setsCookie = credentials.some(([name]) => ["set-cookie", "set-cookie2"].includes(name.toLowerCase()));
    return { headers, denied, setsCookie };
  });
