/** A plan's deterministic request mix: hot and cold keys, some credentialed users, a few writes. */
import type { RequestSpec } from "./load.ts";
import { randomBytes } from "node:crypto";
import { xorshift32 } from "./stats.ts";
import type { DrillRouting } from "./regions.ts";
import { assignmentHeaders, mintAssignment, type StickyJar } from "./sticky.ts";
import { HOSTILE_USER, type Plan } from "./types.ts";
import { WriteMaker } from "./write-mix.ts";

/**
 * Clients that carry an assignment to one region each while `on()` (the baseline phase), so every
 * region of a multi-region plan serves a baseline of its own: a failover region gets no other
 * traffic before its region fails, and a survivor's p95 is judged against its own distance, not
 * the home region's. `headers(region)`: what carries the assignment.
 */
export interface BaselinePins {
  share: number;
  regions: string[];
  on: () => boolean;
  headers: (region: string) => Record<string, string>;
}

/** The share of the baseline's requests that pinned clients send, split evenly over the regions (about 100 answers each in a 12 s baseline at 200 req/s, 3 regions). */
export const PIN_SHARE = 0.15;

/** Baseline pins for a multi-region plan whose worker issues assignments (stick_seconds > 0); undefined otherwise. */
export function baselinePins(plan: Plan, routing: DrillRouting, adminToken: string, on: () => boolean): BaselinePins | undefined {
  if (!plan.regions || plan.regions.length < 2 || routing.stickMs <= 0) return undefined;
  const now = Date.now();
  const tokens = new Map(plan.regions.map((r) => [r.name, mintAssignment(adminToken, r.name, routing.stickMs / 1000, now)]));
  return { share: PIN_SHARE, regions: [...tokens.keys()], on, headers: (region) => assignmentHeaders(tokens.get(region)!, routing.stickyHeader) };
}

/** The client name of a baseline pin to `region`: kept out of the stickiness and ramp-share targets, which are about the users. */
export const pinClient = (region: string) => `pin-${region}`;

/**
 * `hostileOn`: whether the mix's hostile clients send now (the plan's hostile phases). `jar`: the
 * assignments of the mix's sticky clients (without one they send none, as in calibration).
 * `nonce`: in every Idempotency-Key and event id of the write mix (random unless a test fixes it).
 */
export function requestMaker(mix: Plan["mix"], hostileOn: () => boolean = () => true, jar?: StickyJar, nonce = randomBytes(4).toString("hex"), pins?: BaselinePins): (seq: number) => RequestSpec {
  const { hotKeys, coldKeys, hotShare, credentialedShare, users, writeShare } = mix;
  const random = xorshift32(0x2545f491);
  const hostile = mix.hostile ?? [];
  const sticky = mix.sticky;
  let hostileSeq = 0;
  let pinSeq = 0;
  const writes = mix.writes ? new WriteMaker(mix.writes, random, nonce) : undefined;
  return () => {
    // Drawn only when the plan has hostile clients, so every other plan's sequence is unchanged.
    if (hostile.length > 0 && hostileOn()) {
      let r = random();
      for (const h of hostile) {
        if (r < h.share) {
          const path = `/s/hostile-${h.name}/${hostileSeq++}`;
          return { method: "GET", path, headers: {}, key: path, user: HOSTILE_USER };
        }
        r -= h.share;
      }
    }
    // Drawn only while pins send, so every other phase's and plan's sequence is unchanged.
    if (pins && pins.on() && random() < pins.share) {
      const region = pins.regions[pinSeq++ % pins.regions.length]!;
      const key = random() < hotShare ? `/hot/${Math.floor(random() * hotKeys)}` : `/cold/${Math.floor(random() * coldKeys)}`;
      return { method: "GET", path: key, headers: pins.headers(region), key, user: "anonymous", client: pinClient(region), stuckTo: region };
    }
    // Drawn only when the plan has sticky clients, so every other plan's sequence is unchanged.
    if (sticky && random() < sticky.share) {
      const client = `sticky-${Math.floor(random() * sticky.clients)}`;
      const key = random() < hotShare ? `/hot/${Math.floor(random() * hotKeys)}` : `/cold/${Math.floor(random() * coldKeys)}`;
      const carried = jar?.forClient(client);
      const spec: RequestSpec = { method: "GET", path: key, headers: carried?.headers ?? {}, key, user: "anonymous", client };
      if (carried?.stuckTo !== undefined) spec.stuckTo = carried.stuckTo;
      return spec;
    }
    const credentialed = random() < credentialedShare;
    const user = credentialed ? `auth:user-${Math.floor(random() * users)}` : "anonymous";
    const headers: Record<string, string> = credentialed ? { authorization: `Bearer ${user.slice(5)}` } : {};
    // Drawn only when the plan has a write mix, so every other plan's sequence is unchanged.
    const write = writes?.next(headers, user);
    if (write) return write;
    if (random() < writeShare) {
      return { method: "POST", path: `/orders`, headers: { ...headers, "content-type": "application/json" }, body: '{"qty":1}', key: "POST /orders", user };
    }
    const key = random() < hotShare ? `/hot/${Math.floor(random() * hotKeys)}` : `/cold/${Math.floor(random() * coldKeys)}`;
    return { method: "GET", path: key, headers, key, user };
  };
}
