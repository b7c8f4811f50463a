/**
 * Each isolate stores at most LKG_NEW_KEYS_PER_SECOND (50) keys it holds no copy of yet, per
 * second, in any tier: a stream of unique URLs costs at most that many captures, memory entries and
 * shared writes a second. Keys already stored refresh as before.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, harness, requestPoints, scenario } from "./helpers.ts";

/** The product's default for this knob; the harness's permissive value would store every key. */
const DEFAULT_BUDGET = { LKG_NEW_KEYS_PER_SECOND: undefined };

async function storeSkipped(h: ReturnType<typeof harness>): Promise<Record<string, number>> {
  const health = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as { lkg: { counters: { storeSkipped: Record<string, number> } } };
  return health.lkg.counters.storeSkipped;
}

describe("the new-key budget (LKG_NEW_KEYS_PER_SECOND, default 50)", () => {
  it("stores 50 new keys within a second, not the 51st (skip:new-key-budget); an already stored key still refreshes", async () => {
    const h = harness(DEFAULT_BUDGET);
    const s = scenario("newkeys");
    for (let i = 0; i < 51; i++) await (await h.fetch(s.url(`/u${i}`))).arrayBuffer();
    const last = await h.fetch(s.url("/u51"));
    expect(last.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await last.arrayBuffer();
    const stores = requestPoints(h.metrics).map((p) => p.blobs?.[6]);
    expect(stores.slice(0, 50)).toEqual(Array(50).fill("stored"));
    expect(stores.slice(50)).toEqual(["skip:new-key-budget", "skip:new-key-budget"]);

    // Same second, a key stored already: refreshed, budget or not.
    const again = await h.fetch(s.url("/u7"));
    expect(again.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(await again.json()).toMatchObject({ seq: 53 });
    expect(requestPoints(h.metrics).at(-1)?.blobs?.[6]).toBe("stored");
    // The refresh went to memory; the shared tiers wrote /u7 a moment ago (their per-key interval).
    expect(await storeSkipped(h)).toEqual({ "new-key-budget": 2, "cache-throttled": 1, "kv-throttled": 1 });

    await s.set({ mode: "status", status: 502 });
    const refreshed = await h.fetch(s.url("/u7"));
    expect(refreshed.status).toBe(200);
    expect(await refreshed.json()).toMatchObject({ seq: 53 });
    expect((await h.fetch(s.url("/u49"))).status).toBe(200);
    const refused = await h.fetch(s.url("/u50"));
    expect(refused.status).toBe(502);
    expect(requestPoints(h.metrics).at(-1)?.blobs?.[5]).toBe("miss");
  });

  it("a key refused for budget is stored on its next answer once the budget has refilled", async () => {
    const h = harness({ ...DEFAULT_BUDGET, LKG_NEW_KEYS_PER_SECOND: "2" });
    const s = scenario("newkeys-refill");
    for (const path of ["/a", "/b", "/c"]) await (await h.fetch(s.url(path))).arrayBuffer();
    expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["stored", "stored", "skip:new-key-budget"]);
    h.clock.advance(499);
    await (await h.fetch(s.url("/c"))).arrayBuffer();
    h.clock.advance(1);
    await (await h.fetch(s.url("/c"))).arrayBuffer();
    // 2 a second: one token back after 500 ms.
    expect(requestPoints(h.metrics).map((p) => p.blobs?.[6]).slice(3)).toEqual(["skip:new-key-budget", "stored"]);
    await s.set({ mode: "status", status: 502 });
    const fallback = await h.fetch(s.url("/c"));
    expect(fallback.status).toBe(200);
    expect(await fallback.json()).toMatchObject({ seq: 5 });
  });

  it("with every product default, refreshing an already stored key (once a second) takes nothing from the budget", async () => {
    const h = harness({ LKG_REFRESH_MS: undefined, LKG_SHARED_MIN_REQUESTS: undefined, LKG_SHARED_WRITES_PER_SECOND: undefined, LKG_NEW_KEYS_PER_SECOND: "1" });
    const s = scenario("newkeys-refresh");
    await (await h.fetch(s.url("/hot"))).arrayBuffer();
    await (await h.fetch(s.url("/new"))).arrayBuffer();
    h.clock.advance(1000);
    // One token is back: /hot's refresh does not take it, so /new, asked right after, gets it.
    await (await h.fetch(s.url("/hot"))).arrayBuffer();
    await (await h.fetch(s.url("/new"))).arrayBuffer();
    expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["stored", "skip:new-key-budget", "stored", "stored"]);
  });
});
