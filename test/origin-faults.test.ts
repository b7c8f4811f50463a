import { waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, harness, scenario } from "./helpers.ts";

// vitest.config.ts sets ORIGIN_TIMEOUT_MS=1000.

describe("30 s cap on the last-known-good copy", () => {
  for (const cacheControl of ["max-age=600", "s-maxage=3600", "max-age=60, stale-if-error=86400", "public, immutable, max-age=31536000"]) {
    it(`serves the stored copy at 29 s and refuses it at 31 s, whatever the origin said (${cacheControl})`, async () => {
      const h = harness();
      const s = scenario("cap");
      await s.set({ mode: "healthy", headers: { "cache-control": cacheControl } });
      expect((await h.fetch(s.url("/c"))).status).toBe(200);
      await s.set({ mode: "status", status: 503 });
      h.clock.advance(29_000);
      const at29 = await h.fetch(s.url("/c"));
      expect(at29.status).toBe(200);
      expect(at29.headers.get("age")).toBe("29");
      expect(at29.headers.get("cache-control")).toBe(cacheControl);
      h.clock.advance(2_000);
      const at31 = await h.fetch(s.url("/c"));
      expect(at31.status).toBe(503);
      expect(await at31.json()).toMatchObject({ error: "fake origin answers 503" });
      expect(at31.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=503; detail=no-lkg");
    });
  }

  it("refuses a copy from the Cache API or KV tier that is older than 30 s just the same", async () => {
    const writer = harness();
    const s = scenario("cap-tiers");
    expect((await writer.fetch(s.url("/t"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    // A fresh isolate has nothing in memory: its copy comes from the Cache API.
    const reader = harness({}, { clock: writer.clock });
    writer.clock.advance(30_000);
    const at30 = await reader.fetch(s.url("/t"));
    expect(at30.status).toBe(200);
    expect(at30.headers.get("age")).toBe("30");
    const other = harness({}, { clock: writer.clock });
    writer.clock.advance(1);
    expect((await other.fetch(s.url("/t"))).status).toBe(502);
    expect(other.metrics.points.find((p) => p.blobs?.[0] === "request")?.blobs?.[5]).toBe("expired");
  });
});

describe("origin faults", () => {
  it("an origin that never answers gets a 503 with Retry-After after the timeout, not a hang", async () => {
    const h = harness();
    const s = scenario("hang");
    await s.set({ mode: "blackhole" });
    const started = Date.now();
    const res = await h.fetch(s.url("/slow"));
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({
      error: "origin unavailable",
      cause: "origin-timeout",
      detail: `origin ${h.originName} did not answer in time`,
      retryAfterSeconds: 1,
    });
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
  });

  it("an origin that never answers is covered by the stored copy: at the copy budget, or after the timeout without one", async () => {
    // ORIGIN_COPY_BUDGET_MS: the copy in memory answers at 35 ms, no longer after the timeout.
    const h = harness();
    const off = harness({ ORIGIN_COPY_BUDGET_MS: "off" });
    const s = scenario("hang-lkg");
    await h.fetch(s.url("/slow"));
    await off.fetch(s.url("/slow"));
    await s.set({ mode: "blackhole" });
    const res = await h.fetch(s.url("/slow"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-over-budget");
    const timedOut = await off.fetch(s.url("/slow"));
    expect(timedOut.status).toBe(200);
    expect(timedOut.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-timeout");
  });

  it("a connection reset is answered from the copy, or with 503 when there is none", async () => {
    const h = harness();
    const s = scenario("reset");
    await h.fetch(s.url("/r1"));
    await s.set({ mode: "reset" });
    const covered = await h.fetch(s.url("/r1"));
    expect(covered.status).toBe(200);
    expect(covered.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-unreachable");
    const bare = await h.fetch(s.url("/r2"));
    expect(bare.status).toBe(503);
    expect(await bare.json()).toMatchObject({ cause: "origin-unreachable" });
  });

  it("a client that reads slowly is not mistaken for a stalled origin: the whole body arrives", async () => {
    const h = harness();
    const s = scenario("slow-reader");
    // A POST is passed through without a stored branch, so only the client pulls the body.
    await s.set({ mode: "healthy", bodyBytes: 4 * 1024 * 1024 });
    const { response, ctx } = await h.send(s.url("/download"), { method: "POST", body: "{}" });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let bytes = (await reader.read()).value!.byteLength;
    // Longer than ORIGIN_TIMEOUT_MS (1000 ms here) without asking for more.
    await new Promise((r) => setTimeout(r, 1300));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    expect(bytes).toBeGreaterThan(4 * 1024 * 1024);
    await waitOnExecutionContext(ctx);
  });

  it("does NOT store a truncated body, and keeps serving the last complete copy", async () => {
    const h = harness();
    const s = scenario("trunc");
    const good = (await (await h.fetch(s.url("/t"))).json()) as { seq: number };
    await s.set({ mode: "truncate" });
    h.clock.advance(1000);
    const truncated = await h.fetch(s.url("/t"));
    expect(truncated.status).toBe(200);
    await expect(truncated.text()).rejects.toThrow();
    expect(h.metrics.points.length).toBeGreaterThan(0);
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(1000);
    const res = await h.fetch(s.url("/t"));
    expect(res.status).toBe(200);
    expect(res.headers.get("age")).toBe("2");
    expect(((await res.json()) as { seq: number }).seq).toBe(good.seq);
  });

  it("a body that stalls after the headers is cut off after the timeout instead of hanging the client", async () => {
    const h = harness();
    const s = scenario("stall");
    await s.set({ mode: "stall-body" });
    const started = Date.now();
    const res = await h.fetch(s.url("/s"));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("a small body of declared length that stalls while being captured is cut off after the timeout too, and nothing is stored", async () => {
    const h = harness();
    const s = scenario("stall-known");
    await s.set({ mode: "stall-body", headers: { "content-length": "200" } });
    const started = Date.now();
    const res = await h.fetch(s.url("/s"));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(4000);
    // Nothing was stored from the broken body: with the origin down there is no copy.
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(1000);
    const after = await h.fetch(s.url("/s"));
    expect(after.status).toBe(502);
  });

  it("a small body of declared length that stalls on the streamed path (not captured) is cut off by the request's one deadline", async () => {
    const h = harness({ LKG_ROUTES: '["/never"]' });
    const s = scenario("stall-streamed");
    await s.set({ mode: "stall-body", headers: { "content-length": "200" } });
    const started = Date.now();
    const res = await h.fetch(s.url("/s"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await expect(res.text()).rejects.toThrow();
    // ORIGIN_TIMEOUT_MS is 1 s in the harness: cut off after it, long before a hang.
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4000);
  });

  it("a small body of declared length cut short on the streamed path (not captured) errors the client's body, never ends it cleanly", async () => {
    // Nothing is captured on this route, so the origin's body goes to the client untouched.
    const h = harness({ LKG_ROUTES: '["/never"]' });
    const s = scenario("trunc-streamed");
    await s.set({ mode: "truncate" });
    const res = await h.fetch(s.url("/t"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await expect(res.text()).rejects.toThrow();
  });

  it.each([
    ["captured", {}],
    ["streamed", { LKG_ROUTES: '["/never"]' }],
  ])("a small body of declared length arrives whole and byte for byte when %s", async (path, vars) => {
    const h = harness(vars);
    const s = scenario(`small-known-${path}`);
    await s.set({ mode: "healthy", bodyBytes: 30_000 });
    const res = await h.fetch(s.url("/k"));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(res.headers.get("content-length")).toBe(String(text.length));
    expect((JSON.parse(text) as { pad: string }).pad).toBe("x".repeat(30_000));
  });

  it("proxies a body larger than the store's limit in full, and does NOT store it", async () => {
    const h = harness({ LKG_MAX_BODY_BYTES: "10000" });
    const s = scenario("big");
    await s.set({ mode: "healthy", bodyBytes: 50_000 });
    const res = await h.fetch(s.url("/big"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    const body = (await res.json()) as { pad: string };
    expect(body.pad).toHaveLength(50_000);
    await s.set({ mode: "status", status: 502 });
    const after = await h.fetch(s.url("/big"));
    expect(after.status).toBe(502);
    const point = h.metrics.points.find((p) => p.blobs?.[0] === "request");
    expect(point?.blobs?.[6]).toBe("skip:too-large");
  });

  it("a body over the limit without Content-Length is streamed to the client in full and the copy abandoned", async () => {
    const h = harness({ LKG_MAX_BODY_BYTES: "10000" });
    const s = scenario("big-chunked");
    await s.set({ mode: "healthy", bodyBytes: 40_000, chunked: true });
    const res = await h.fetch(s.url("/big"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBeNull();
    expect(((await res.json()) as { pad: string }).pad).toHaveLength(40_000);
    await s.set({ mode: "status", status: 502 });
    expect((await h.fetch(s.url("/big"))).status).toBe(502);
    const health = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as { lkg: { counters: { storeSkipped: Record<string, number> } } };
    expect(health.lkg.counters.storeSkipped).toEqual({ "too-large": 1 });
  });

  it("never replays a POST: a failing write gets the origin's 5xx and nothing is stored", async () => {
    const h = harness();
    const s = scenario("post");
    await s.set({ mode: "status", status: 503 });
    const res = await h.fetch(s.url("/w"), { method: "POST", body: "payload" });
    expect(res.status).toBe(503);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=503; detail=no-lkg");
    const log = await s.log();
    expect(log.count).toBe(1);
    expect(log.requests[0]?.method).toBe("POST");
  });
});
