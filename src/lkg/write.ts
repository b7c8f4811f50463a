/**
 * The healthy answer and its copy: whether the store needs this answer (policy, verdict,
 * admission), and if so a tee whose second branch is captured, scrubbed and saved in the
 * background. Late answers (after the client was served otherwise) refresh the copy the same way.
 */
import type { OriginResponse } from "../origin/attempt.ts";
import { passOn, type OriginResult } from "../origin/client.ts";
import type { RequestContext } from "../request/context.ts";
import type { Region } from "../runtime.ts";
import type { StoredHeaders } from "../scrub/headers.ts";
import { responseVerdict } from "../scrub/policy.ts";
import { admit } from "./admission.ts";
import { captureBody } from "./capture.ts";
import { CACHE_NAME, REGION_HEADER } from "./respond.ts";

/**
 * `answeredAt` is when the origin's headers arrived: a copy's age counts from then, not from when
 * its body ended. Only an answer the store needs is captured (no capture of its key within
 * LKG_REFRESH_MS); every other one streams straight to the client, untouched.
 */
export function healthyAnswer(x: RequestContext, region: Region, result: OriginResponse, answeredAt: number): Response {
  const { policy, trace } = x;
  const upstream = result.response;
  /** The key to capture this answer under, when the store needs it, and the headers its copy carries. */
  let capture: string | undefined;
  let headers: StoredHeaders | undefined;
  if (policy.lkg) {
    const verdict = responseVerdict(x.request.method, upstream, x.runtime.config, policy);
    if (!verdict.store) {
      trace.store = `skip:${verdict.reason}`;
      x.runtime.store.skip(verdict.reason);
    } else {
      const admission = admit(x.runtime, policy.key, upstream.headers, answeredAt);
      if (!admission.capture) {
        trace.store = admission.label;
        x.runtime.store.skip(admission.reason);
      } else {
        capture = policy.key;
        headers = admission.headers;
      }
    }
  }
  let response: Response;
  if (capture !== undefined && headers !== undefined) {
    const body = result.body(true);
    let toStore: ReadableStream<Uint8Array> | null = null;
    let toClient = body;
    if (body) [toClient, toStore] = body.tee();
    x.ctx.waitUntil(store(x, region, capture, upstream, headers, toStore, answeredAt));
    response = passOn(upstream, toClient);
    trace.store = "stored";
  } else {
    response = passOn(upstream, result.body(false));
  }
  response.headers.set("cache-status", `${CACHE_NAME}; fwd=bypass; fwd-status=${response.status}${capture !== undefined ? "; stored" : ""}`);
  response.headers.set(REGION_HEADER, region.origin.name);
  trace.answeredBy = region.origin.name;
  return response;
}

/** An answer that arrived after the client was served otherwise: it joins the baseline and may still refresh the copy. */
export async function lateAnswer(x: RequestContext, region: Region, result: OriginResult): Promise<void> {
  if (result.kind === "response" && !result.failure && !x.streaming) region.baselines.record(region.baselines.for(x.url.pathname), result.ms, x.clock.now());
  return refreshCopy(x, region, result);
}

/** A late answer that the baseline has already (see attempt.ts: settle) may still refresh the copy. */
export async function refreshCopy(x: RequestContext, region: Region, result: OriginResult): Promise<void> {
  if (result.kind !== "response") return;
  if (result.failure) {
    await result.response.body?.cancel();
    return;
  }
  const now = x.clock.now();
  const { policy } = x;
  const verdict = policy.lkg ? responseVerdict(x.request.method, result.response, x.runtime.config, policy) : undefined;
  const admission = policy.lkg && verdict?.store ? admit(x.runtime, policy.key, result.response.headers, now) : undefined;
  if (policy.lkg && admission?.capture) return store(x, region, policy.key, result.response, admission.headers, result.body(true), now);
  if (admission && !admission.capture) x.runtime.store.skip(admission.reason);
  await result.response.body?.cancel();
}

async function store(x: RequestContext, region: Region, key: string, response: Response, headers: StoredHeaders, body: ReadableStream<Uint8Array> | null, answeredAt: number): Promise<void> {
  const { config } = x.runtime;
  const captured = await captureBody(body, config.lkg.maxBodyBytes);
  if (!captured.ok) {
    x.runtime.store.skip(captured.reason);
    // Nothing was stored: the key's next answer is captured again, not skipped as fresh.
    x.runtime.activity.release(key);
    return;
  }
  const saved = await x.runtime.store.save(
    {
      key,
      status: response.status,
      headers: headers.list,
      nativeHeaders: headers.native,
      body: captured.body,
      storedAt: answeredAt,
      origin: region.origin.name,
    },
    x.clock.now(),
    x.runtime.activity.demand(key) >= config.lkg.sharedMinRequests,
  );
  // A key stored once refreshes without the new-key budget from now on.
  if (saved.length > 0) x.runtime.activity.markStored(key);
}
