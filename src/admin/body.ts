/** What the admin POST routes share: the auth refusal, a body read with a hard limit, and quoting what the caller sent. */
import { joinChunks, readUpTo } from "../bounded-read.ts";
import { jsonError } from "../lkg/respond.ts";
import type { AdminAuth } from "./auth.ts";

/** Operators send a percent, a region or a reason; anything near this size is not an operator's request. */
export const MAX_BODY_BYTES = 1024;

export function refused(auth: Extract<AdminAuth, { ok: false }>): Response {
  return jsonError(auth.status, auth.reason, {}, auth.status === 401 ? { "www-authenticate": 'Bearer realm="edge-fallback admin"' } : {});
}

/** Reads at most MAX_BODY_BYTES, whatever Content-Length says (it may be absent, or lie). */
export async function readBody(request: Request): Promise<{ kind: "ok"; text: string } | { kind: "too-large" }> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return { kind: "too-large" };
  if (!request.body) return { kind: "ok", text: "" };
  const reader = request.body.getReader();
  const read = await readUpTo(reader, MAX_BODY_BYTES);
  if (read.over) {
    await reader.cancel();
    return { kind: "too-large" };
  }
  return { kind: "ok", text: new TextDecoder().decode(joinChunks(read.chunks, read.size)) };
}

/**
 * A non-empty body as a JSON object holding only `allowed` fields, or why not (each reason ends
 * with `usage`, so the caller learns the right shape from any refusal).
 */
export function jsonFields(text: string, allowed: readonly string[], usage: string): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `the body is not JSON; ${usage}`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return `the body must be a JSON object; ${usage}`;
  const unknown = Object.keys(parsed).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) return `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.slice(0, 5).map(short).join(", ")}; ${usage}`;
  return parsed as Record<string, unknown>;
}

/** What the caller sent, cut short: an answer quotes what was wrong, never pages of it. */
export function cut(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

/** A name or value the caller sent, quoted and cut short. */
export function short(text: string): string {
  return JSON.stringify(cut(text));
}
