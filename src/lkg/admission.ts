/** Whether a storable healthy answer is captured for the LKG store now, and the headers its copy would carry. */
import type { Runtime } from "../runtime.ts";
import { scrubbedHeaders, type StoredHeaders } from "../scrub/headers.ts";

export type SkipReason = "fresh" | "new-key-budget" | "header-bytes";

/** `label`: the metrics record's store column for the skip. */
export type Admission = { capture: true; headers: StoredHeaders } | { capture: false; reason: SkipReason; label: `skip:${SkipReason}` };

// Preallocated, label included: "fresh" is the answer for almost every healthy request, which must
// allocate nothing here.
const FRESH: Admission = { capture: false, reason: "fresh", label: "skip:fresh" };
const NEW_KEY_BUDGET: Admission = { capture: false, reason: "new-key-budget", label: "skip:new-key-budget" };
const HEADER_BYTES: Admission = { capture: false, reason: "header-bytes", label: "skip:header-bytes" };

/**
 * Cheapest first, and nothing allocated before a capture is certain to be tried:
 *
 * - A key captured within LKG_REFRESH_MS is not captured again.
 * - A key this isolate holds no copy of (none stored here that it remembers, none in memory) takes
 *   a token from the new-key budget (LKG_NEW_KEYS_PER_SECOND), so a stream of unique URLs costs at
 *   most that many captures, memory entries and first shared writes a second. A key refused here
 *   is released: its next answer tries again.
 * - A copy whose header bytes only the runtime's Headers object holds (scrub/headers.ts) is
 *   captured only if the memory tier can keep that object; otherwise it is not stored at all,
 *   rather than stored changed. The claim stands: the headers will not change within the refresh
 *   interval either. (Its budget token is spent: checking the headers first would cost every
 *   refused request of a unique-URL stream a header scrub.)
 */
export function admit(runtime: Runtime, key: string, headers: Headers, now: number): Admission {
  const { activity } = runtime;
  if (!activity.claim(key, now)) return FRESH;
  if (!activity.isStored(key) && !runtime.store.holds(key) && !runtime.newKeys.take(now)) {
    activity.release(key);
    return NEW_KEY_BUDGET;
  }
  const stored = scrubbedHeaders(headers, runtime.config.scrub);
  if (stored.native && !runtime.store.keepsNativeHeaders()) return HEADER_BYTES;
  return { capture: true, headers: stored };
}
