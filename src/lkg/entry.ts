/** One last-known-good copy: a scrubbed response, the time we stored it, and how to replay it. */
export interface LkgEntry {
  key: string;
  status: number;
  headers: [string, string][];
  /**
   * The runtime's own Headers object with the same headers, when their bytes do not survive a
   * string (scrub/headers.ts). Only the memory tier keeps it; the shared tiers do not take the copy.
   */
  nativeHeaders?: Headers | undefined;
  body: ArrayBuffer;
  /** Our clock when the copy was stored: the only thing staleness is measured from. */
  storedAt: number;
  origin: string;
}

export type TierName = "memory" | "cache" | "kv";

export function entrySize(entry: LkgEntry): number {
  let size = entry.body.byteLength + entry.key.length + 64;
  for (const [n, v] of entry.headers) size += n.length + v.length;
  return size;
}

/** Statuses whose answers carry no body (a Response with one would throw). */
export function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}
