/**
 * The drill's sticky clients: each keeps the assignment the worker gave it (the `edge-region`
 * cookie, or the configured assignment header) and sends it back, as a browser's cookie jar or a
 * multi-turn client would. The region a request was stuck to is read from the token itself
 * (`<region>.<expires unix seconds>.<mac>`, per the multi-region contract).
 */
import { createHmac } from "node:crypto";
import type { RequestResult } from "./types.ts";

/** The cookie the worker's assignment travels in (cookie mode). */
const ASSIGNMENT_COOKIE = "edge-region";

/** The region an assignment token names, or undefined for a malformed one. */
export function regionOfToken(token: string): string | undefined {
  const mac = token.lastIndexOf(".");
  const expires = mac > 0 ? token.lastIndexOf(".", mac - 1) : -1;
  return expires > 0 ? token.slice(0, expires) : undefined;
}

export class StickyJar {
  private readonly tokens = new Map<string, string>();
  private readonly header: string | undefined;

  /** `header`: the ROUTING sticky_header (the assignment goes in that request header), else the cookie. */
  constructor(header: string | undefined) {
    this.header = header;
  }

  /** What a client sends with its next request: its assignment, if it has one, and the region it names. */
  forClient(client: string): { headers: Record<string, string>; stuckTo: string | undefined } {
    const token = this.tokens.get(client);
    if (token === undefined) return { headers: {}, stuckTo: undefined };
    return { headers: assignmentHeaders(token, this.header), stuckTo: regionOfToken(token) };
  }

  /** Keeps the assignment an answer carried (load.ts's onAnswer). */
  update(r: RequestResult): void {
    if (r.client !== undefined && r.assignment !== undefined) this.tokens.set(r.client, r.assignment);
  }
}

/** The label ADMIN_TOKEN signs to make the assignment key (src/routing/sticky.ts). */
const DERIVE_LABEL = "edge-fallback region assignment key v1";

/**
 * An assignment to `region` signed as the worker signs one (its key derived from ADMIN_TOKEN): the
 * token a client would carry had the worker placed it there earlier. The drill's baseline clients
 * carry one per region, so every region, a failover region included, has a baseline of its own.
 */
export function mintAssignment(adminToken: string, region: string, stickSeconds: number, nowMs: number): string {
  const key = createHmac("sha256", adminToken).update(DERIVE_LABEL).digest();
  const payload = `${region}.${Math.floor(nowMs / 1000) + stickSeconds}`;
  return `${payload}.${createHmac("sha256", key).update(payload).digest("base64url")}`;
}

/** The request headers that carry `token`: the assignment header when the plan sets one, else the cookie. */
export function assignmentHeaders(token: string, header: string | undefined): Record<string, string> {
  return header ? { [header]: token } : { cookie: `${ASSIGNMENT_COOKIE}=${token}` };
}
