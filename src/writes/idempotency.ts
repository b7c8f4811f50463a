/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): reading the header, the payload
 * fingerprint, the scope that keeps one client's key from replaying another's result, the ledger
 * object's name, and the status resource id.
 */
import type { Config } from "../config.ts";
import { hasSessionCookie } from "../scrub/credentials.ts";
import { cookieKey, headerKey, paramKey } from "../scrub/names.ts";
import { rulesFor } from "../scrub/rules.ts";

/** The draft's own limit does not exist; 255 is what common servers (Stripe, PayPal) accept and keeps a queued message small. */
export const MAX_KEY_LENGTH = 255;

export type ParsedKey = { ok: true; key: string } | { ok: false; reason: string };

/** Many clients send a UUID or a token unquoted; accepted beside the draft's sf-string. */
const BARE_TOKEN = /^[A-Za-z0-9._:-]{1,255}$/;

/**
 * The draft defines the field as an Item whose value is a String (RFC 8941 §3.3.3): `"` then
 * printable ASCII with `\"` and `\\` the only escapes, then `"`. Parameters after the string are
 * refused rather than ignored: no client we know sends them, and a key the origin would read
 * differently from us is worse than a 400. The key is the string's content, unescaped, so `"abc"`
 * and `abc` are the same key.
 */
export function parseIdempotencyKey(value: string | null): ParsedKey {
  if (value === null) return { ok: false, reason: "Idempotency-Key is required on this route" };
  // Headers trims surrounding whitespace; a value built elsewhere may not be.
  const text = value.replace(/^[ \t]+|[ \t]+$/g, "");
  if (text === "") return { ok: false, reason: "Idempotency-Key is empty" };
  const control = firstControl(text);
  if (control >= 0) return { ok: false, reason: `Idempotency-Key contains a control character (at ${control})` };
  if (/[^\x20-\x7e]/.test(text)) return { ok: false, reason: "Idempotency-Key contains a character outside printable ASCII" };
  if (text.startsWith('"')) return parseQuoted(text);
  if (text.length > MAX_KEY_LENGTH) return tooLong(text.length);
  if (BARE_TOKEN.test(text)) return { ok: true, key: text };
  return { ok: false, reason: 'Idempotency-Key must be a quoted string ("...") or a bare token of A-Z a-z 0-9 . _ : -' };
}

/** Index of the first C0 control or DEL, or -1 (a loop: a regex of control characters trips the linter). */
function firstControl(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return i;
  }
  return -1;
}

function parseQuoted(text: string): ParsedKey {
  let key = "";
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") {
      const next = text[i + 1];
      if (next !== '"' && next !== "\\") return { ok: false, reason: `Idempotency-Key has an invalid escape at ${i} (only \\" and \\\\ are allowed)` };
      key += next;
      i++;
      continue;
    }
    if (c === '"') {
      // Two headers arrive joined as `"a", "b"`: one key only.
      if (i !== text.length - 1) return { ok: false, reason: "Idempotency-Key must be a single string, with nothing after its closing quote" };
      if (key === "") return { ok: false, reason: "Idempotency-Key is empty" };
      if (key.length > MAX_KEY_LENGTH) return tooLong(key.length);
      return { ok: true, key };
    }
    key += c;
  }
  return { ok: false, reason: "Idempotency-Key has no closing quote" };
}

function tooLong(length: number): ParsedKey {
  return { ok: false, reason: `Idempotency-Key is ${length} characters long; at most ${MAX_KEY_LENGTH} are accepted` };
}

/** The key as an sf-string, the form the origin receives whichever form the client sent. */
export function serializeIdempotencyKey(key: string): string {
  return `"${key.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const encoder = new TextEncoder();

async function sha256Hex(data: BufferSource): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/**
 * The payload fingerprint the draft asks for (same key, different payload: 422): hex SHA-256 of
 * the method, path and query, Content-Type and the body. The text part is a JSON array, whose
 * first newline is the separator (JSON escapes newlines inside strings), so no two inputs frame
 * alike. No body and an empty body are the same payload.
 */
export async function fingerprint(method: string, pathAndQuery: string, contentType: string | null, body: ArrayBuffer | null): Promise<string> {
  const head = encoder.encode(`${JSON.stringify([method, pathAndQuery, contentType])}\n`);
  const bytes = new Uint8Array(head.length + (body?.byteLength ?? 0));
  bytes.set(head, 0);
  if (body) bytes.set(new Uint8Array(body), head.length);
  return sha256Hex(bytes);
}

/**
 * Who is writing, as far as the origin can tell: hex SHA-256 of every credential the request
 * carries (Authorization, Proxy-Authorization, the sensitive headers, session cookies and secret
 * query parameters, read under the names the origin reads them by: scrub/names.ts), so that one
 * client's key never replays another client's stored result. Requests without credentials share
 * one scope (their replays still need the same payload). The digest is only ever hashed again
 * (scopedKey), never stored: SHA-256 of a weak password is not a secret.
 */
export async function credentialScope(request: Request, config: Pick<Config, "scrub">): Promise<string> {
  const rules = rulesFor(config.scrub);
  const parts: string[][] = [];
  for (const [name, value] of request.headers) {
    const key = headerKey(name);
    const role = rules.requestHeaders.get(key);
    if (role === "authorization" || role === "proxy-authorization" || role === "sensitive-header") parts.push(["h", key, value]);
    else if (role === "cookie" && hasSessionCookie(value, rules)) for (const pair of sessionPairs(value, rules)) parts.push(["c", ...pair]);
  }
  const url = new URL(request.url);
  for (const [name, value] of url.searchParams) if (rules.secretParams.has(paramKey(name))) parts.push(["q", paramKey(name), value]);
  // Order-free: the same credentials sent in another order are the same client.
  const canonical = parts.map((p) => JSON.stringify(p)).sort();
  return sha256Hex(encoder.encode(`credentials\n${canonical.join("\n")}`));
}

/** The cookie pairs that make the value a session (see hasSessionCookie), as [folded name, value]; with "*" every pair. */
function sessionPairs(value: string, rules: ReturnType<typeof rulesFor>): string[][] {
  const pairs: string[][] = [];
  for (const part of value.split(/[;,]/)) {
    const pair = part.trim();
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      pairs.push(["", pair]);
      continue;
    }
    const name = cookieKey(pair.slice(0, eq));
    if (rules.anyCookie || name === "" || rules.sessionCookies.has(name)) pairs.push([name, pair.slice(eq + 1)]);
  }
  return pairs;
}

/**
 * The ledger object's name: hex SHA-256 of the kind, the scope (credentialScope for writes, the
 * route pattern for webhooks) and the key, so keys are sharded one object each and never shared
 * across clients or routes.
 */
export async function scopedKey(kind: "write" | "webhook", scope: string, key: string): Promise<string> {
  return sha256Hex(encoder.encode(JSON.stringify([kind, scope, key])));
}

/** 16 random bytes in base64url, unpadded: 22 characters. */
const STATUS_SECRET = /^[A-Za-z0-9_-]{22}$/;
/** A Durable Object id's hex form. */
const OBJECT_ID = /^[0-9a-f]{64}$/;

/** A fresh status resource secret: 128 random bits, base64url. */
export function newStatusSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function isStatusSecret(value: string): boolean {
  return STATUS_SECRET.test(value);
}

/** `<ledger object id hex>.<22 chars of base64url>`: the id names the object to ask, the secret is the capability. */
export function newStatusId(ledgerIdHex: string): string {
  return `${ledgerIdHex}.${newStatusSecret()}`;
}

/** The parts of a status id, or undefined when it cannot be one (so a probe never reaches an object). */
export function parseStatusId(id: string): { ledger: string; secret: string } | undefined {
  const dot = id.indexOf(".");
  if (dot < 0) return undefined;
  const ledger = id.slice(0, dot);
  const secret = id.slice(dot + 1);
  if (!OBJECT_ID.test(ledger) || !STATUS_SECRET.test(secret)) return undefined;
  return { ledger, secret };
}
