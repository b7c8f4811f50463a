/** The reserved /__edge namespace, matched however an origin might read the path, so no spelling of it is ever proxied. */

/**
 * The gate every request passes. Without a percent escape the path is plain ASCII (the URL parser
 * escapes everything else), and no step below joins two segments, so only a path that holds
 * "__edge" in some case can normalize into the namespace. One regex test, no allocation.
 */
const MAYBE_RESERVED = /__edge|%/i;

/**
 * Rounds of percent-decoding tried: an origin behind one or two decoding proxies decodes two or
 * three times; five leaves room. A path still changing after that is refused rather than guessed at.
 */
export const MAX_DECODE_ROUNDS = 5;

/** Characters that make a path under /__edge something other than the exact spelling the routes use. */
const NOT_CANONICAL = /[%;\\]|\/\/|\/\.\.?(?:\/|$)/;

const ESCAPES = /(?:%[0-9a-f]{2})+/gi;
const SEPARATORS = /[/\\]/;
/** Windows-style servers drop trailing dots and spaces from a segment: "__edge." is "__edge", ".. " is "..". */
const TRAILING_SPACES = / +$/;
const TRAILING_DOTS_SPACES = /[. ]+$/;
const UTF8 = new TextDecoder();

/**
 * - `none`: not the namespace under any reading; proxy it.
 * - `canonical`: exactly `/__edge` or `/__edge/...` with nothing to normalize; the edge routes answer it.
 * - `spelling`: another spelling of the namespace (case, `//`, escapes, `;` parameters, `\`, ...); refuse it.
 * - `too-deep`: still percent-decoding after MAX_DECODE_ROUNDS; refuse it, it cannot be told apart.
 */
export type ReservedMatch = "none" | "canonical" | "spelling" | "too-deep";

/** How `pathname` (a parsed URL's, as forwarded to the origin) relates to the reserved namespace. */
export function matchReserved(pathname: string): ReservedMatch {
  if (!MAYBE_RESERVED.test(pathname)) return "none";
  if ((pathname === "/__edge" || pathname.startsWith("/__edge/")) && !NOT_CANONICAL.test(pathname)) return "canonical";
  let path = pathname;
  for (let round = 0; ; round++) {
    // Every intermediate form counts: an origin may decode any number of times up to the last.
    if (firstSegment(path) === "__edge") return "spelling";
    const decoded = percentDecode(path);
    if (decoded === path) return "none";
    if (round === MAX_DECODE_ROUNDS) return "too-deep";
    path = decoded;
  }
}

/**
 * The first segment of the path once resolved the most permissive way an origin might resolve it:
 * cut at NUL, `\` as `/`, `;` parameters dropped, empty and `.` segments dropped, `..` popping,
 * trailing dots and spaces dropped, compatibility forms folded (NFKC: fullwidth "＿"), lower case.
 */
export function firstSegment(path: string): string | undefined {
  // Folded before splitting: NFKC turns fullwidth "／", "＼", "；" and "．" into separators too.
  const folded = path.normalize("NFKC");
  const nul = folded.indexOf("\0");
  const segments: string[] = [];
  for (const raw of (nul === -1 ? folded : folded.slice(0, nul)).split(SEPARATORS)) {
    const semicolon = raw.indexOf(";");
    const segment = (semicolon === -1 ? raw : raw.slice(0, semicolon)).replace(TRAILING_SPACES, "");
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      segments.pop();
      continue;
    }
    const name = segment.replace(TRAILING_DOTS_SPACES, "").toLowerCase();
    if (name !== "") segments.push(name);
  }
  return segments[0];
}

/** One round of percent-decoding that never throws: malformed escapes stay, invalid UTF-8 becomes U+FFFD. */
export function percentDecode(path: string): string {
  if (!path.includes("%")) return path;
  return path.replace(ESCAPES, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return UTF8.decode(bytes);
  });
}
