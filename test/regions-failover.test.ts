import { waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS } from "./helpers.ts";
import { CLOSED_PORT_URL, lastRouted, pair, twoRegions } from "./regions-helpers.ts";

// Two regions in failover mode: home first, away second. Each test's home attempt fails one way
// and the request must be answered by away, once, and recorded as a failover from home.

describe("failover of an idempotent request to the second region", () => {
  it("a GET whose home attempt answers 502 is answered by away, which sees the same request once", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("fo-502");
    await s.home.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/x?q=1"));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(await res.json()).toMatchObject({ scenario: s.id, path: `/s/${s.id}/x?q=1`, method: "GET", seq: 1 });
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    const [atHome, atAway] = [await s.home.log(), await s.away.log()];
    expect(atHome.requests.map((r) => [r.method, r.path])).toEqual([["GET", `/s/${s.id}/x?q=1`]]);
    expect(atAway.requests.map((r) => [r.method, r.path])).toEqual([["GET", `/s/${s.id}/x?q=1`]]);
  });

  it("a HEAD whose home attempt answers 502 is answered by away, without a body", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("fo-head");
    await s.home.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/h"), { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(await res.text()).toBe("");
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    expect((await s.away.log()).requests.map((r) => r.method)).toEqual(["HEAD"]);
  });

  it("a GET whose home refuses the connection (a closed port) is answered by away", async () => {
    const { h, home, away } = twoRegions({ homeUrl: CLOSED_PORT_URL });
    const s = pair("fo-refused");
    const res = await h.fetch(s.url("/r"));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    expect((await s.away.log()).count).toBe(1);
  });

  it("a GET whose home never answers is answered by away once ORIGIN_TIMEOUT_MS has passed", async () => {
    const { h, home, away } = twoRegions({ vars: { ORIGIN_TIMEOUT_MS: "300" } });
    const s = pair("fo-timeout");
    await s.home.set({ mode: "blackhole" });
    const started = Date.now();
    const res = await h.fetch(s.url("/t"));
    const ms = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    expect((await s.home.log()).count).toBe(1);
    expect((await s.away.log()).count).toBe(1);
  });

  it("a GET whose home is slower than a fixed ORIGIN_SLOW_MS is answered by away at the slow deadline, not when home answers", async () => {
    const { h, home, away } = twoRegions({ vars: { ORIGIN_SLOW_MS: "100" } });
    const s = pair("fo-slow");
    await s.home.set({ mode: "healthy", latencyMs: 800, version: "home-late" });
    const started = Date.now();
    const { response, ctx } = await h.send(s.url("/slow"));
    const body = (await response.json()) as { seq: number };
    const ms = Date.now() - started;
    expect(response.status).toBe(200);
    expect(response.headers.get("x-edge-region")).toBe(away);
    expect(body.seq).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(95);
    expect(ms).toBeLessThan(700);
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    await waitOnExecutionContext(ctx);
    expect((await s.home.log()).count).toBe(1);
    expect((await s.away.log()).count).toBe(1);
    // Home's late answer still refreshed the copy: it is what both regions failing now serves.
    await s.home.set({ mode: "status", status: 502 });
    await s.away.set({ mode: "status", status: 502 });
    const copy = await h.fetch(s.url("/slow"));
    expect(copy.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await copy.json()).toMatchObject({ version: "home-late" });
  });

  it("while home's breaker is open a GET goes to away first: home is not contacted, and nothing is counted as a failover", async () => {
    const { h, home, away } = twoRegions();
    const s = pair("fo-open");
    const forced = await h.fetch(`https://edge.example.com/__edge/admin/breakers/${home}/open`, { method: "POST", headers: ADMIN_HEADERS });
    expect(forced.status).toBe(200);
    const res = await h.fetch(s.url("/o"));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect((await s.home.log()).count).toBe(0);
    expect((await s.away.log()).count).toBe(1);
  });
});
