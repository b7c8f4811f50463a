/** Reading what the LKG tiers hold, straight from the bindings, and the answers a request gets when no copy may stand in. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Env } from "../src/env.ts";
import { scenario, type Harness } from "./helpers.ts";

const kv = (env as unknown as Env).LKG_KV!;

export type Scenario = ReturnType<typeof scenario>;

export interface OriginAnswer {
  scenario: string;
  path: string;
  method: string;
  seq: number;
  version: string;
  user: string;
}

/** The LKG key as documented in src/scrub/key.ts: host, path, sorted query without secrets. */
export function keyFor(s: Scenario, pathAndQuery: string): string {
  return `edge.example.com/s/${s.id}${pathAndQuery}`;
}

/** Reads a stored copy straight from this PoP's Cache API, laid out as src/lkg/cache-tier.ts writes it. */
export async function cacheCopy(key: string): Promise<{ responseHeaders: [string, string][]; headers: [string, string][]; status: number; body: string } | undefined> {
  const cache = await caches.open("edge-fallback-lkg");
  const response = await cache.match(new Request(`https://lkg.edge-fallback.invalid/${encodeURIComponent(key)}`));
  if (!response) return undefined;
  const responseHeaders: [string, string][] = [];
  response.headers.forEach((v, n) => responseHeaders.push([n, v]));
  return {
    responseHeaders,
    headers: JSON.parse(response.headers.get("x-edge-lkg-headers") ?? "null") as [string, string][],
    status: Number(response.headers.get("x-edge-lkg-status")),
    body: await response.text(),
  };
}

export async function kvKeyFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return `lkg:v1:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Reads a stored copy straight from KV, decoding the [u32 length][JSON head][body] envelope of src/lkg/kv-tier.ts. */
export async function kvCopy(key: string): Promise<{ headers: [string, string][]; origin: string; body: string; metadata: unknown } | undefined> {
  const { value, metadata } = await kv.getWithMetadata(await kvKeyFor(key), "arrayBuffer");
  if (!value) return undefined;
  const length = new DataView(value).getUint32(0);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(value, 4, length))) as { headers: [string, string][]; origin: string };
  return { ...head, body: new TextDecoder().decode(value.slice(4 + length)), metadata };
}

export async function allKvKeys(): Promise<Set<string>> {
  const names = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const page: KVNamespaceListResult<unknown> = await kv.list(cursor ? { cursor } : {});
    for (const k of page.keys) names.add(k.name);
    if (page.list_complete) break;
    cursor = page.cursor;
  }
  return names;
}

export function headerList(res: Response): [string, string][] {
  const out: [string, string][] = [];
  res.headers.forEach((v, n) => out.push([n, v]));
  return out;
}

/** Nothing under `key` in any shared tier. */
export async function expectNothingStored(key: string): Promise<void> {
  expect(await cacheCopy(key)).toBeUndefined();
  expect(await kvCopy(key)).toBeUndefined();
}

/** With the origin answering 502, a request gets the origin's own 502, never a stored copy. */
export async function expectOrigin502(h: Harness, s: Scenario, url: string, init?: RequestInit): Promise<void> {
  const res = await h.fetch(url, init);
  expect(res.status).toBe(502);
  expect(res.headers.get("x-origin-user")).toBeNull();
  expect(res.headers.get("age")).toBeNull();
  expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=502; detail=no-lkg");
  expect(await res.json()).toEqual({ error: "fake origin answers 502", scenario: s.id });
}

/** With the origin unreachable, a request gets a 503 with Retry-After, never a stored copy. */
export async function expectUnreachable503(h: Harness, url: string, init?: RequestInit): Promise<void> {
  const res = await h.fetch(url, init);
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("1");
  expect(res.headers.get("x-origin-user")).toBeNull();
  expect(await res.json()).toEqual({
    error: "origin unavailable",
    cause: "origin-unreachable",
    detail: `origin ${h.originName} could not be reached`,
    retryAfterSeconds: 1,
  });
}
