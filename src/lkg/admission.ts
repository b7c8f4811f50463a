/** Whether a storable healthy answer is captured for the LKG store now, and the headers its copy would carry. */
import type { Runtime } from "../runtime.ts";
import { scrubbedHeaders, type StoredHeaders } from "../scrub/headers.ts";

export type SkipReason = "fresh" | "header-bytes";

/** `label`: the metrics record's store column for the skip. */
export type Admission = { capture: true; headers: StoredHeaders } | { capture: false; reason: SkipReason; label: `skip:${SkipReason}` };

// Preallocated, label included: "fresh" is the answer for almost every healthy request, which must
// allocate nothing here.
const FRESH: Admission = { capture: false, reason: "fresh", label: "skip:fresh" };
const HEADER_BYTES: Admission = { capture: false, reason: "header-bytes", label: "skip:header-bytes" };

/**
 * Cheapest first. A key captured within LKG_REFRESH_MS is not captured again. A copy whose header
 * bytes only the runtime's Headers object holds (scrub/headers.ts) is captured only if the memory
 * tier can keep that object; otherwise it is not stored at all, rather than stored changed. The
 * claim stands in that case: its headers will not change within the refresh interval either.
 */
export function admit(runtime: Runtime, key: string, headers: Headers, now: number): Admission {
  if (!runtime.activity.claim(key, now)) return FRESH;
  const stored = scrubbedHeaders(headers, runtime.config.scrub);
  if (stored.native && !runtime.store.keepsNativeHeaders()) return HEADER_BYTES;
  return { capture: true, headers: stored };
}
