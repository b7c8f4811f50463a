/**
 * One delivery of a queued write to the writer region: the fetch under one deadline, and the
 * answer kept as a StoredResult when it is final. Final: any answer but 502/503/504 (a gateway's
 * answer, the write may not have reached the origin); not final: no answer (connect failure,
 * timeout before the headers), so the same key is delivered again later and the origin's dedupe decides.
 */
import { captureResult } from "./result.ts";
import type { StoredResult } from "./types.ts";

export type Delivery =
  | { kind: "final"; result: Omit<StoredResult, "region" | "epoch" | "at"> }
  | { kind: "retry"; reason: string };

/**
 * Answers that say nothing about whether the write happened (a gateway's), or that ask to come back
 * later (408 request timeout, 425 too early, 429 too many requests: a new writer shedding the
 * backlog's burst after a failover): delivered again, never kept as the write's answer.
 */
const NOT_FINAL = new Set([408, 425, 429, 502, 503, 504]);

/** `sensitive`: config.scrub.sensitiveHeaders, kept out of the stored answer like Set-Cookie and credentials. */
export async function deliver(request: Request, timeoutMs: number, limits: { bytes: number; sensitive: readonly string[] }, fetcher: typeof fetch = fetch): Promise<Delivery> {
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
    // The status is known from here: the write happened; a body cut short is kept as "not stored".
    const kept = await captureResult(response.status, response.headers, response.body, limits, "", 0, 0).catch(() => undefined);
    if (!kept) return { kind: "final", result: { status: response.status, headers: [], body: undefined, bodyBytes: -1 } };
    return { kind: "final", result: { status: kept.status, headers: kept.headers, body: kept.body, bodyBytes: kept.bodyBytes } };
  } finally {
    clearTimeout(timer);
  }
}
