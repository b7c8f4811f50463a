/** A webhook event's dedupe key, read by its route's rule from the sender's headers or JSON body. */
import type { DedupeRule } from "./types.ts";

const MAX_KEY_LENGTH = 255;

export type DedupeResult = { ok: true; key: string } | { ok: false; reason: string };

export async function webhookKey(rule: DedupeRule, text: string, headers: Headers, body: ArrayBuffer | null): Promise<DedupeResult> {
  if (rule.kind === "header") {
    const value = headers.get(rule.name)?.trim();
    if (!value) return { ok: false, reason: `the webhook's dedupe key is the ${rule.name} header (${text}), and the request has none` };
    if (value.length > MAX_KEY_LENGTH || hasControl(value)) return { ok: false, reason: `the ${rule.name} header must be 1 to ${MAX_KEY_LENGTH} printable characters` };
    return { ok: true, key: value };
  }
  let json: unknown;
  try {
    json = body === null ? undefined : JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    return { ok: false, reason: `the webhook's dedupe key (${text}) is read from its JSON body, and the body is not JSON` };
  }
  const paths = rule.kind === "field" ? [rule.path] : rule.fields;
  const values: string[] = [];
  for (const path of paths) {
    const value = fieldAt(json, path);
    if (value === undefined) return { ok: false, reason: `the webhook's body has no string or number at ${path.join(".")} (its dedupe key is ${text})` };
    values.push(value);
  }
  if (rule.kind === "field") {
    const key = values[0]!;
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) return { ok: false, reason: `${rule.path.join(".")} must be 1 to ${MAX_KEY_LENGTH} characters to be a dedupe key` };
    return { ok: true, key };
  }
  // The plan format's sha256(event_id+rev): the values joined by "+", hashed, in hex.
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(values.join("+")));
  return { ok: true, key: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("") };
}

/** A string as it is, a finite number in its JSON form; anything else (object, null, missing) is no key. */
function fieldAt(json: unknown, path: string[]): string | undefined {
  let at: unknown = json;
  for (const name of path) {
    if (typeof at !== "object" || at === null || Array.isArray(at) || !Object.hasOwn(at, name)) return undefined;
    at = (at as Record<string, unknown>)[name];
  }
  if (typeof at === "string") return at;
  // Only exact integers (and finite fractions): JSON.parse rounds ids above 2^53, and two events would share a key.
  if (typeof at === "number" && Number.isFinite(at) && (Number.isSafeInteger(at) || !Number.isInteger(at))) return JSON.stringify(at);
  return undefined;
}

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
