import { describe, expect, it } from "vitest";
import { CLOSED_PORT_URL, lastRouted, pair, twoRegions } from "./regions-helpers.ts";

// A write is never sent to a second region by a retry: whatever home does, away's log stays empty.

describe("a non-idempotent request whose home attempt fails", () => {
  it("a POST answered 502 by home gets home's own 502; away never sees it", async () => {
    const { h, home } = twoRegions();
    const s = pair("wr-post");
    await s.home.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/orders"), { method: "POST", body: '{"n":1}', headers: { "content-type": "application/json" } });
    expect(res.status).toBe(502);
    expect(res.headers.get("x-edge-region")).toBe(home);
    expect(await res.json()).toEqual({ error: "fake origin answers 502", scenario: s.id });
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect((await s.home.log()).requests.map((r) => r.method)).toEqual(["POST"]);
    expect((await s.away.log()).count).toBe(0);
  });

  it("a PUT to a home that never answers gets the clean 503 after the timeout; away never sees it", async () => {
    const { h, home } = twoRegions({ vars: { ORIGIN_TIMEOUT_MS: "300" } });
    const s = pair("wr-put");
    await s.home.set({ mode: "blackhole" });
    const res = await h.fetch(s.url("/doc/1"), { method: "PUT", body: "new" });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-edge-region")).toBeNull();
    expect(await res.json()).toEqual({ error: "origin unavailable", cause: "origin-timeout", detail: `origin ${home} did not answer in time`, retryAfterSeconds: 1 });
    expect(lastRouted(h.metrics)).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 1 });
    expect((await s.home.log()).count).toBe(1);
    expect((await s.away.log()).count).toBe(0);
  });

  it("a DELETE (no body) answered 503 by home is passed on; away never sees it", async () => {
    const { h, home } = twoRegions();
    const s = pair("wr-del");
    await s.home.set({ mode: "status", status: 503 });
    const res = await h.fetch(s.url("/doc/2"), { method: "DELETE" });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-edge-region")).toBe(home);
    expect(lastRouted(h.metrics)).toEqual({ answered: home, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect((await s.away.log()).count).toBe(0);
  });

  it("a PATCH to a home that refuses connections is not retried either", async () => {
    const { h, home } = twoRegions({ homeUrl: CLOSED_PORT_URL });
    const s = pair("wr-patch");
    const res = await h.fetch(s.url("/doc/3"), { method: "PATCH", body: "x" });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ cause: "origin-unreachable", detail: `origin ${home} could not be reached` });
    expect((await s.away.log()).count).toBe(0);
  });
});
