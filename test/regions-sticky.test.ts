import { describe, expect, it } from "vitest";
import { lastRouted, pair, STICKY_SECRET, twoRegions } from "./regions-helpers.ts";
import { cookieToken, token } from "./regions-token.ts";

// Failover mode: a new client goes home. A client carrying a valid assignment goes to its region,
// even the non-home one; one whose token is not ours (forged, expired, another secret) is treated
// as new and given a fresh assignment.

const MAC = "[A-Za-z0-9_-]{43}";

describe("region assignments (cookie)", () => {
  it("a new client is answered by home with Set-Cookie edge-region for home; sent back, it keeps home and gets no new cookie", async () => {
    const { h, home } = twoRegions();
    const s = pair("st-cookie");
    const first = await h.fetch(s.url("/a"));
    const expires = Math.floor(h.clock.now() / 1000) + 900;
    expect(first.headers.get("set-cookie")).toMatch(new RegExp(`^edge-region=${home}\\.${expires}\\.${MAC}; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$`));
    expect(cookieToken(first.headers.get("set-cookie"))).toBe(await token(home, expires, STICKY_SECRET));
    h.clock.advance(5000);
    const again = await h.fetch(s.url("/a"), { headers: { cookie: `edge-region=${cookieToken(first.headers.get("set-cookie"))}` } });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-edge-region")).toBe(home);
    expect(again.headers.get("set-cookie")).toBeNull();
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "sticky", ramp: 100, tried: 1 });
  });

  it("a client carrying a valid assignment to away stays on away in failover mode, although home is healthy", async () => {
    const { h, away } = twoRegions();
    const s = pair("st-away");
    const cookie = `edge-region=${await token(away, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    for (let i = 0; i < 3; i++) {
      const res = await h.fetch(s.url(`/p${i}`), { headers: { cookie } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-edge-region")).toBe(away);
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "sticky", ramp: 100, tried: 1 });
    }
    expect((await s.home.log()).count).toBe(0);
    expect((await s.away.log()).count).toBe(3);
  });

  for (const [what, make] of [
    ["forged (a MAC that is not ours)", async (away: string, now: number) => `${away}.${now + 600}.${"A".repeat(43)}`],
    ["expired", async (away: string, now: number) => token(away, now - 1, STICKY_SECRET)],
    ["signed with another secret", async (away: string, now: number) => token(away, now + 600, "another-secret-of-thirty-two-chars!")],
    ["issued for longer than stick_seconds", async (away: string, now: number) => token(away, now + 900 + 3600, STICKY_SECRET)],
  ] as const) {
    it(`a token for away that is ${what} is ignored: the client goes home and gets a new assignment`, async () => {
      const { h, home, away } = twoRegions();
      const s = pair("st-bad");
      const now = Math.floor(h.clock.now() / 1000);
      const res = await h.fetch(s.url("/b"), { headers: { cookie: `edge-region=${await make(away, now)}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-edge-region")).toBe(home);
      expect(cookieToken(res.headers.get("set-cookie"))).toBe(await token(home, now + 900, STICKY_SECRET));
      expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "failover", ramp: 100, tried: 1 });
      expect((await s.away.log()).count).toBe(0);
    });
  }
});

describe("region assignments (sticky_header)", () => {
  it("the answer carries x-edge-assignment and no cookie; the client sends the token back in its header and keeps the region", async () => {
    const { h, home } = twoRegions({ routing: { sticky_header: "x-region-token" } });
    const s = pair("st-header");
    const first = await h.fetch(s.url("/h"));
    const expires = Math.floor(h.clock.now() / 1000) + 900;
    expect(first.headers.get("set-cookie")).toBeNull();
    expect(first.headers.get("x-edge-assignment")).toBe(await token(home, expires, STICKY_SECRET));
    const again = await h.fetch(s.url("/h"), { headers: { "x-region-token": first.headers.get("x-edge-assignment")! } });
    expect(again.headers.get("x-edge-region")).toBe(home);
    expect(again.headers.get("x-edge-assignment")).toBeNull();
    expect(lastRouted(h.metrics).reason).toBe("sticky");
  });

  it("a header token for away keeps the client on away; a cookie token is not read in header mode", async () => {
    const { h, home, away } = twoRegions({ routing: { sticky_header: "x-region-token" } });
    const s = pair("st-header-away");
    const t = await token(away, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET);
    const byHeader = await h.fetch(s.url("/h"), { headers: { "x-region-token": t } });
    expect(byHeader.headers.get("x-edge-region")).toBe(away);
    expect(byHeader.headers.get("x-edge-assignment")).toBeNull();
    const byCookie = await h.fetch(s.url("/h"), { headers: { cookie: `edge-region=${t}` } });
    expect(byCookie.headers.get("x-edge-region")).toBe(home);
    expect(byCookie.headers.get("x-edge-assignment")).toBe(await token(home, Math.floor(h.clock.now() / 1000) + 900, STICKY_SECRET));
  });
});
