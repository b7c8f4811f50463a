import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS } from "./helpers.ts";
import { lastRouted, pair, STICKY_SECRET, twoRegions } from "./regions-helpers.ts";
import { cookieToken, token } from "./regions-token.ts";

// An assignment is dropped only when its region is unusable or evacuated: one failover does not move it.

const REGIONS = "https://edge.example.com/__edge/admin/regions";

describe("when a sticky client's region fails", () => {
  it("a failover while its region is still usable answers from the other region without moving the assignment", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("sm-keep");
    const cookie = `edge-region=${await token(away, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    await s.away.set({ mode: "status", status: 502 });
    const failedOver = await h.fetch(s.url("/f"), { headers: { cookie } });
    expect(failedOver.status).toBe(200);
    expect(failedOver.headers.get("x-edge-region")).toBe(home);
    expect(failedOver.headers.get("set-cookie")).toBeNull();
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: away, reason: "sticky", ramp: 100, tried: 2 });
    await s.away.set({ mode: "healthy" });
    const back = await h.fetch(s.url("/f"), { headers: { cookie } });
    expect(back.headers.get("x-edge-region")).toBe(away);
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "sticky", ramp: 100, tried: 1 });
  });

  it("an evacuated region loses its sticky clients: they go to the other region and get a new assignment", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("sm-evac");
    const cookie = `edge-region=${await token(away, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    expect((await h.fetch(s.url("/e"), { headers: { cookie } })).headers.get("x-edge-region")).toBe(away);
    expect((await h.fetch(`${REGIONS}/${away}/evacuate`, { method: "POST", headers: ADMIN_HEADERS })).status).toBe(200);
    const moved = await h.fetch(s.url("/e"), { headers: { cookie } });
    expect(moved.status).toBe(200);
    expect(moved.headers.get("x-edge-region")).toBe(home);
    expect(cookieToken(moved.headers.get("set-cookie"))).toBe(await token(home, Math.floor(h.clock.now() / 1000) + 900, STICKY_SECRET));
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect((await s.away.log()).count).toBe(1);
  });

  it("a region that left (its breaker opened) loses its sticky clients too, with a new assignment", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("sm-open");
    const cookie = `edge-region=${await token(away, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    expect((await h.fetch(`https://edge.example.com/__edge/admin/breakers/${away}/open`, { method: "POST", headers: ADMIN_HEADERS })).status).toBe(200);
    const moved = await h.fetch(s.url("/o"), { headers: { cookie } });
    expect(moved.headers.get("x-edge-region")).toBe(home);
    expect(cookieToken(moved.headers.get("set-cookie"))).toBe(await token(home, Math.floor(h.clock.now() / 1000) + 900, STICKY_SECRET));
    expect((await s.away.log()).count).toBe(0);
  });
});
