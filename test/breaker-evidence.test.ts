import { describe, expect, it } from "vitest";
import { HEALTH_CHECK_MIN_INTERVAL_MS, MAX_CHECKS_PER_SECOND } from "../src/breaker/trip-gate.ts";
import { harness, requestPoints, scenario } from "./helpers.ts";

// wrangler.toml: threshold 5, open 5000 ms; vitest.config.ts: origin timeout 1000 ms.

/** A worker whose health path lives in its own fake-origin scenario, so tests can break one without the other. */
function withHealthPath() {
  const health = scenario("health");
  const h = harness({ ORIGIN_HEALTH_PATH: `/s/${health.id}/healthz` });
  return { h, health };
}

async function breakerState(h: ReturnType<typeof harness>): Promise<string> {
  return (await (await h.object()).snapshot(h.originName)).state.kind;
}

describe("a run of failures opens the breaker only when the health check says the origin is failing", () => {
  it("one client hammering a route that always answers 500 never opens the breaker: the health check dismisses the run, other routes keep their origin", async () => {
    const { h, health } = withHealthPath();
    await h.object();
    const broken = scenario("broken");
    const fine = scenario("fine");
    await broken.set({ mode: "status", status: 500 });
    for (let i = 0; i < 30; i++) {
      const res = await h.fetch(broken.url(`/err/${i}`));
      // No copy for these keys: the origin's own 500 is passed on.
      expect(res.status).toBe(500);
      h.clock.advance(100);
    }
    expect(await breakerState(h)).toBe("closed");
    // 30 failures over 3 s of fake time: the learning check, the first failure's check and one
    // early check per run of 5 (the threshold) held after a result, within the per-second cap.
    const checks = (await health.log()).count;
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(checks).toBeLessThanOrEqual(1 + 1 + 30 / 5);
    expect(checks).toBeLessThanOrEqual(3 * MAX_CHECKS_PER_SECOND);
    // The checks carry nothing of the client's request.
    for (const r of (await health.log()).requests) {
      expect(r.method).toBe("GET");
      expect(r.headers["user-agent"]).toBe("edge-fallback-health-check");
    }
    // The passing checks' points name what they dismissed: every failure, under its route class.
    const dismissed = h.metrics.points.filter((p) => p.blobs?.[0] === "health_check" && p.blobs?.[1] === "confirm");
    expect(dismissed.every((p) => p.blobs?.[2] === "ok" && p.blobs?.[4] === "/s")).toBe(true);
    // Failures after the last check wait for the next one: all but those are accounted for.
    const accounted = dismissed.reduce((n, p) => n + (p.doubles?.[2] ?? 0), 0);
    expect(accounted).toBeGreaterThan(20);
    expect(accounted).toBeLessThanOrEqual(30);
    const failures = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "http_5xx");
    expect(failures).toHaveLength(30);
    expect(new Set(failures.map((p) => p.blobs?.[12]))).toEqual(new Set(["held"]));
    // Everyone else is still answered by the origin.
    const ok = await h.fetch(fine.url("/page"));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-status")).toContain("fwd=bypass");
  });

  it("five requests to an endpoint slow by design do not open the breaker either", async () => {
    const { h, health } = withHealthPath();
    await h.object();
    const fast = scenario("fast");
    const slow = scenario("slow");
    // A baseline of fast answers: the slow deadline becomes the 25 ms floor.
    for (let i = 0; i < 40; i++) expect((await h.fetch(fast.url(`/k${i % 4}`))).status).toBe(200);
    await slow.set({ mode: "healthy", latencyMs: 300 });
    for (let i = 0; i < 8; i++) {
      expect((await h.fetch(slow.url("/report"))).status).toBe(200);
      h.clock.advance(50);
    }
    expect(await breakerState(h)).toBe("closed");
    expect((await health.log()).count).toBeGreaterThanOrEqual(1);
    // Each was slow by the baseline, and each was held from the breaker, not counted.
    const slowPoints = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "slow");
    expect(slowPoints).toHaveLength(8);
    expect(new Set(slowPoints.map((p) => p.blobs?.[12]))).toEqual(new Set(["held"]));
  });

  it("when the health path fails too, the breaker opens at the threshold, and only the health check probes while it is open", async () => {
    const { h, health } = withHealthPath();
    await h.object();
    const s = scenario("down");
    expect((await h.fetch(s.url("/p"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    await health.set({ mode: "status", status: 503 });
    for (let i = 0; i < 5; i++) {
      const res = await h.fetch(s.url("/p"));
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    }
    expect(await breakerState(h)).toBe("open");
    const points = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "http_5xx");
    expect(points.map((p) => p.blobs?.[12])).toEqual(["held", "failure", "failure", "failure", "failure"]);
    const originBefore = (await s.log()).count;

    // Past the open period: the request that finds the breaker half-open is answered from the
    // copy, and the worker's health check is the probe. It fails: open again.
    h.clock.advance(5000);
    const during = await h.fetch(s.url("/p"));
    expect(during.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
    expect((await s.log()).count).toBe(originBefore);
    expect(await breakerState(h)).toBe("open");

    // The origin heals: the next probe (the health check) closes the breaker, and traffic flows.
    await s.set({ mode: "healthy" });
    await health.set({ mode: "healthy" });
    h.clock.advance(10_000);
    const probing = await h.fetch(s.url("/p"));
    expect(probing.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
    expect((await s.log()).count).toBe(originBefore);
    expect(await breakerState(h)).toBe("closed");
    const fresh = await h.fetch(s.url("/p"));
    expect(fresh.headers.get("cache-status")).toContain("fwd=bypass");
    expect((await s.log()).count).toBe(originBefore + 1);
    // Every check is on the dashboard: the confirmation, the failed probe, the probe that closed it.
    const checks = h.metrics.points.filter((p) => p.blobs?.[0] === "health_check");
    expect(checks.map((p) => [p.blobs?.[1], p.blobs?.[2], p.doubles?.[1]])).toEqual([
      ["confirm", "failed", 0],
      ["probe", "failed", 0],
      ["probe", "ok", 200],
    ]);
    expect(checks[0]!.blobs?.[3]).toBe("health path answered 503");
    expect(checks[0]!.indexes).toEqual([h.originName]);
  });

  it("after a passing check, a partition's threshold failures open the breaker at once, without waiting out HEALTH_CHECK_MIN_INTERVAL_MS", async () => {
    const { h, health } = withHealthPath();
    await h.object();
    const s = scenario("partition");
    const broken = scenario("route500");
    // A copy of /p; the first request also sends the learning check.
    expect((await h.fetch(s.url("/p"))).status).toBe(200);
    // One route's failure on a healthy origin: the confirming check passes and dismisses it.
    await broken.set({ mode: "status", status: 500 });
    expect((await h.fetch(broken.url("/err"))).status).toBe(500);
    expect((await health.log()).count).toBe(2);
    expect(await breakerState(h)).toBe("closed");
    // A partition begins right after it: the origin and its health path fail.
    await s.set({ mode: "status", status: 502 });
    await health.set({ mode: "status", status: 503 });
    for (let i = 0; i < 5; i++) {
      h.clock.advance(10);
      const res = await h.fetch(s.url("/p"));
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    }
    // 50 ms after the passing check, well inside its interval: the 5th failure's early check failed
    // and passed the whole run on.
    expect(50).toBeLessThan(HEALTH_CHECK_MIN_INTERVAL_MS);
    expect(await breakerState(h)).toBe("open");
    expect((await health.log()).count).toBe(3);
    const points = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "http_5xx");
    expect(points.map((p) => p.blobs?.[12])).toEqual(["held", "held", "held", "held", "held", "held"]);
    const checks = h.metrics.points.filter((p) => p.blobs?.[0] === "health_check");
    expect(checks.map((p) => [p.blobs?.[1], p.blobs?.[2], p.doubles?.[2], p.doubles?.[3]])).toEqual([
      ["confirm", "ok", 1, 0],
      ["confirm", "failed", 0, 5],
    ]);
  });

  it("at the end of the open period a client with no copy waits for the probe and, when the origin is back, gets its fresh answer, not a 503", async () => {
    const { h, health } = withHealthPath();
    await h.object();
    const s = scenario("nocopy");
    await s.set({ mode: "status", status: 502 });
    await health.set({ mode: "status", status: 503 });
    for (let i = 0; i < 5; i++) expect((await h.fetch(s.url(`/k${i}`))).status).toBe(502);
    expect(await breakerState(h)).toBe("open");
    const closed = await h.fetch(s.url("/new"));
    expect(closed.status).toBe(503);
    expect(closed.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; detail=breaker-open-no-lkg");
    // The origin heals; past the open period the first client, with no copy, is the origin's.
    await s.set({ mode: "healthy" });
    await health.set({ mode: "healthy" });
    h.clock.advance(5000);
    const first = await h.fetch(s.url("/new"));
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(await breakerState(h)).toBe("closed");
    const point = requestPoints(h.metrics).at(-1)!;
    expect([point.blobs?.[1], point.blobs?.[2], point.blobs?.[11]]).toEqual(["origin_ok", "", ""]);
    // And while the origin is still down, the waiting client gets the fast 503 the probe earned.
    await s.set({ mode: "status", status: 502 });
    await health.set({ mode: "status", status: 503 });
    for (let i = 0; i < 5; i++) await h.fetch(s.url(`/again${i}`));
    expect(await breakerState(h)).toBe("open");
    h.clock.advance(5000);
    const stillDown = await h.fetch(s.url("/other"));
    expect(stillDown.status).toBe(503);
    expect(stillDown.headers.get("retry-after")).not.toBeNull();
    expect(await breakerState(h)).toBe("open");
  });

  it("a health path that fails while the application works cannot hold the breaker open for good: after 5 failed checks every other probe is a client's GET", async () => {
    const { h, health } = withHealthPath();
    await h.object();
    const s = scenario("app");
    expect((await h.fetch(s.url("/p"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    await health.set({ mode: "status", status: 503 });
    for (let i = 0; i < 5; i++) await h.fetch(s.url("/p"));
    expect(await breakerState(h)).toBe("open");
    // The application heals; its health path stays broken (a misconfigured ORIGIN_HEALTH_PATH).
    await s.set({ mode: "healthy" });
    const appBefore = (await s.log()).count;
    for (let i = 0; i < 5; i++) {
      h.clock.advance(10_000);
      await h.fetch(s.url("/p"));
      expect(await breakerState(h)).toBe("open");
    }
    // Five failed health-check probes, no client request reached the application.
    expect((await s.log()).count).toBe(appBefore);
    h.clock.advance(10_000);
    const clientProbe = await h.fetch(s.url("/p"));
    expect(clientProbe.headers.get("cache-status")).toContain("fwd=bypass");
    expect(await breakerState(h)).toBe("closed");
    expect(requestPoints(h.metrics).at(-1)?.blobs?.[11]).toBe("probe");
  });

  it("an unreachable origin (connection refused everywhere) still opens the breaker at the threshold", async () => {
    // A port nothing listens on: the request and the health check both fail at once.
    const h = harness({ ORIGINS: JSON.stringify([{ name: `refused-${Date.now()}`, url: "http://127.0.0.1:9", weight: 1 }]), ORIGIN_HEALTH_PATH: "/healthz" });
    for (let i = 0; i < 5; i++) expect((await h.fetch("https://edge.example.com/x")).status).toBe(503);
    const points = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "connection");
    expect(points.map((p) => p.blobs?.[12])).toEqual(["held", "failure", "failure", "failure", "failure"]);
    const after = await h.fetch("https://edge.example.com/x");
    expect(after.status).toBe(503);
    expect(after.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; detail=breaker-open-no-lkg");
  });
});
