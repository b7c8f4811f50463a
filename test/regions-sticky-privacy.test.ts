import { describe, expect, it } from "vitest";
import { requestPoints } from "./helpers.ts";
import { lastRouted, pair, STICKY_SECRET, twoRegions } from "./regions-helpers.ts";
import { token } from "./regions-token.ts";

// Our assignment is ours: the origin never sees it, the privacy rules never count it as a session
// cookie, and a stored copy never carries it (nor the region that answered when it was stored).

describe("the assignment and the origin", () => {
  it("the origin never sees our cookie; every other cookie reaches it byte for byte", async () => {
    const { h, home } = twoRegions();
    const s = pair("sp-strip");
    const ours = `edge-region=${await token(home, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    const sent = [`a=1;  b=two words; ${ours}; c="3;x"`, `${ours}; sid=XYZ`, ours, `${ours};d=4`, `xedge-region=kept; ${ours}`];
    for (const cookie of sent) await (await h.fetch(s.url("/c"), { headers: { cookie } })).arrayBuffer();
    const seen = (await s.home.log()).requests.map((r) => r.headers["cookie"] ?? "(none)");
    expect(seen).toEqual([`a=1;  b=two words; c="3;x"`, "sid=XYZ", "(none)", "d=4", "xedge-region=kept"]);
    // Each of them was ours and valid: every request stayed home as a sticky client.
    expect(requestPoints(h.metrics).map((p) => p.blobs?.[15])).toEqual(["sticky", "sticky", "sticky", "sticky", "sticky"]);
  });

  it("in sticky_header mode the origin never sees that header, and other headers pass", async () => {
    const { h, home } = twoRegions({ routing: { sticky_header: "x-region-token" } });
    const s = pair("sp-header");
    const t = await token(home, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET);
    await (await h.fetch(s.url("/h"), { headers: { "x-region-token": t, "x-other": "kept" } })).arrayBuffer();
    const [seen] = (await s.home.log()).requests;
    expect(seen!.headers["x-region-token"]).toBeUndefined();
    expect(seen!.headers["x-other"]).toBe("kept");
  });
});

describe("the assignment and the store", () => {
  it('with SESSION_COOKIES ["*"], a request carrying only our cookie is stored, and answered from the store when both regions fail', async () => {
    const { h, home } = twoRegions({ vars: { SESSION_COOKIES: '["*"]' } });
    const s = pair("sp-store");
    const cookie = `edge-region=${await token(home, Math.floor(h.clock.now() / 1000) + 600, STICKY_SECRET)}`;
    const healthy = await h.fetch(s.url("/s"), { headers: { cookie } });
    expect(healthy.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    const body = await healthy.text();
    expect(requestPoints(h.metrics).at(-1)!.blobs?.[6]).toBe("stored");
    await s.home.set({ mode: "status", status: 502 });
    await s.away.set({ mode: "status", status: 502 });
    h.clock.advance(2000);
    const copy = await h.fetch(s.url("/s"), { headers: { cookie } });
    expect(copy.status).toBe(200);
    expect(copy.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await copy.text()).toBe(body);
    // Another cookie beside ours is a session cookie as before: not answered from the store.
    const session = await h.fetch(s.url("/s"), { headers: { cookie: `${cookie}; sid=1` } });
    expect(session.status).toBe(502);
  });

  it("a copy served to a new client carries neither Set-Cookie nor x-edge-region, though the answer stored was assigned and named", async () => {
    const { h, home } = twoRegions();
    const s = pair("sp-copy");
    const healthy = await h.fetch(s.url("/k"));
    expect(healthy.headers.get("x-edge-region")).toBe(home);
    expect(healthy.headers.get("set-cookie")).not.toBeNull();
    await healthy.arrayBuffer();
    await s.home.set({ mode: "status", status: 503 });
    await s.away.set({ mode: "status", status: 503 });
    for (const headers of [{}, { cookie: `edge-region=${home}.1.${"A".repeat(43)}` }] as Record<string, string>[]) {
      const copy = await h.fetch(s.url("/k"), { headers });
      expect(copy.status).toBe(200);
      expect(copy.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
      expect(copy.headers.get("set-cookie")).toBeNull();
      expect(copy.headers.get("x-edge-region")).toBeNull();
      expect(lastRouted(h.metrics)).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 2 });
    }
  });
});
