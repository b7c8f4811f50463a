import { waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { counting, harness, scenario } from "./helpers.ts";

/** Bindings that log every call, so the test can tell what a request waited on. */
function instrumented() {
  const calls: string[] = [];
  const cacheStorage = {
    open: async (name: string) => {
      calls.push("caches.open");
      return counting(await caches.open(name), calls, "cache");
    },
  } as unknown as CacheStorage;
  const breaker = counting(env.BREAKER, calls, "BREAKER");
  const kv = counting(env.LKG_KV!, calls, "kv");
  return { calls, cacheStorage, breaker, kv };
}

describe("hot path", () => {
  it("a healthy request awaits no Durable Object, KV or Cache API call; stores happen after the answer", async () => {
    const { calls, cacheStorage, breaker, kv } = instrumented();
    const h = harness({ BREAKER: breaker, LKG_KV: kv }, { caches: cacheStorage });
    const s = scenario("hot");
    const { response, ctx } = await h.send(s.url("/a"));
    expect(response.status).toBe(200);
    // By the time the answer is ready, nothing has been read or called.
    expect(calls).toEqual([]);
    await response.text();
    await waitOnExecutionContext(ctx);
    // Afterwards: only background writes, no reads, and not a word to the breaker object.
    expect(calls.filter((c) => c !== "caches.open").sort()).toEqual(["cache.put", "kv.put"]);
  });

  it("100 healthy requests send the breaker object nothing, read no tier, and write each tier at most once per interval per key", async () => {
    const { calls, cacheStorage, breaker, kv } = instrumented();
    const h = harness({ BREAKER: breaker, LKG_KV: kv }, { caches: cacheStorage });
    const s = scenario("hot100");
    for (let i = 0; i < 100; i++) {
      const res = await h.fetch(s.url(`/k${i % 10}`));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      h.clock.advance(50);
    }
    expect(calls.filter((c) => c.startsWith("BREAKER"))).toEqual([]);
    expect(calls.filter((c) => c === "cache.match" || c === "kv.get" || c === "kv.getWithMetadata")).toEqual([]);
    // Each key is hit every 0.5 s for 5 s. KV writes are throttled per key to one per 2 s (written
    // at 0, 2, 4 s), Cache API writes to one per 1 s (0, 1, 2, 3, 4 s); memory takes every answer.
    expect(calls.filter((c) => c === "kv.put")).toHaveLength(30);
    expect(calls.filter((c) => c === "cache.put")).toHaveLength(50);
    expect((await s.log()).count).toBe(100);
  });
});
