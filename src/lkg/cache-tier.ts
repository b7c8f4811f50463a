/** L2: this data center's Cache API, in a named cache, with our own storedAt beside each copy. */
import type { LkgEntry } from "./entry.ts";

export const LKG_CACHE_NAME = "edge-fallback-lkg";
const STORED_AT = "x-edge-lkg-stored-at";
const STATUS = "x-edge-lkg-status";
const ORIGIN = "x-edge-lkg-origin";
const HEADERS = "x-edge-lkg-headers";

/** Cache API keys must be URLs; this host is never fetched, it only names the entry. */
function cacheRequest(key: string): Request {
  return new Request(`https://lkg.edge-fallback.invalid/${encodeURIComponent(key)}`);
}

export class CacheTier {
  private readonly open: () => Promise<Cache>;
  private readonly gcSeconds: number;

  constructor(open: () => Promise<Cache>, gcSeconds: number) {
    this.open = open;
    this.gcSeconds = gcSeconds;
  }

  async get(key: string): Promise<LkgEntry | undefined> {
    const cache = await this.open();
    const response = await cache.match(cacheRequest(key));
    if (!response) return undefined;
    const storedAt = Number(response.headers.get(STORED_AT));
    const status = Number(response.headers.get(STATUS));
    const headersJson = response.headers.get(HEADERS);
    if (!Number.isFinite(storedAt) || !Number.isInteger(status) || !headersJson) {
      await response.body?.cancel();
      return undefined;
    }
    return {
      key,
      status,
      headers: JSON.parse(headersJson) as [string, string][],
      body: await response.arrayBuffer(),
      storedAt,
      origin: response.headers.get(ORIGIN) ?? "",
    };
  }

  /** When to write is the store's decision (SharedWriteRule); this only writes. */
  async put(entry: LkgEntry): Promise<void> {
    const cache = await this.open();
    // Stored as a plain 200 with the real status and headers aside: the Cache API refuses some
    // statuses and would apply the origin's own Cache-Control, which must not decide our lifetime.
    const response = new Response(entry.body, {
      status: 200,
      headers: {
        "cache-control": `public, max-age=${this.gcSeconds}`,
        [STORED_AT]: String(entry.storedAt),
        [STATUS]: String(entry.status),
        [ORIGIN]: entry.origin,
        [HEADERS]: asciiJson(entry.headers),
      },
    });
    await cache.put(cacheRequest(entry.key), response);
  }
}

/**
 * JSON with every non-ASCII character escaped (JSON.parse restores it): a header value should be
 * ASCII, and the runtime would otherwise encode it as UTF-8 with a warning on every write.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
