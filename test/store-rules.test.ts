/**
 * Answers that must not enter the shared store: one that sets a cookie (its body may carry the
 * same session or CSRF token), one to a request that said `Cache-Control: no-store`, and one a
 * CDN-targeted cache-control field (RFC 9213) marks `no-store` or `private`.
 */
import { describe, expect, it } from "vitest";
import { harness, requestPoints, scenario, type Harness } from "./helpers.ts";
import { cacheCopy, expectNothingStored, expectOrigin502, expectUnreachable503, keyFor, kvCopy } from "./privacy-helpers.ts";

async function storeSkipped(h: Harness): Promise<Record<string, number>> {
  // The admin token (vitest.config.ts): main's full health page, with the counters, needs it; here it is ignored.
  const res = await h.fetch("https://edge.example.com/__edge/health", { headers: { authorization: "Bearer test-admin-secret" } });
  return ((await res.json()) as { lkg: { counters: { storeSkipped: Record<string, number> } } }).lkg.counters.storeSkipped;
}

describe("an answer that sets a cookie is not stored (skip:set-cookie)", () => {
  for (const header of ["set-cookie", "set-cookie2"]) {
    it(`does NOT store a ${header} answer, so user B never gets user A's token from its body`, async () => {
      const h = harness();
      const s = scenario("sc");
      await s.set({ mode: "healthy", headers: { [header]: "csrf=TOKEN-A; Path=/; HttpOnly" } });
      const a = await h.fetch(s.url("/form"));
      expect(a.status).toBe(200);
      expect(a.headers.get(header)).toBe("csrf=TOKEN-A; Path=/; HttpOnly");
      expect(a.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
      expect(await a.json()).toMatchObject({ seq: 1, user: "anonymous" });
      expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:set-cookie"]);
      expect(await storeSkipped(h)).toEqual({ "set-cookie": 1 });
      await expectNothingStored(keyFor(s, "/form"));

      await s.set({ mode: "status", status: 502 });
      await expectOrigin502(h, s, s.url("/form"));
      await s.set({ mode: "reset" });
      await expectUnreachable503(h, s.url("/form"));
    });
  }

  it("DOES store it on a PUBLIC_ROUTES path, without the Set-Cookie header", async () => {
    const s = scenario("sc-public");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    await s.set({ mode: "healthy", headers: { "set-cookie": "lang=en" } });
    const a = await h.fetch(s.url("/doc"));
    expect(a.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await a.arrayBuffer();
    const copy = await cacheCopy(keyFor(s, "/doc"));
    expect(copy?.headers.map(([n]) => n)).toEqual(["content-type", "x-origin-seq", "x-origin-served-at", "x-origin-user"]);
    await s.set({ mode: "status", status: 502 });
    const fallback = await h.fetch(s.url("/doc"));
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get("set-cookie")).toBeNull();
    expect(await fallback.json()).toMatchObject({ seq: 1 });
  });
});

describe("a request's own Cache-Control: no-store (skip:request-no-store)", () => {
  for (const value of ["no-store", "No-Store", "max-age=0, no-store"]) {
    it(`does NOT store the answer to a request with Cache-Control: ${value}`, async () => {
      const h = harness();
      const s = scenario("req-ns");
      const a = await h.fetch(s.url("/page"), { headers: { "cache-control": value } });
      expect(a.status).toBe(200);
      expect(a.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
      await a.arrayBuffer();
      expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:request-no-store"]);
      expect(await storeSkipped(h)).toEqual({ "request-no-store": 1 });
      await expectNothingStored(keyFor(s, "/page"));
      await s.set({ mode: "status", status: 502 });
      await expectOrigin502(h, s, s.url("/page"));
    });
  }

  it("does not replace an existing copy, and may still be answered from it when the origin fails (RFC 9111 §5.2.1.5 forbids storing, not serving)", async () => {
    const h = harness();
    const s = scenario("req-ns-serve");
    const first = await h.fetch(s.url("/page"));
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await first.arrayBuffer();
    h.clock.advance(2_000);
    const second = await h.fetch(s.url("/page"), { headers: { "cache-control": "no-store" } });
    expect(second.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    expect(await second.json()).toMatchObject({ seq: 2 });
    expect(JSON.parse((await cacheCopy(keyFor(s, "/page")))!.body)).toMatchObject({ seq: 1 });

    await s.set({ mode: "status", status: 502 });
    const fallback = await h.fetch(s.url("/page"), { headers: { "cache-control": "no-store" } });
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(fallback.headers.get("age")).toBe("2");
    expect(await fallback.json()).toMatchObject({ seq: 1, user: "anonymous" });
  });
});

describe("CDN-Cache-Control and Cloudflare-CDN-Cache-Control (RFC 9213)", () => {
  const cases: { headers: Record<string, string>; reason: string }[] = [
    { headers: { "cdn-cache-control": "no-store" }, reason: "no-store" },
    { headers: { "cdn-cache-control": "private" }, reason: "private" },
    { headers: { "cdn-cache-control": "max-age=60, private" }, reason: "private" },
    { headers: { "cloudflare-cdn-cache-control": "no-store" }, reason: "no-store" },
    { headers: { "cloudflare-cdn-cache-control": "Private" }, reason: "private" },
    // Strict for privacy: a private/no-store in any of the three wins over a CDN field that allows storing.
    { headers: { "cache-control": "public, max-age=60", "cdn-cache-control": "private" }, reason: "private" },
    { headers: { "cache-control": "private", "cdn-cache-control": "max-age=60" }, reason: "private" },
    { headers: { "cdn-cache-control": "max-age=60", "cloudflare-cdn-cache-control": "no-store" }, reason: "no-store" },
  ];
  for (const { headers, reason } of cases) {
    it(`does NOT store an answer with ${JSON.stringify(headers)} (skip:${reason})`, async () => {
      const h = harness();
      const s = scenario("cdn-cc");
      await s.set({ mode: "healthy", headers });
      const a = await h.fetch(s.url("/page"));
      expect(a.status).toBe(200);
      expect(a.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
      await a.arrayBuffer();
      expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual([`skip:${reason}`]);
      await expectNothingStored(keyFor(s, "/page"));
      await s.set({ mode: "status", status: 502 });
      await expectOrigin502(h, s, s.url("/page"));
    });
  }

  it("stores an answer whose CDN-Cache-Control only sets a max-age (control)", async () => {
    const h = harness();
    const s = scenario("cdn-cc-ok");
    await s.set({ mode: "healthy", headers: { "cdn-cache-control": "max-age=60", "cloudflare-cdn-cache-control": "max-age=30" } });
    const a = await h.fetch(s.url("/page"));
    expect(a.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await a.arrayBuffer();
    expect(await kvCopy(keyFor(s, "/page"))).toMatchObject({ origin: h.originName });
  });
});
