import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, requestPoints } from "./helpers.ts";
import { lastRouted, pair, routed, routingPoints, STICKY_SECRET, twoRegions } from "./regions-helpers.ts";
import { cookieToken, token } from "./regions-token.ts";

// The operators' routes with two regions, through the worker: the isolate that served the admin
// call acts on the change at once (the others within ROUTING_SYNC_MS).

const REGIONS = "https://edge.example.com/__edge/admin/regions";

function admin(h: ReturnType<typeof twoRegions>["h"], region: string, action: string, body?: unknown) {
  return h.fetch(`${REGIONS}/${region}/${action}`, { method: "POST", headers: ADMIN_HEADERS, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

describe("evacuate, drain and shed with two regions", () => {
  it("after evacuating home the next request goes to away, and the change is one routing point", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("ev-evac");
    expect((await h.fetch(s.url("/a"))).headers.get("x-edge-region")).toBe(home);
    const res = await admin(h, home, "evacuate");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ region: home, action: "evacuate", control: { admin: "evacuated" } });
    const after = await h.fetch(s.url("/a"));
    expect(after.status).toBe(200);
    expect(after.headers.get("x-edge-region")).toBe(away);
    expect(cookieToken(after.headers.get("set-cookie"))).toBe(await token(away, Math.floor(h.clock.now() / 1000) + 900, STICKY_SECRET));
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect(routingPoints(h.metrics)).toEqual([[home, "evacuate", "admin", "admin", 0, 0]]);
    expect((await s.home.log()).count).toBe(1);
  });

  it("drain keeps a client stuck to home on home, and sends a new client to away with an assignment there", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("ev-drain");
    const stuck = `edge-region=${await token(home, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    expect((await admin(h, home, "drain")).status).toBe(200);
    const kept = await h.fetch(s.url("/d"), { headers: { cookie: stuck } });
    expect(kept.headers.get("x-edge-region")).toBe(home);
    expect(kept.headers.get("set-cookie")).toBeNull();
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "sticky", ramp: 100, tried: 1 });
    const fresh = await h.fetch(s.url("/d"));
    expect(fresh.headers.get("x-edge-region")).toBe(away);
    expect(cookieToken(fresh.headers.get("set-cookie"))).toBe(await token(away, Math.floor(h.clock.now() / 1000) + 900, STICKY_SECRET));
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect(routingPoints(h.metrics)).toEqual([[home, "drain", "admin", "admin", 0, 0]]);
  });

  it("shed 100 sends every new request away, each recorded with reason shed", async () => {
    const { h, home, away } = twoRegions({ routing: { stick_seconds: 0 } });
    const s = pair("ev-shed100");
    expect((await admin(h, home, "shed", { percent: 100 })).status).toBe(200);
    for (let i = 0; i < 20; i++) {
      const res = await h.fetch(s.url(`/s${i}`));
      expect(res.headers.get("x-edge-region")).toBe(away);
      expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "shed", ramp: 100, tried: 1 });
    }
    expect((await s.home.log()).count).toBe(0);
    expect(routingPoints(h.metrics)).toEqual([[home, "shed", "admin", "admin", 100, 0]]);
  });

  it("shed 50 sends about half of 400 new requests away (Math.random: within 40-60 %), the rest stay home", async () => {
    const { h, home, away } = twoRegions({ routing: { stick_seconds: 0 } });
    const s = pair("ev-shed50");
    expect((await admin(h, home, "shed", { percent: 50 })).status).toBe(200);
    for (let i = 0; i < 400; i++) await (await h.fetch(s.url("/h"))).arrayBuffer();
    const points = requestPoints(h.metrics).map(routed);
    const awayShare = points.filter((p) => p.answered === away).length / points.length;
    expect(awayShare).toBeGreaterThan(0.4);
    expect(awayShare).toBeLessThan(0.6);
    expect(new Set(points.filter((p) => p.answered === away).map((p) => p.reason))).toEqual(new Set(["shed"]));
    expect(new Set(points.filter((p) => p.answered === home).map((p) => p.reason))).toEqual(new Set(["failover"]));
    expect((await s.home.log()).count + (await s.away.log()).count).toBe(400);
  });
});
