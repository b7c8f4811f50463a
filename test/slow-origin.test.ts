import { waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.ts";
import { LatencyBaselines, LatencyTracker, ROUTE_CLASSES_MAX, routeClass } from "../src/origin/latency.ts";
import { ADMIN_HEADERS, harness, ORIGIN_URL, requestPoints, scenario, type Harness } from "./helpers.ts";

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

describe("the auto slow deadline", () => {
  const auto = { kind: "auto" } as const;
  function tracker(samples: number[]): LatencyTracker {
    const t = new LatencyTracker();
    for (const ms of samples) t.record(ms, 0);
    return t;
  }

  it("is max(25 ms, 3 x p90, 2 x p99) of the last 256 answers, and off until 32 answers were seen", () => {
    expect(tracker(Array(31).fill(100)).slowAfter(auto, 5000)).toBeUndefined();
    expect(tracker(Array(32).fill(100)).slowAfter(auto, 5000)).toBe(300);
    expect(tracker(Array(256).fill(2)).slowAfter(auto, 5000)).toBe(25);
    // An even spread: the p90 decides (3 x 40 ms, over 2 x 44 ms).
    const spread = tracker(Array.from({ length: 256 }, (_, i) => 5 + Math.floor(i / 6.4)));
    expect(spread.recent()).toEqual({ p90: 40, p99: 44 });
    expect(spread.slowAfter(auto, 5000)).toBe(120);
    // A heavy tail: the p99 decides (2 x 300 ms).
    expect(tracker([...Array(248).fill(10), ...Array(8).fill(300)]).slowAfter(auto, 5000)).toBe(600);
    // Older answers leave the window: a once-slow origin that is fast again gets the floor back.
    expect(tracker([...Array(256).fill(300), ...Array(256).fill(2)]).slowAfter(auto, 5000)).toBe(25);
  });

  it("stays inside the 50 ms promise when a few scheduling hiccups land in a fast baseline", () => {
    // A 2 ms origin on a busy machine: three 12 ms hiccups in 256 answers make the p99 12 ms.
    const t = tracker([...Array(253).fill(2), 12, 12, 12]);
    expect(t.recent()).toEqual({ p90: 2, p99: 12 });
    expect(t.slowAfter(auto, 5000)).toBe(25);
  });

  it("turns off when the deadline would reach the hard timeout", () => {
    expect(tracker(Array(256).fill(1600)).slowAfter(auto, 5000)).toBe(4800);
    expect(tracker(Array(256).fill(1700)).slowAfter(auto, 5000)).toBeUndefined();
  });
});

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
    const health = (await (await h.fetch("http://edge.test/__edge/health", { headers: ADMIN_HEADERS })).json()) as { origins: { breaker: { isolate: unknown; object: unknown } }[] };
    expect(health.origins[0]!.breaker.isolate).toEqual({ kind: "closed", failures: 0 });
    // The object heard of exactly one failure, then the success that cleared it.
    expect(health.origins[0]!.breaker.object).toMatchObject({ kind: "closed", failures: 0 });
  });

  it("once a failed health check confirms the origin failing, every slow request counts, not one per stall: five in flight open the breaker", async () => {
    const health = scenario("slow-confirm-health");
    const h = harness({ ORIGIN_HEALTH_PATH: `/s/${health.id}/healthz` });
    const s = scenario("slow-confirm");
    await warm(h, s, "/c");
    await s.set({ mode: "healthy", latencyMs: 600 });
    await health.set({ mode: "status", status: 503 });
    // The first slow request is held and starts the confirming check, which fails.
    const first = await h.send(s.url("/c"));
    expect(first.response.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-slow");
    await waitOnExecutionContext(first.ctx);
    const state = async () => (await (await h.object()).snapshot(h.originName)).state.kind;
    expect(await state()).toBe("closed");
    // Five requests in flight at once: by the stall rule alone one failure, but the check has ruled out a stall of the isolate.
    const sent = await Promise.all(Array.from({ length: 5 }, () => h.send(s.url("/c"))));
    // Four count and, with the held one the check passed on, reach the threshold: the fifth is released by the opening.
    const statuses = sent.map(({ response }) => response.headers.get("cache-status"));
    expect(statuses.filter((c) => c === "edge-fallback; hit; detail=stale-origin-slow")).toHaveLength(4);
    expect(statuses.filter((c) => c === "edge-fallback; hit; detail=stale-breaker-open")).toHaveLength(1);
    await Promise.all(sent.map(({ ctx }) => waitOnExecutionContext(ctx)));
    expect(await state()).toBe("open");
    const slow = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "slow");
    expect(slow.map((p) => p.blobs?.[12])).toEqual(["held", "failure", "failure", "failure", "failure"]);
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
    // The copy budget (test/copy-budget.test.ts) would answer these copies at 35 ms: this is about the slow deadline alone.
    const off = harness({ ORIGIN_SLOW_MS: "off", ORIGIN_COPY_BUDGET_MS: "off" });
    const s = scenario("slow-off");
    await warm(off, s, "/o");
    await s.set({ mode: "healthy", latencyMs: 300 });
    expect((await timed(off, s.url("/o"))).res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");

    const fixed = harness({ ORIGIN_SLOW_MS: "100", ORIGIN_COPY_BUDGET_MS: "off" });
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

describe("latency baselines per route class, and streaming routes", () => {
  it("the route class is the path's first segment, and a client inventing prefixes cannot grow the baselines past their cap", () => {
    expect(routeClass("/api/users/7")).toBe("/api");
    expect(routeClass("/api")).toBe("/api");
    expect(routeClass("/")).toBe("/");
    const b = new LatencyBaselines();
    expect(b.for("/api/a")).toBe(b.for("/api/b"));
    expect(b.for("/api/a")).not.toBe(b.for("/report/a"));
    for (let i = 0; i < ROUTE_CLASSES_MAX + 10; i++) b.for(`/p${i}/x`);
    // Past the cap every new class shares one tracker.
    expect(b.for("/new-1/x")).toBe(b.for("/new-2/x"));
    expect(b.for("/new-1/x")).not.toBe(b.for("/api/a"));
  });

  /** A worker whose origin is the fake origin's /s, so each scenario is its own route class (/<id>). */
  function perRoute(vars: Record<string, string> = {}) {
    return harness({ ORIGINS: JSON.stringify([{ name: `classes-${Math.random().toString(36).slice(2, 8)}`, url: `${ORIGIN_URL}/s`, weight: 1 }]), ORIGIN_HEALTH_PATH: "off", ...vars });
  }

  it("an endpoint slow by design is slow only against its own route's baseline once it has one; before that the origin's counts, and the health check keeps the breaker closed", async () => {
    const health = scenario("health");
    const h = perRoute({ ORIGIN_HEALTH_PATH: `/${health.id}/healthz` });
    const fast = scenario("fast");
    const report = scenario("report");
    for (let i = 0; i < 40; i++) expect((await h.fetch(`https://edge.example.com/${fast.id}/k${i % 4}`)).status).toBe(200);
    await report.set({ mode: "healthy", latencyMs: 150 });
    for (let i = 0; i < 44; i++) {
      expect((await h.fetch(`https://edge.example.com/${report.id}/r${i}`)).status).toBe(200);
      h.clock.advance(100);
    }
    const reports = requestPoints(h.metrics).slice(40).map((p) => p.blobs?.[2]);
    // Slow by the origin's 25 ms deadline until the route has 32 answers of its own, then never.
    expect(reports.slice(0, 5)).toEqual(["slow", "slow", "slow", "slow", "slow"]);
    expect(reports.slice(33)).toEqual(Array(11).fill(""));
    expect((await (await h.object()).snapshot(h.originName)).state.kind).toBe("closed");
    // The fast route's own deadline is untouched: still the 25 ms floor.
    const again = await h.fetch(`https://edge.example.com/${fast.id}/k0`);
    expect(again.headers.get("cache-status")).toContain("fwd=bypass");
  });

  it("ORIGIN_STREAMING_ROUTES: a long poll is never slow, and its timeouts never count against the origin", async () => {
    const poll = scenario("poll");
    const fast = scenario("fast");
    const h = harness({ ORIGIN_HEALTH_PATH: "off", ORIGIN_STREAMING_ROUTES: JSON.stringify([`/s/${poll.id}/*`]) });
    await warm(h, fast, "/k");
    await poll.set({ mode: "healthy", latencyMs: 300 });
    for (let i = 0; i < 6; i++) expect((await h.fetch(poll.url("/wait"))).status).toBe(200);
    // Longer than the 1 s timeout: each times out (no copy: 503), none counts.
    await poll.set({ mode: "blackhole" });
    for (let i = 0; i < 5; i++) expect((await h.fetch(poll.url(`/hang${i}`))).status).toBe(503);
    const polls = requestPoints(h.metrics).slice(40);
    expect(polls.map((p) => p.blobs?.[2])).toEqual(["", "", "", "", "", "", "timeout", "timeout", "timeout", "timeout", "timeout"]);
    expect(new Set(polls.slice(6).map((p) => p.blobs?.[12]))).toEqual(new Set([""]));
    expect((await (await h.object()).snapshot(h.originName)).state.kind).toBe("closed");
  });

  it("ORIGIN_STREAMING_ROUTES is validated with the other settings", () => {
    const result = resolveConfig({ ORIGINS: JSON.stringify([{ name: "a", url: "https://a.example", weight: 1 }]), ORIGIN_STREAMING_ROUTES: '["poll"]', ORIGIN_HEALTH_PATH: "healthz" }, { BREAKER: {}, METRICS: {}, LKG_KV: {} });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems.some((p) => p.startsWith("ORIGIN_STREAMING_ROUTES"))).toBe(true);
      expect(result.problems.some((p) => p.startsWith("ORIGIN_HEALTH_PATH"))).toBe(true);
    }
  });
});
