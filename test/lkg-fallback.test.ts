import { describe, expect, it } from "vitest";
import { harness, scenario } from "./helpers.ts";

describe("serving the last-known-good copy", () => {
  it("serves the stored copy when the origin answers 502, with Age and Cache-Status", async () => {
    const h = harness();
    const s = scenario("lkg502");
    const first = await h.fetch(s.url("/page"));
    expect(first.status).toBe(200);
    const original = (await first.json()) as { seq: number };

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(12_500);
    const res = await h.fetch(s.url("/page"));
    expect(res.status).toBe(200);
    expect(res.headers.get("age")).toBe("12");
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await res.json()).toMatchObject({ seq: original.seq, scenario: s.id });
  });
});

describe("HEAD answered from the stored copy", () => {
  it("carries the stored body's Content-Length and no body", async () => {
    const h = harness();
    const s = scenario("lkg-head");
    await s.set({ mode: "healthy", bodyBytes: 1000 });
    const first = await h.fetch(s.url("/page"));
    expect(first.status).toBe(200);
    const stored = new Uint8Array(await first.arrayBuffer()).byteLength;
    expect(stored).toBeGreaterThan(1000);

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(2_000);
    const head = await h.fetch(s.url("/page"), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(head.headers.get("content-length")).toBe(String(stored));
    expect(head.body).toBeNull();

    const get = await h.fetch(s.url("/page"));
    expect(get.headers.get("content-length")).toBe(String(stored));
    expect(new Uint8Array(await get.arrayBuffer()).byteLength).toBe(stored);
  });

  it("gives a stored 204 no Content-Length, for HEAD or GET", async () => {
    const h = harness();
    const s = scenario("lkg-head-204");
    await s.set({ mode: "status", status: 204 });
    expect((await h.fetch(s.url("/empty"))).status).toBe(204);

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(1_000);
    for (const method of ["HEAD", "GET"]) {
      const res = await h.fetch(s.url("/empty"), { method });
      expect([method, res.status]).toEqual([method, 204]);
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
      expect(res.headers.get("content-length")).toBeNull();
      expect(res.body).toBeNull();
    }
  });
});
