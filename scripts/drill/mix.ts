/** A plan's deterministic request mix: hot and cold keys, some credentialed users, a few writes. */
import type { RequestSpec } from "./load.ts";
import { randomBytes } from "node:crypto";
import { xorshift32 } from "./stats.ts";
import type { StickyJar } from "./sticky.ts";
import { HOSTILE_USER, type Plan } from "./types.ts";
import { WriteMaker } from "./write-mix.ts";

/**
 * `hostileOn`: whether the mix's hostile clients send now (the plan's hostile phases). `jar`: the
 * assignments of the mix's sticky clients (without one they send none, as in calibration).
 * `nonce`: in every Idempotency-Key and event id of the write mix (random unless a test fixes it).
 */
export function requestMaker(mix: Plan["mix"], hostileOn: () => boolean = () => true, jar?: StickyJar, nonce = randomBytes(4).toString("hex")): (seq: number) => RequestSpec {
  const { hotKeys, coldKeys, hotShare, credentialedShare, users, writeShare } = mix;
  const random = xorshift32(0x2545f491);
  const hostile = mix.hostile ?? [];
  const sticky = mix.sticky;
  let hostileSeq = 0;
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
