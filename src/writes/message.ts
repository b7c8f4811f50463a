/**
 * A write as a Queues message and back: the request's headers split into those safe to keep in a
 * queue and the credentials, which travel sealed (AES-256-GCM under a key derived from the write
 * secret), and the request the consumer delivers to the writer region.
 */
import { serializeIdempotencyKey } from "./idempotency.ts";
import { forwardHeaders } from "../origin/client.ts";
import type { RegionConfig } from "../routing/types.ts";
import { headerKey } from "../scrub/names.ts";
import { IDEMPOTENCY_KEY_HEADER, WRITE_EPOCH_HEADER, type QueueReason, type QueuedWrite } from "./types.ts";

/** WRITE_SECRET, or else ADMIN_TOKEN, from which a key is derived under its own label (never the token itself). */
export interface WriteSecret {
  source: "WRITE_SECRET" | "ADMIN_TOKEN";
  secret: string;
}

/** The sealed format's version: `v1.<base64url of 12-byte IV, then ciphertext and 16-byte tag>`. A new format gets v2; old messages stay readable while queued. */
const SEAL_VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** HKDF salt and info: the label makes this key unrelated to every other key derived from the same secret (sticky assignments). */
const HKDF_SALT = "edge-fallback";
const HKDF_INFO = "queued write credentials v1";

/** Any reason a sealed value cannot be opened: wrong secret, tampered bytes, another message's value, an unknown version. The reason never holds the bytes. */
export class SealError extends Error {
  constructor(reason: string) {
    super(`sealed credentials cannot be opened: ${reason}`);
    this.name = "SealError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** One derivation per secret: HKDF and the import cost more than the seal itself. */
let derived: { id: string; key: Promise<CryptoKey> } | undefined;

function sealingKey(secret: WriteSecret): Promise<CryptoKey> {
  const id = `${secret.source}\0${secret.secret}`;
  if (derived?.id !== id) derived = { id, key: deriveKey(secret) };
  return derived.key;
}

async function deriveKey(secret: WriteSecret): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(secret.secret), "HKDF", false, ["deriveKey"]);
  // The source is part of the info: a WRITE_SECRET equal to ADMIN_TOKEN still gives another key.
  const info = encoder.encode(`${HKDF_INFO} from ${secret.source}`);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: encoder.encode(HKDF_SALT), info }, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/**
 * Seals credential headers. `bound` (additional authenticated data) ties the value to one message
 * (toMessage passes the ledger id and status id), so a sealed value moved onto another message does not open.
 */
export async function sealCredentials(headers: [string, string][], secret: WriteSecret, bound = ""): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = encoder.encode(JSON.stringify(headers));
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(bound) }, await sealingKey(secret), plain));
  const out = new Uint8Array(IV_BYTES + cipher.length);
  out.set(iv);
  out.set(cipher, IV_BYTES);
  return `${SEAL_VERSION}.${toBase64Url(out)}`;
}

export async function openCredentials(sealed: string, secret: WriteSecret, bound = ""): Promise<[string, string][]> {
  const dot = sealed.indexOf(".");
  const version = dot < 0 ? "" : sealed.slice(0, dot);
  if (version !== SEAL_VERSION) throw new SealError(`unknown format ${JSON.stringify(version.slice(0, 8))}`);
  const bytes = fromBase64Url(sealed.slice(dot + 1));
  if (!bytes || bytes.length < IV_BYTES + TAG_BYTES) throw new SealError("malformed value");
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode(bound) }, await sealingKey(secret), bytes.subarray(IV_BYTES));
  } catch {
    throw new SealError("authentication failed (another secret, or altered bytes)");
  }
  const parsed: unknown = JSON.parse(decoder.decode(plain));
  if (!Array.isArray(parsed) || !parsed.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === "string" && typeof h[1] === "string")) {
    throw new SealError("not a header list");
  }
  return parsed as [string, string][];
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Request headers that go sealed, never in the clear: credentials (a queue's messages are readable
 * by anyone with access to the queue) and the client's address (personal data).
 */
const ALWAYS_SEALED = ["authorization", "proxy-authorization", "cookie", "x-forwarded-for", "cf-connecting-ip"];
/** Recomputed or set by the consumer: a queued copy would be stale (epoch) or wrong (length of a re-sent body). */
const NOT_QUEUED = new Set(["content-length", WRITE_EPOCH_HEADER, IDEMPOTENCY_KEY_HEADER]);

/**
 * The query travels sealed, as a pseudo-header (a name no real header can have): secret query
 * parameters (`access_token`, configured ones) are credentials here as everywhere (DESIGN.md),
 * and a query can carry personal data. `path` in the message is the path alone.
 */
const QUERY_PSEUDO_HEADER = ":query";

/** What the request path knows about a write when it queues it. */
export interface QueuedMeta {
  kind: QueuedWrite["kind"];
  ledger: string;
  record: string;
  key: string;
  statusId: string;
  why: QueueReason;
  enqueuedAt: number;
}

/** What seals a message's credentials to it (AAD): moving them onto another message fails to open. */
function boundTo(message: Pick<QueuedWrite, "ledger" | "statusId">): string {
  return `${message.ledger}\n${message.statusId}`;
}

/**
 * The Queues message for a write. Headers are those the origin would have got (src/origin/client.ts
 * forwardHeaders: connection-specific ones gone, ours set), the credentials (`sensitiveHeaders`:
 * config.scrub.sensitiveHeaders) split off and sealed. `body` is the buffered body (at most
 * maxQueuedBodyBytes, checked by the caller).
 */
export async function toMessage(
  request: Request,
  incoming: URL,
  body: ArrayBuffer | null,
  meta: QueuedMeta,
  secret: WriteSecret,
  sensitiveHeaders: readonly string[],
): Promise<QueuedWrite> {
  const sealedNames = new Set([...ALWAYS_SEALED, ...sensitiveHeaders.map(headerKey)]);
  const headers: [string, string][] = [];
  const credentials: [string, string][] = [];
  forwardHeaders(request, incoming).forEach((value, name) => {
    // By the name an origin would read it as: `x_api_key` is X-Api-Key to a CGI-style reader.
    const key = headerKey(name);
    if (NOT_QUEUED.has(key)) return;
    (sealedNames.has(key) ? credentials : headers).push([name, value]);
  });
  if (incoming.search !== "") credentials.push([QUERY_PSEUDO_HEADER, incoming.search]);
  const message: QueuedWrite = {
    v: 1,
    kind: meta.kind,
    ledger: meta.ledger,
    record: meta.record,
    key: meta.key,
    statusId: meta.statusId,
    method: request.method,
    path: incoming.pathname,
    headers,
    sealed: undefined,
    body: body && body.byteLength > 0 ? body : null,
    enqueuedAt: meta.enqueuedAt,
    why: meta.why,
  };
  if (credentials.length > 0) message.sealed = await sealCredentials(credentials, secret, boundTo(message));
  return message;
}

/**
 * The request delivered to the writer region: the same method, path and (sealed) query under the writer's
 * origin URL (its path prefix first), the queued headers and the opened credentials, the key and
 * the epoch of the lease it is delivered under. Throws SealError when the credentials cannot be opened.
 */
export async function toRequest(message: QueuedWrite, writer: RegionConfig, epoch: number, secret: WriteSecret): Promise<Request> {
  const headers = new Headers(message.headers);
  let query = "";
  if (message.sealed !== undefined) {
    for (const [name, value] of await openCredentials(message.sealed, secret, boundTo(message))) {
      if (name === QUERY_PSEUDO_HEADER) query = value;
      else headers.append(name, value);
    }
  }
  const url = writerUrl(writer, message.path + query);
  // The same sf-string form a pass-through sends: an origin deduping by the header's bytes sees one key.
  headers.set(IDEMPOTENCY_KEY_HEADER, serializeIdempotencyKey(message.key));
  headers.set(WRITE_EPOCH_HEADER, String(epoch));
  return new Request(url, { method: message.method, headers, body: message.body, redirect: "manual" });
}

/**
 * The writer's URL for a queued path: string concatenation onto the configured origin, as
 * upstreamUrl does, so no path (`//evil.example/x`, `\evil`) can move the request to another host.
 */
function writerUrl(writer: RegionConfig, path: string): string {
  if (!path.startsWith("/")) throw new Error(`queued path must start with "/", got ${JSON.stringify(path.slice(0, 64))}`);
  const prefix = writer.url.pathname.endsWith("/") ? writer.url.pathname.slice(0, -1) : writer.url.pathname;
  const url = `${writer.url.origin}${prefix}${path}`;
  if (new URL(url).origin !== writer.url.origin) throw new Error("queued path leaves the writer's origin");
  return url;
}
