import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS } from "./helpers.ts";
import { CLOSED_PORT_URL, lastRouted, pair, twoRegions } from "./regions-helpers.ts";

// When the failover fails too, the answer is what one region would give: the copy (<= 30 s), else
// the origin's own 5xx, else the clean 503. A copy names no region and assigns no one.

describe("when both regions fail", () => {
  it("both answering 502: the copy home stored, with Age and Cache-Status, and no region or assignment", async () => {
    const { h, home } = twoRegions();
    const s = pair("bf-copy");
    const healthy = await h.fetch(s.url("/p"));
    expect(healthy.headers.get("x-edge-region")).toBe(home);
    const stored = await healthy.text();
    await s.home.set({ mode: "status", status: 502 });
    await s.away.set({ mode: "status", status: 502 });
    h.clock.advance(3000);
    const res = await h.fetch(s.url("/p"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(res.headers.get("age")).toBe("3");
    expect(res.headers.get("x-edge-region")).toBeNull();
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toBe(stored);
    expect(lastRouted(h.metrics)).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 2 });
    expect((await s.home.log()).count).toBe(2);
    expect((await s.away.log()).count).toBe(1);
  });

  it("both answering 502 and no copy: away's own 502, named as away's", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("bf-5xx");
    await s.home.set({ mode: "status", status: 502 });
    await s.away.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/n"));
    expect(res.status).toBe(502);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=502; detail=no-lkg");
    expect(await res.json()).toEqual({ error: "fake origin answers 502", scenario: s.id });
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
  });

  it("both refusing connections and no copy: the clean 503 with Retry-After", async () => {
    const { h, away } = twoRegions({ homeUrl: CLOSED_PORT_URL, awayUrl: CLOSED_PORT_URL });
    const s = pair("bf-503");
    const res = await h.fetch(s.url("/u"));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; detail=origin-unreachable-no-lkg");
    expect(res.headers.get("x-edge-region")).toBeNull();
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.json()).toEqual({ error: "origin unavailable", cause: "origin-unreachable", detail: `origin ${away} could not be reached`, retryAfterSeconds: 1 });
    expect(lastRouted(h.metrics)).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 2 });
  });

  it("both timing out: the copy, detail=stale-origin-timeout", async () => {
    const { h } = twoRegions({ vars: { ORIGIN_TIMEOUT_MS: "200" } });
    const s = pair("bf-timeout");
    await (await h.fetch(s.url("/t"))).text();
    await s.home.set({ mode: "blackhole" });
    await s.away.set({ mode: "blackhole" });
    const res = await h.fetch(s.url("/t"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-timeout");
    expect(res.headers.get("x-edge-region")).toBeNull();
    expect(lastRouted(h.metrics)).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 2 });
  });

  it("away answering 502 while home's breaker is open and no copy: away's own 502, as away alone would answer; home is not tried", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("bf-open");
    expect((await h.fetch(`https://edge.example.com/__edge/admin/breakers/${home}/open`, { method: "POST", headers: ADMIN_HEADERS })).status).toBe(200);
    await s.away.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/o"));
    expect(res.status).toBe(502);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=502; detail=no-lkg");
    expect(await res.json()).toEqual({ error: "fake origin answers 502", scenario: s.id });
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect((await s.home.log()).count).toBe(0);
  });

  it("away answering 502 while home's breaker is open, with a copy: the copy, detail=stale-origin-5xx (away's failure, not home's breaker)", async () => {
    const { h, home } = twoRegions();
    const s = pair("bf-open-copy");
    await (await h.fetch(s.url("/c"))).text();
    expect((await h.fetch(`https://edge.example.com/__edge/admin/breakers/${home}/open`, { method: "POST", headers: ADMIN_HEADERS })).status).toBe(200);
    await s.away.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/c"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(lastRouted(h.metrics)).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 1 });
  });
});
