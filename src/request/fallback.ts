/** The answers when the origin did not answer well: the stored copy (<= 30 s, Age, Cache-Status), else a clean, fast 5xx. */
import { CACHE_NAME, REGION_HEADER, fromEntry, unavailable, type StaleCause } from "../lkg/respond.ts";
import type { FailureClass } from "../metrics/schema.ts";
import type { OriginResponse } from "../origin/attempt.ts";
import { passOn } from "../origin/client.ts";
import { clientAcceptEncoding } from "../scrub/encoding.ts";
import type { RequestContext } from "./context.ts";

/** The stale cause a failure class is reported as, in Cache-Status and the 503's body. */
export function staleCause(failure: FailureClass): StaleCause {
  switch (failure) {
    case "http_5xx":
      return "origin-5xx";
    case "timeout":
      return "origin-timeout";
    case "connection":
      return "origin-unreachable";
    case "slow":
      return "origin-slow";
    case "breaker_open":
      return "breaker-open";
  }
}

export async function fromStore(x: RequestContext, cause: StaleCause): Promise<Response | undefined> {
  if (!x.policy.lkg) return undefined;
  const { trace } = x;
  const maxAgeMs = x.runtime.config.lkg.maxAgeSeconds * 1000;
  const found = await x.runtime.store.lookup(x.policy.key, x.clock.now(), maxAgeMs, clientAcceptEncoding(x.request));
  if (!found.found) {
    trace.lookup = found.expiredAgeMs === undefined ? "miss" : "expired";
    return undefined;
  }
  trace.lookup = "hit";
  trace.outcome = "lkg_served";
  trace.tier = found.tier;
  trace.staleAgeSeconds = found.ageMs / 1000;
  return fromEntry(found.entry, found.ageMs, cause, x.request.method);
}

/**
 * Whether this request holds a copy in hand: one the isolate's memory could serve it now, by the
 * rules the fallback serves by (the request's policy, the age cap, the client's encodings). Memory
 * only, synchronously: a healthy request awaits nothing but the origin. Not for writes or
 * streaming routes, which always wait for the origin.
 */
export function copyInHand(x: RequestContext): boolean {
  if (!x.policy.lkg || x.streaming || (x.request.method !== "GET" && x.request.method !== "HEAD")) return false;
  const maxAgeMs = x.runtime.config.lkg.maxAgeSeconds * 1000;
  return x.runtime.store.memoryCopy(x.policy.key, x.clock.now(), maxAgeMs, clientAcceptEncoding(x.request), false) !== undefined;
}

/** The memory tier's copy served at once (no I/O), or undefined when it no longer qualifies (evicted, aged out). */
export function fromMemory(x: RequestContext, cause: StaleCause): Response | undefined {
  if (!x.policy.lkg) return undefined;
  const maxAgeMs = x.runtime.config.lkg.maxAgeSeconds * 1000;
  const found = x.runtime.store.memoryCopy(x.policy.key, x.clock.now(), maxAgeMs, clientAcceptEncoding(x.request), true);
  if (found === undefined) return undefined;
  const { trace } = x;
  trace.lookup = "hit";
  trace.outcome = "lkg_served";
  trace.tier = "memory";
  trace.staleAgeSeconds = found.ageMs / 1000;
  return fromEntry(found.entry, found.ageMs, cause, x.request.method);
}

/** No copy stood in: the origin's own 5xx when it sent one (the most honest answer), else a 503 that says why and when to retry. */
export function noCopy(x: RequestContext, cause: StaleCause, region: string, retryAfterMs: number, origin: OriginResponse | undefined): Response {
  x.trace.outcome = x.policy.lkg || cause === "breaker-open" ? "no_lkg" : "origin_error";
  if (origin) {
    const passed = passOn(origin.response, origin.body(false));
    passed.headers.set("cache-status", `${CACHE_NAME}; fwd=uri-miss; fwd-status=${passed.status}; detail=no-lkg`);
    passed.headers.set(REGION_HEADER, region);
    x.trace.answeredBy = region;
    return passed;
  }
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return unavailable(cause, retryAfterSeconds, unavailableDetail(cause, region));
}

function unavailableDetail(cause: StaleCause, region: string): string {
  if (cause === "breaker-open") return `circuit breaker for origin ${region} is open`;
  if (cause === "origin-timeout") return `origin ${region} did not answer in time`;
  return `origin ${region} could not be reached`;
}
