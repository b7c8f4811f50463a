import { describe, expect, it } from "vitest";
import { requestPoints, unreachableBreaker } from "./helpers.ts";
import { lastRouted, pair, routed, twoRegions } from "./regions-helpers.ts";

// retry_budget {ratio 0.2, min_per_second 3}: a retry goes while retries in the last second stay
// below max(3, 0.2 x requests). For a burst of 20 failing GETs in one second that is the 1st, 2nd
// and 3rd (under the floor of 3) and the 16th (0.2 x 16 = 3.2 > 3 retries), and no other.
// Neither hysteresis nor the breaker may move home meanwhile: down and the threshold are high, and
// the breaker object (which reads the pool's threshold, not the harness's) is out of reach, so
// the isolate's own breaker decides.

describe("the retry budget", () => {
  it("a burst of 20 failing GETs in one second fails over exactly 4 of them; the other 16 get the copy", async () => {
    const { h, home, away } = twoRegions({
      routing: { retry_budget: { ratio: 0.2, min_per_second: 3 }, down: 100, stick_seconds: 0 },
      vars: { BREAKER_FAILURE_THRESHOLD: "1000", BREAKER: unreachableBreaker() },
    });
    const s = pair("rb-burst");
    await (await h.fetch(s.url("/b"))).text();
    // Two seconds on: the priming request is out of the budget's window.
    h.clock.advance(2000);
    await s.home.set({ mode: "status", status: 502 });
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await h.fetch(s.url("/b"));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const copy = res.headers.get("cache-status") === "edge-fallback; hit; detail=stale-origin-5xx";
      answers.push(res.headers.get("x-edge-region") ?? (copy ? "copy" : "?"));
    }
    const failedOver = answers.flatMap((a, i) => (a === away ? [i + 1] : []));
    expect(failedOver).toEqual([1, 2, 3, 16]);
    expect(answers.filter((a) => a === "copy")).toHaveLength(16);
    const burst = requestPoints(h.metrics).slice(1).map(routed);
    expect(burst[0]).toEqual({ answered: away, from: home, reason: "failover", ramp: 100, tried: 2 });
    expect(burst[3]).toEqual({ answered: "", from: "", reason: "failover", ramp: 0, tried: 1 });
    expect((await s.away.log()).count).toBe(4);
    expect((await s.home.log()).count).toBe(21);
  });

  it("once the burst's second has passed, the budget is back", async () => {
    const { h, away } = twoRegions({
      routing: { retry_budget: { ratio: 0.2, min_per_second: 3 }, down: 100, stick_seconds: 0 },
      vars: { BREAKER_FAILURE_THRESHOLD: "1000", BREAKER: unreachableBreaker() },
    });
    const s = pair("rb-back");
    await s.home.set({ mode: "status", status: 502 });
    for (let i = 0; i < 5; i++) await (await h.fetch(s.url("/k"))).arrayBuffer();
    expect(lastRouted(h.metrics).answered).toBe("");
    h.clock.advance(2000);
    const res = await h.fetch(s.url("/k"));
    expect(res.headers.get("x-edge-region")).toBe(away);
    expect(lastRouted(h.metrics).tried).toBe(2);
  });
});
