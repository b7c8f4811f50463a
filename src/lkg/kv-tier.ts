/** L3: Workers KV, global and eventually consistent; storedAt rides in the metadata. */
import type { LkgEntry } from "./entry.ts";

interface KvMetadata {
  v: 1;
  storedAt: number;
  status: number;
}

/** KV's minimum expirationTtl: only garbage collection, freshness is ours. */
export const KV_GC_TTL_SECONDS = 60;

export class KvTier {
  private readonly kv: KVNamespace;

  constructor(kv: KVNamespace) {
    this.kv = kv;
  }

  async get(key: string): Promise<LkgEntry | undefined> {
    const { value, metadata } = await this.kv.getWithMetadata<KvMetadata>(await kvKey(key), "arrayBuffer");
    if (!value || !metadata || metadata.v !== 1) return undefined;
    const { headers, origin, body } = decodeEnvelope(value);
    return { key, status: metadata.status, headers, body, storedAt: metadata.storedAt, origin };
  }

  /** When to write is the store's decision (SharedWriteRule); this only writes. */
  async put(entry: LkgEntry): Promise<void> {
    const metadata: KvMetadata = { v: 1, storedAt: entry.storedAt, status: entry.status };
    await this.kv.put(await kvKey(entry.key), encodeEnvelope(entry), { expirationTtl: KV_GC_TTL_SECONDS, metadata });
  }
}

/** KV keys are at most 512 bytes; URLs can be longer, so the key is a digest of ours. */
async function kvKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return `lkg:v1:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** KV metadata is capped at 1 KiB, so headers travel in the value: [u32 length][JSON][body]. */
function encodeEnvelope(entry: LkgEntry): ArrayBuffer {
  const head = new TextEncoder().encode(JSON.stringify({ headers: entry.headers, origin: entry.origin }));
  const out = new Uint8Array(4 + head.byteLength + entry.body.byteLength);
  new DataView(out.buffer).setUint32(0, head.byteLength);
  out.set(head, 4);
  out.set(new Uint8Array(entry.body), 4 + head.byteLength);
  return out.buffer;
}

function decodeEnvelope(value: ArrayBuffer): { headers: [string, string][]; origin: string; body: ArrayBuffer } {
  const length = new DataView(value).getUint32(0);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(value, 4, length))) as { headers: [string, string][]; origin: string };
  return { ...head, body: value.slice(4 + length) };
}
