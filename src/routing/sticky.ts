/**
 * Region assignments the client carries: `<region>.<expires unix seconds>.<base64url HMAC-SHA256>`
 * in the cookie `edge-region` (or a configured request header), signed so a client cannot pick
 * its region, and kept per client rather than hashed, so a region leaving reshuffles nobody else.
 */
import type { StickySecret } from "../config.ts";
import type { RoutingPolicy } from "./types.ts";

export const ASSIGNMENT_COOKIE = "edge-region";
/** The answer's header in header mode; the client sends the token back in ROUTING.sticky_header. */
export const ASSIGNMENT_HEADER = "x-edge-assignment";
/** Longer than any token we issue (a 63-character region, 12 digits, 43 of MAC): refused before any crypto. */
export const MAX_TOKEN_LENGTH = 256;
/** Verdicts remembered per token, so a client's repeat requests do not redo the HMAC. */
export const VERDICT_CACHE_SIZE = 4096;
/** Clocks of two isolates may differ a little: an expiry this far past `now + stick` is still believed. */
const CLOCK_SKEW_S = 5;
/** The label ADMIN_TOKEN signs to make the assignment key, so the admin token itself never signs a cookie. */
const DERIVE_LABEL = "edge-fallback region assignment key v1";
const COOKIE_PREFIX = `${ASSIGNMENT_COOKIE}=`;
/** 32 bytes, canonical: the last character's two spare bits zero, so each MAC has one spelling. */
const MAC = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const EXPIRES = /^[0-9]{1,12}$/;

type MaybePromise<T> = T | Promise<T>;
interface Verdict {
  region: string;
  expiresMs: number;
}

const encoder = new TextEncoder();
/** One import per secret: the runtime is rebuilt per configuration, the key outlives it. */
let imported: { id: string; key: Promise<CryptoKey> } | undefined;

function importKey(secret: StickySecret): Promise<CryptoKey> {
  const id = `${secret.source}\0${secret.secret}`;
  if (imported?.id !== id) imported = { id, key: deriveKey(secret) };
  return imported.key;
}

async function deriveKey(secret: StickySecret): Promise<CryptoKey> {
  const hmac = { name: "HMAC", hash: "SHA-256" };
  let raw: ArrayBuffer | Uint8Array = encoder.encode(secret.secret);
  if (secret.source === "ADMIN_TOKEN") {
    const admin = await crypto.subtle.importKey("raw", raw, hmac, false, ["sign"]);
    raw = await crypto.subtle.sign("HMAC", admin, encoder.encode(DERIVE_LABEL));
  }
  return crypto.subtle.importKey("raw", raw, hmac, false, ["sign", "verify"]);
}

/**
 * The signing key and what it has already decided, for one configuration's regions. Built
 * synchronously; the CryptoKey is imported in the background and awaited only by the first
 * signature or check that needs it.
 */
export class AssignmentKey {
  readonly regions: ReadonlySet<string>;
  private readonly key: Promise<CryptoKey>;
  /** token -> its verdict (null: bad MAC); oldest first, for eviction. */
  private readonly verdicts = new Map<string, Verdict | null>();
  /** region -> the header issued this second (expiry has one-second resolution: one HMAC per region per second). */
  private readonly issued = new Map<string, { second: number; header: readonly [string, string] }>();

  constructor(secret: StickySecret, regions: readonly string[]) {
    this.regions = new Set(regions);
    this.key = importKey(secret);
    // An import that fails (it should not) surfaces on the first sign or verify, not as an unhandled rejection.
    this.key.catch(() => undefined);
  }

  get cachedVerdicts(): number {
    return this.verdicts.size;
  }

  /** What an earlier check of this exact token found. */
  verdict(token: string): Verdict | null | undefined {
    return this.verdicts.get(token);
  }

  /** Bounded: the oldest verdict makes room (an attacker cycling tokens only costs clients one HMAC each). */
  remember(token: string, verdict: Verdict | null): void {
    if (this.verdicts.size >= VERDICT_CACHE_SIZE && !this.verdicts.has(token)) {
      this.verdicts.delete(this.verdicts.keys().next().value!);
    }
    this.verdicts.set(token, verdict);
  }

  async verify(payload: string, mac: string): Promise<boolean> {
    return crypto.subtle.verify("HMAC", await this.key, fromBase64url(mac), encoder.encode(payload));
  }

  async sign(payload: string): Promise<string> {
    return toBase64url(await crypto.subtle.sign("HMAC", await this.key, encoder.encode(payload)));
  }

  issuedHeader(region: string, second: number): readonly [string, string] | undefined {
    const last = this.issued.get(region);
    return last?.second === second ? last.header : undefined;
  }

  rememberIssued(region: string, second: number, header: readonly [string, string]): void {
    this.issued.set(region, { second, header });
  }
}

/**
 * The region of the request's valid assignment, or undefined (none, malformed, expired, bad MAC,
 * a region this configuration does not have). Synchronous when there is no token or its verdict
 * is cached; a Promise only when the HMAC must be checked (once per token per isolate).
 */
export function readAssignment(request: Request, policy: RoutingPolicy, key: AssignmentKey, now: number): MaybePromise<string | undefined> {
  const token = policy.stickyHeader === undefined ? cookieValue(request.headers.get("cookie")) : request.headers.get(policy.stickyHeader);
  if (token === null || token === undefined || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;

  const maxExpiresMs = (Math.floor(now / 1000) + policy.stickMs / 1000 + CLOCK_SKEW_S) * 1000;
  const known = key.verdict(token);
  if (known !== undefined) return known !== null && known.expiresMs > now && known.expiresMs <= maxExpiresMs ? known.region : undefined;

  const firstDot = token.indexOf(".");
  const lastDot = token.lastIndexOf(".");
  if (firstDot <= 0 || lastDot === firstDot) return undefined;
  const region = token.slice(0, firstDot);
  const expires = token.slice(firstDot + 1, lastDot);
  const mac = token.slice(lastDot + 1);
  if (!key.regions.has(region) || !EXPIRES.test(expires) || !MAC.test(mac)) return undefined;
  const expiresMs = Number(expires) * 1000;
  // A token issued under a longer stick_seconds than today's is not believed past today's.
  if (expiresMs <= now || expiresMs > maxExpiresMs) return undefined;

  return key.verify(`${region}.${expires}`, mac).then(
    (ok) => {
      key.remember(token, ok ? { region, expiresMs } : null);
      return ok ? region : undefined;
    },
    () => undefined,
  );
}

/**
 * The header that gives the client `region` for stick_seconds from now: Set-Cookie (cookie mode)
 * or x-edge-assignment (header mode). Synchronous when this region's token was already signed this
 * second; the pair returned must not be mutated (it is shared).
 */
export function assignmentHeader(region: string, policy: RoutingPolicy, key: AssignmentKey, now: number): MaybePromise<readonly [string, string]> {
  const second = Math.floor(now / 1000);
  const cached = key.issuedHeader(region, second);
  if (cached) return cached;
  const stickSeconds = policy.stickMs / 1000;
  const payload = `${region}.${second + stickSeconds}`;
  return key.sign(payload).then((mac) => {
    const token = `${payload}.${mac}`;
    const header: readonly [string, string] =
      policy.stickyHeader === undefined
        ? ["set-cookie", `${COOKIE_PREFIX}${token}; Path=/; Max-Age=${stickSeconds}; HttpOnly; Secure; SameSite=Lax`]
        : [ASSIGNMENT_HEADER, token];
    key.rememberIssued(region, second, header);
    // The client sends this token next: its check is already done.
    key.remember(token, { region, expiresMs: (second + stickSeconds) * 1000 });
    return header;
  });
}

/**
 * The request's headers without our assignment (the `edge-region` cookie, and in header mode the
 * configured header), before they reach the origin or the privacy rules (with SESSION_COOKIES "*"
 * our cookie would make every request credentialed). Other cookies are kept byte for byte. The
 * same object, untouched, when there is nothing of ours in it.
 */
export function withoutAssignment(headers: Headers, policy: RoutingPolicy): Headers {
  const cookie = headers.get("cookie");
  const hasCookie = cookie !== null && hasOurCookie(cookie);
  const header = policy.stickyHeader;
  const hasHeader = header !== undefined && headers.has(header);
  if (!hasCookie && !hasHeader) return headers;
  const out = new Headers(headers);
  if (hasHeader) out.delete(header);
  if (hasCookie) {
    const rest = cookie
      .split(";")
      .filter((pair) => !pair.trimStart().startsWith(COOKIE_PREFIX))
      .join(";")
      .trimStart();
    if (rest === "") out.delete("cookie");
    else out.set("cookie", rest);
  }
  return out;
}

/** Cheap first: most requests' cookies do not mention us at all. */
function hasOurCookie(cookie: string): boolean {
  let at = cookie.indexOf(COOKIE_PREFIX);
  while (at >= 0) {
    let i = at - 1;
    while (i >= 0 && (cookie[i] === " " || cookie[i] === "\t")) i--;
    if (i < 0 || cookie[i] === ";") return true;
    at = cookie.indexOf(COOKIE_PREFIX, at + 1);
  }
  return false;
}

/** The first `edge-region` cookie's value. */
function cookieValue(cookie: string | null): string | undefined {
  if (cookie === null || !hasOurCookie(cookie)) return undefined;
  for (const pair of cookie.split(";")) {
    const trimmed = pair.trim();
    if (trimmed.startsWith(COOKIE_PREFIX)) return trimmed.slice(COOKIE_PREFIX.length);
  }
  return undefined;
}

function toBase64url(bytes: ArrayBuffer): string {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
