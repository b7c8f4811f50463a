import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BreakerObject } from "../src/breaker/object.ts";
import type { Env } from "../src/env.ts";
import { CapturingSink } from "../src/metrics/writer.ts";
import { VERSION } from "../src/version.ts";
import { ADMIN_HEADERS, harness, requestPoints, scenario, unreachableBreaker, type Harness } from "./helpers.ts";

/** Latencies are wall-clock measurements: only their presence is asserted here. */
const WALL_MS = expect.any(Number);
/** double6, ms until the breaker heard the request: wall time too. */
const HEARD_MS = expect.any(Number);

const TOKEN = "test-admin-secret";

function breakerPoints(h: Harness) {
  return h.metrics.points.filter((p) => p.blobs?.[0] === "breaker");
}

/** The one request point written since `before` points were captured; fails unless there is exactly one. */
function onlyNewRequestPoint(h: Harness, before: number): AnalyticsEngineDataPoint {
  const points = requestPoints(h.metrics).slice(before);
  expect(points).toHaveLength(1);
  return points[0]!;
}

async function forceOpen(h: Harness): Promise<void> {
  const res = await h.fetch(`https://edge.example.com/__edge/admin/breakers/${h.originName}/open`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { state: unknown }).state).toEqual({ kind: "open", openedAt: h.clock.t, until: h.clock.t + 5000, attempt: 1 });
}

/** The two dashboard numbers, as scripts/dashboard/queries/totals.sql computes them (blob2, blob6). */
function fallbackStats(points: AnalyticsEngineDataPoint[], origin: string) {
  const requests = points.filter((p) => p.blobs?.[0] === "request" && p.indexes?.[0] === origin).map((p) => ({ outcome: p.blobs![1], lookup: p.blobs![5] }));
  const served = requests.filter((r) => r.outcome === "lkg_served").length;
  const noCopy = requests.filter((r) => r.outcome === "no_lkg").length;
  // A lookup while falling back: a copy served, or none to serve after looking (credentialed requests are never looked up).
  const missed = requests.filter((r) => r.outcome === "no_lkg" && (r.lookup === "miss" || r.lookup === "expired")).length;
  return { edge_fallback_triggered: served + noCopy, cache_miss_rate: served + missed === 0 ? 0 : missed / (served + missed) };
}

describe("request data points", () => {
  it("writes exactly one request point per proxied request, indexed by origin name", async () => {
    const h = harness();
    const s = scenario("m-count");
    for (const path of ["/a", "/b", "/a"]) expect((await h.fetch(s.url(path))).status).toBe(200);
    const points = requestPoints(h.metrics);
    expect(points).toHaveLength(3);
    expect(h.metrics.points).toHaveLength(3);
    for (const p of points) expect(p.indexes).toEqual([h.originName]);
  });

  it("records a healthy stored answer as origin_ok / stored with origin status and status 200", async () => {
    const h = harness();
    const s = scenario("m-ok");
    expect((await h.fetch(s.url("/page"))).status).toBe(200);
    expect(onlyNewRequestPoint(h, 0)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "origin_ok", "", "closed", "", "none", "stored", "GET", "/", "", VERSION, "", "success", h.originName, "", "single", ""],
      doubles: [WALL_MS, 200, 0, WALL_MS, 200, HEARD_MS, 100, 1],
    });
  });

  it("records a 502 answered from the memory copy as lkg_served / http_5xx / memory / hit with the stale age in seconds", async () => {
    const h = harness();
    const s = scenario("m-lkg");
    expect((await h.fetch(s.url("/page"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(7_500);
    const res = await h.fetch(s.url("/page"));
    expect(res.status).toBe(200);
    expect(onlyNewRequestPoint(h, 1)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "lkg_served", "http_5xx", "closed", "memory", "hit", "", "GET", "/", "", VERSION, "", "failure", "", "", "single", ""],
      doubles: [WALL_MS, 502, 7.5, WALL_MS, 200, HEARD_MS, 0, 1],
    });
  });

  it("records a 502 without a copy as no_lkg / miss with the origin's 502 passed on", async () => {
    const h = harness();
    const s = scenario("m-nolkg");
    await s.set({ mode: "status", status: 502 });
    expect((await h.fetch(s.url("/never-stored"))).status).toBe(502);
    expect(onlyNewRequestPoint(h, 0)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "no_lkg", "http_5xx", "closed", "", "miss", "", "GET", "/", "", VERSION, "", "failure", h.originName, "", "single", ""],
      doubles: [WALL_MS, 502, 0, WALL_MS, 502, HEARD_MS, 100, 1],
    });
  });

  it("records a copy older than 30 s as no_lkg / expired", async () => {
    const h = harness();
    const s = scenario("m-expired");
    expect((await h.fetch(s.url("/page"))).status).toBe(200);
    await s.set({ mode: "status", status: 503 });
    h.clock.advance(30_001);
    expect((await h.fetch(s.url("/page"))).status).toBe(503);
    const p = onlyNewRequestPoint(h, 1);
    expect(p.blobs!.slice(1, 7)).toEqual(["no_lkg", "http_5xx", "closed", "", "expired", ""]);
    expect(p.doubles).toEqual([WALL_MS, 503, 0, WALL_MS, 503, HEARD_MS, 100, 1]);
  });

  it("records a failing POST as origin_error with store skip:method and no lookup", async () => {
    const h = harness();
    const s = scenario("m-post");
    await s.set({ mode: "status", status: 500 });
    expect((await h.fetch(s.url("/submit"), { method: "POST", body: "x=1" })).status).toBe(500);
    expect(onlyNewRequestPoint(h, 0)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "origin_error", "http_5xx", "closed", "", "none", "skip:method", "POST", "/", "", VERSION, "", "failure", h.originName, "", "single", ""],
      doubles: [WALL_MS, 500, 0, WALL_MS, 500, HEARD_MS, 100, 1],
    });
  });

  it("records a request refused by an open breaker as breaker_open, with the LKG outcome and no origin status", async () => {
    const h = harness();
    await h.object();
    const s = scenario("m-open");
    expect((await h.fetch(s.url("/kept"))).status).toBe(200);
    await forceOpen(h);
    h.clock.advance(2_000);

    expect((await h.fetch(s.url("/kept"))).status).toBe(200);
    expect(onlyNewRequestPoint(h, 1)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "lkg_served", "breaker_open", "open", "memory", "hit", "", "GET", "/", "", VERSION, "", "", "", "", "single", ""],
      doubles: [WALL_MS, 0, 2, 0, 200, 0, 0, 1],
    });

    expect((await h.fetch(s.url("/not-kept"))).status).toBe(503);
    expect(onlyNewRequestPoint(h, 2)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "no_lkg", "breaker_open", "open", "", "miss", "", "GET", "/", "", VERSION, "", "", "", "", "single", ""],
      doubles: [WALL_MS, 0, 0, 0, 503, 0, 0, 1],
    });
    expect((await s.log()).count).toBe(1);
  });

  it("writes no point for the health and admin routes", async () => {
    const h = harness();
    await h.object();
    expect((await h.fetch("https://edge.example.com/__edge/health")).status).toBe(200);
    await forceOpen(h);
    expect((await h.fetch("https://edge.example.com/__edge/nope")).status).toBe(404);
    expect(h.metrics.points).toHaveLength(0);
  });

  it("writes one request point with outcome rejected for each refused request, and contacts no origin", async () => {
    const h = harness();
    const s = scenario("m-refused");
    const cases: { url: string; init: RequestInit; status: number }[] = [
      { url: s.url("/"), init: { method: "TRACE" }, status: 405 },
      { url: s.url("/"), init: { headers: { "cdn-loop": "edge-fallback" } }, status: 508 },
      { url: s.url("/#") + "f".repeat(16 * 1024), init: {}, status: 414 },
      { url: s.url("/"), init: { method: "POST", headers: { "content-length": "abc" }, body: "x" }, status: 400 },
    ];
    for (const { url, init, status } of cases) {
      const before = requestPoints(h.metrics).length;
      const res = await h.fetch(url, init);
      expect(res.status).toBe(status);
      expect(onlyNewRequestPoint(h, before)).toEqual({
        indexes: [h.originName],
        blobs: ["request", "rejected", "", "closed", "", "none", "", init.method ?? "GET", "", "", VERSION, "", "", "", "", "refused", ""],
        doubles: [WALL_MS, 0, 0, 0, status, 0, 0, 0],
      });
    }
    expect(h.metrics.points).toHaveLength(cases.length);
    expect((await s.log()).count).toBe(0);
  });
});

describe("breaker transition points", () => {
  it("writes isolate-sourced transition points closed->open->half-open->closed when the object is unreachable", async () => {
    const h = harness({ BREAKER: unreachableBreaker(), BREAKER_FAILURE_THRESHOLD: "2" });
    const s = scenario("m-trans");
    await s.set({ mode: "status", status: 502 });
    expect((await h.fetch(s.url("/x"))).status).toBe(502);
    // The first failure stays in the isolate (a blip so far); nothing changed state yet.
    expect(breakerPoints(h)).toHaveLength(0);

    expect((await h.fetch(s.url("/x"))).status).toBe(502);
    expect(breakerPoints(h)).toEqual([
      // Opened here as the report of the run found the object unreachable: the isolate writes it.
      { indexes: [h.originName], blobs: ["breaker", "closed", "open", "failure", "isolate"], doubles: [1, expect.any(Number), 5000] }, // double2: see the next test
    ]);

    h.clock.advance(1_000);
    const rejected = await h.fetch(s.url("/x"));
    expect(rejected.status).toBe(503);
    expect(rejected.headers.get("retry-after")).toBe("4");
    expect(breakerPoints(h)).toHaveLength(1);
    expect(requestPoints(h.metrics).at(-1)!.blobs!.slice(1, 4)).toEqual(["no_lkg", "breaker_open", "open"]);
    // Rejected while open: the breaker heard nothing from it.
    expect(requestPoints(h.metrics).at(-1)!.blobs![12]).toBe("");

    await s.set({ mode: "healthy" });
    h.clock.advance(4_000);
    expect((await h.fetch(s.url("/x"))).status).toBe(200);
    expect(breakerPoints(h).slice(1)).toEqual([
      { indexes: [h.originName], blobs: ["breaker", "open", "half-open", "probe-granted", "isolate"], doubles: [1, 0, 0] },
      { indexes: [h.originName], blobs: ["breaker", "half-open", "closed", "probe-success", "isolate"], doubles: [0, 0, 0] },
    ]);
    expect(requestPoints(h.metrics).at(-1)).toEqual({
      indexes: [h.originName],
      blobs: ["request", "origin_ok", "", "closed", "", "none", "stored", "GET", "/", "", VERSION, "probe", "success", h.originName, "", "single", ""],
      doubles: [WALL_MS, 200, 0, WALL_MS, 200, HEARD_MS, 100, 1],
    });
    expect(requestPoints(h.metrics)).toHaveLength(4);
    expect((await s.log()).count).toBe(3);
  });

  // README: "double2 consecutive failures before the transition". A breaker that opens at its
  // threshold has seen `threshold` consecutive failures, not one fewer.
  it("counts the consecutive failures that opened the breaker (= the threshold) in double2, from the isolate and from the object", async () => {
    const h = harness({ BREAKER: unreachableBreaker(), BREAKER_FAILURE_THRESHOLD: "2" });
    const s = scenario("m-trans-failures");
    await s.set({ mode: "status", status: 502 });
    expect((await h.fetch(s.url("/x"))).status).toBe(502);
    expect((await h.fetch(s.url("/x"))).status).toBe(502);
    const [isolateOpened] = breakerPoints(h);
    expect(isolateOpened!.blobs).toEqual(["breaker", "closed", "open", "failure", "isolate"]);
    expect.soft(isolateOpened!.doubles![1]).toBe(2);

    // The object reads wrangler.toml: threshold 5.
    const o = harness();
    const stub = await o.object();
    const objectSink = new CapturingSink();
    await runInDurableObject(stub, (instance: BreakerObject) => {
      const holder = instance as unknown as { env: Env };
      holder.env = { ...holder.env, METRICS: objectSink as unknown as AnalyticsEngineDataset };
    });
    await stub.report(o.originName, [{ outcome: "failure", count: 5, probe: false }]);
    expect(objectSink.points).toHaveLength(1);
    expect(objectSink.points[0]!.blobs).toEqual(["breaker", "closed", "open", "failure", "object"]);
    expect.soft(objectSink.points[0]!.doubles![1]).toBe(5);
  });

  it("the breaker object writes object-sourced transition points to its own METRICS binding, the isolate none", async () => {
    const h = harness();
    const stub = await h.object();
    // The object runs with the real Analytics Engine binding; swap in a capturing sink inside the object.
    const objectSink = new CapturingSink();
    await runInDurableObject(stub, (instance: BreakerObject) => {
      const holder = instance as unknown as { env: Env };
      holder.env = { ...holder.env, METRICS: objectSink as unknown as AnalyticsEngineDataset };
    });
    await forceOpen(h);
    h.clock.advance(1_000);
    const close = await h.fetch(`https://edge.example.com/__edge/admin/breakers/${h.originName}/close`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(close.status).toBe(200);
    expect(objectSink.points).toEqual([
      { indexes: [h.originName], blobs: ["breaker", "closed", "open", "force-open", "object"], doubles: [1, 0, 5000] },
      { indexes: [h.originName], blobs: ["breaker", "open", "closed", "force-close", "object"], doubles: [0, 0, 0] },
    ]);
    expect(breakerPoints(h)).toHaveLength(0);
  });

  it("leaves transitions to the object while it is reachable: the isolate writes none of its own", async () => {
    const h = harness();
    const s = scenario("m-trans-object");
    await s.set({ mode: "status", status: 502 });
    // Five failures reach the threshold of wrangler.toml (the object reads its own env).
    for (let i = 0; i < 5; i++) expect((await h.fetch(s.url("/x"))).status).toBe(502);
    const health = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as {
      origins: { breaker: { isolate: { kind: string }; object: { kind: string } } }[];
    };
    expect(health.origins[0]!.breaker.isolate.kind).toBe("open");
    expect(health.origins[0]!.breaker.object.kind).toBe("open");
    expect(breakerPoints(h)).toHaveLength(0);
    expect(requestPoints(h.metrics)).toHaveLength(5);
  });
});

describe("dashboard numbers from captured points", () => {
  it("computes edge_fallback_triggered and cache_miss_rate from blob2 of a scripted sequence", async () => {
    const h = harness();
    const s = scenario("m-dash");
    // t = 0: two stored answers.
    expect((await h.fetch(s.url("/a"))).status).toBe(200); // origin_ok
    expect((await h.fetch(s.url("/b"))).status).toBe(200); // origin_ok
    // t = 1 s: the origin fails (four failures, below the breaker threshold of 5).
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(1_000);
    expect((await h.fetch(s.url("/a"))).status).toBe(200); // lkg_served
    expect((await h.fetch(s.url("/b"))).status).toBe(200); // lkg_served
    expect((await h.fetch(s.url("/c"))).status).toBe(502); // no_lkg (miss)
    expect((await h.fetch(s.url("/a"), { method: "POST", body: "x" })).status).toBe(502); // origin_error, not a fallback
    // t = 20 s: healthy again, /a stored anew.
    await s.set({ mode: "healthy" });
    h.clock.advance(19_000);
    expect((await h.fetch(s.url("/a"))).status).toBe(200); // origin_ok
    // t = 32 s: failing again; /b's copy is 32 s old, /a's 12 s.
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(12_000);
    expect((await h.fetch(s.url("/b"))).status).toBe(502); // no_lkg (expired)
    expect((await h.fetch(s.url("/a"))).status).toBe(200); // lkg_served

    const outcomes = requestPoints(h.metrics).map((p) => [p.blobs![1], p.blobs![5]]);
    expect(outcomes).toEqual([
      ["origin_ok", "none"],
      ["origin_ok", "none"],
      ["lkg_served", "hit"],
      ["lkg_served", "hit"],
      ["no_lkg", "miss"],
      ["origin_error", "none"],
      ["origin_ok", "none"],
      ["no_lkg", "expired"],
      ["lkg_served", "hit"],
    ]);
    expect(fallbackStats(h.metrics.points, h.originName)).toEqual({ edge_fallback_triggered: 5, cache_miss_rate: 0.4 });
    expect(fallbackStats(h.metrics.points, "some-other-origin")).toEqual({ edge_fallback_triggered: 0, cache_miss_rate: 0 });
  });
});
