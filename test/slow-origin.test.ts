import { waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.ts";
import { harness, requestPoints, scenario, type Harness } from "./helpers.ts";

// vitest.config.ts: ORIGIN_TIMEOUT_MS=1000. A warm isolate has seen 32+ fast answers (~ms on loopback),
// so "slow" is the 25 ms floor; the slow origin below answers after 600 ms.

async function warm(h: Harness, s: ReturnType<typeof scenario>, path: string): Promise<void> {
  for (let i = 0; i < 40; i++) expect((await h.fetch(s.url(path))).status).toBe(200);
}

/** Time to the client's full answer; background work (the origin's late answer) is awaited after. */
async function timed(h: Harness, url: string): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const { response, ctx } = await h.send(url);
  await response.clone().arrayBuffer();
  const ms = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res: response, ms };
}

describe("slow origin", () => {
  it("without a latency baseline nothing counts as slow: the client waits for the origin", async () => {
    const h = harness();
    const s = scenario("slow-cold");
    await s.set({ mode: "healthy", latencyMs: 300 });
    const { res, ms } = await timed(h, s.url("/a"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(ms).toBeGreaterThanOrEqual(290);
  });

  it("after a fast baseline, a request with a copy is answered from it at the slow deadline, and the late answer refreshes the copy", async () => {
    const h = harness();
    const s = scenario("slow-warm");
    await warm(h, s, "/k");
    await s.set({ mode: "healthy", latencyMs: 600 });
    const before = (await s.log()).count;
    const started = Date.now();
    const { response, ctx } = await h.send(s.url("/k"));
    const answeredIn = Date.now() - started;
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-slow");
    expect(answeredIn).toBeLessThan(300);
    const servedSeq = Number(response.headers.get("x-origin-seq"));
    // The origin's late answer lands in the store: the next failure serves the newer copy.
    await waitOnExecutionContext(ctx);
    expect((await s.log()).count).toBe(before + 1);
    await s.set({ mode: "status", status: 502 });
    const after = await h.fetch(s.url("/k"));
    expect(after.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(Number(after.headers.get("x-origin-seq"))).toBe(servedSeq + 1);
  });

  it("5 consecutive slow requests open the breaker; then the origin is left alone", async () => {
    const h = harness();
    const s = scenario("slow-trip");
    await warm(h, s, "/t");
    await s.set({ mode: "healthy", latencyMs: 600 });
    for (let i = 0; i < 5; i++) {
      const { res, ms } = await timed(h, s.url("/t"));
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-slow");
      expect(ms).toBeLessThan(300);
    }
    const count = (await s.log()).count;
    for (let i = 0; i < 10; i++) {
      expect((await h.fetch(s.url("/t"))).headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
    }
    expect((await s.log()).count).toBe(count);
    const points = h.metrics.points.filter((p) => p.blobs?.[0] === "request" && p.blobs?.[2] === "slow");
    expect(points).toHaveLength(5);
  });

  it("one slow spell that catches ten requests in flight is one failure: the breaker stays closed", async () => {
    const h = harness();
    const s = scenario("slow-stall");
    await warm(h, s, "/s");
    await s.set({ mode: "healthy", latencyMs: 600 });
    // Ten requests already in flight when the slowness is noticed, as in an origin's GC pause.
    const sent = await Promise.all(Array.from({ length: 10 }, () => h.send(s.url("/s"))));
    for (const { response } of sent) expect(response.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-slow");
    await Promise.all(sent.map(({ ctx }) => waitOnExecutionContext(ctx)));
    const slow = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "slow");
    expect(slow).toHaveLength(10);
    // blob13 says which of them the breaker counted: exactly one.
    expect(slow.filter((p) => p.blobs?.[12] === "failure")).toHaveLength(1);
    expect(slow.filter((p) => p.blobs?.[12] === "")).toHaveLength(9);
    // Ten slow answers, but one stall: the next request still goes to the (healed) origin.
    await s.set({ mode: "healthy" });
    const next = await h.fetch(s.url("/s"));
    expect(next.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    const health = (await (await h.fetch("http://edge.test/__edge/health")).json()) as { origins: { breaker: { isolate: unknown; object: unknown } }[] };
    expect(health.origins[0]!.breaker.isolate).toEqual({ kind: "closed", failures: 0 });
    // The object heard of exactly one failure, then the success that cleared it.
    expect(health.origins[0]!.breaker.object).toMatchObject({ kind: "closed", failures: 0 });
  });

  it("a slow request with no copy still waits for the origin's answer", async () => {
    const h = harness();
    const s = scenario("slow-nocopy");
    await warm(h, s, "/warm");
    await s.set({ mode: "healthy", latencyMs: 400 });
    const { res, ms } = await timed(h, s.url("/other"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(ms).toBeGreaterThanOrEqual(390);
  });

  it("ORIGIN_SLOW_MS=off never answers early; a fixed value needs no baseline", async () => {
    const off = harness({ ORIGIN_SLOW_MS: "off" });
    const s = scenario("slow-off");
    await warm(off, s, "/o");
    await s.set({ mode: "healthy", latencyMs: 300 });
    expect((await timed(off, s.url("/o"))).res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");

    const fixed = harness({ ORIGIN_SLOW_MS: "100" });
    const f = scenario("slow-fixed");
    expect((await fixed.fetch(f.url("/f"))).status).toBe(200);
    await f.set({ mode: "healthy", latencyMs: 400 });
    const { res, ms } = await timed(fixed, f.url("/f"));
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-slow");
    expect(ms).toBeGreaterThanOrEqual(95);
    expect(ms).toBeLessThan(350);
  });

  it("rejects an ORIGIN_SLOW_MS that is not auto, off, or below the timeout", () => {
    const bindings = { BREAKER: {}, METRICS: {}, LKG_KV: {} };
    const origins = JSON.stringify([{ name: "a", url: "https://a.example" }]);
    for (const bad of ["fast", "5000", "0", "-3"]) {
      const result = resolveConfig({ ORIGINS: origins, ORIGIN_SLOW_MS: bad }, bindings);
      expect(result).toEqual({
        ok: false,
        problems: [`ORIGIN_SLOW_MS must be "auto", "off" or whole ms from 1 to below ORIGIN_TIMEOUT_MS (5000), got ${JSON.stringify(bad)}`],
      });
    }
  });
});
