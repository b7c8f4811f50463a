import { describe, expect, it } from "vitest";
import { requestPoints, unreachableBreaker } from "./helpers.ts";
import { pair, routed, twoRegions } from "./regions-helpers.ts";

// No retry budget at all, so a failing GET is never retried by the budget: only the breaker
// opening on the region it waits on can send it elsewhere. The breaker object is out of reach, so
// the isolate's own breaker decides, after one failure.
describe("a slow request waiting on a region whose breaker opens", () => {
  it("goes to the next region instead of taking a 503 (no copy, no budget)", async () => {
    const { h, home, away } = twoRegions({
      routing: { retry_budget: { ratio: 0, min_per_second: 0 }, down: 100, stick_seconds: 0 },
      vars: { BREAKER_FAILURE_THRESHOLD: "1", BREAKER: unreachableBreaker(), ORIGIN_SLOW_MS: "50", ORIGIN_TIMEOUT_MS: "3000" },
    });
    const s = pair("reroute-open");
    await s.home.set({ mode: "blackhole" });
    const started = Date.now();
    const res = await h.fetch(s.url("/no-copy"));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    // Well before the 3 s origin timeout: the breaker opened on the slow request itself.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(routed(requestPoints(h.metrics).at(-1)!)).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    expect((await s.away.log()).count).toBe(1);
  });

  it("with the next region refusing too, the answer is the clean 503 as before", async () => {
    const { h } = twoRegions({
      routing: { retry_budget: { ratio: 0, min_per_second: 0 }, down: 100, stick_seconds: 0 },
      vars: { BREAKER_FAILURE_THRESHOLD: "1", BREAKER: unreachableBreaker(), ORIGIN_SLOW_MS: "50", ORIGIN_TIMEOUT_MS: "3000" },
    });
    const s = pair("reroute-open-both");
    await s.home.set({ mode: "blackhole" });
    await s.away.set({ mode: "status", status: 503 });
    const res = await h.fetch(s.url("/no-copy"));
    expect(res.status).toBe(503);
    expect((await s.away.log()).count).toBe(1);
  });
});
