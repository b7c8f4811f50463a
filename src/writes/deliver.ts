/**
 * One delivery of a queued write to the writer region: the fetch under one deadline, and the
 * answer kept as a StoredResult when it is final. Final: any answer but 502/503/504 (a gateway's
 * answer, the write may not have reached the origin); not final: no answer (connect failure,
 * timeout before the headers), so the same key is delivered again later and the origin's dedupe decides.
 */
import { HOP_BY_HOP } from "../scrub/headers.ts";
import type { StoredResult } from "./types.ts";

export type Delivery =
  | { kind: "final"; result: Omit<StoredResult, "region" | "epoch" | "at"> }
  | { kind: "retry"; reason: string };

/** Answers that say nothing about whether the write happened: delivered again. */
const NOT_FINAL = new Set([502, 503, 504]);
/** Never kept for a replay (StoredResult rule), with the connection-specific ones. */
const NOT_STORED = new Set([...HOP_BY_HOP, "set-cookie", "set-cookie2"]);
/** A larger body is counted up to here and not kept, then the read stops. */
const COUNT_LIMIT = 8 * 1024 * 1024;

export async function deliver(request: Request, timeoutMs: number, maxStoredBytes: number, fetcher: typeof fetch = fetch): Promise<Delivery> {
  const controller = new AbortController();
  // No timeout option on fetch, and AbortSignal.timeout would keep the context alive (DESIGN.md).
  const timer = setTimeout(() => controller.abort(new DOMException("writer timeout", "TimeoutError")), timeoutMs);
  try {
    let response: Response;
    try {
      // Through the zone cache a write could be answered by a cached status (DESIGN.md).
      response = await fetcher(request, { signal: controller.signal, cache: "no-store" });
    } catch (err) {
      return { kind: "retry", reason: controller.signal.aborted ? `no answer within ${timeoutMs} ms` : `connect failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (NOT_FINAL.has(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: "retry", reason: `writer answered ${response.status}` };
    }
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (!NOT_STORED.has(name)) headers.push([name, value]);
    });
    // The status is known from here: the write happened; a body cut short is kept as "not stored".
    const body = await readBounded(response.body, maxStoredBytes).catch(() => ({ bytes: undefined, total: -1 }));
    return { kind: "final", result: { status: response.status, headers, body: body.bytes && toBase64(body.bytes), bodyBytes: body.total } };
  } finally {
    clearTimeout(timer);
  }
}

/** The body when it is at most `max` bytes; else only its size (counted up to COUNT_LIMIT). */
async function readBounded(body: ReadableStream<Uint8Array> | null, max: number): Promise<{ bytes: Uint8Array | undefined; total: number }> {
  if (!body) return { bytes: new Uint8Array(0), total: 0 };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total <= max) chunks.push(value);
    else chunks.length = 0;
    if (total > COUNT_LIMIT) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  if (total > max) return { bytes: undefined, total };
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, total };
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
