import { waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import type { RoutingObject } from "../src/routing/object.ts";
import { ADMIN_HEADERS, counting, harness, ORIGIN_URL, ORIGIN_URL_B, requestPoints, scenario, uniqueOriginName } from "./helpers.ts";

/** The product's own refresh and sharing defaults instead of the harness's capture-everything ones. */
const PRODUCT_DEFAULTS = { LKG_REFRESH_MS: undefined, LKG_SHARED_MIN_REQUESTS: undefined, LKG_SHARED_WRITES_PER_SECOND: undefined, LKG_NEW_KEYS_PER_SECOND: undefined };

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

/**
 * A routing object namespace whose objects log every call and never answer (a stuck object). A
 * class, not an object literal: configuration reads a plain object under a ROUTING* name as a
 * TOML table setting, as it should, and a real binding is no plain object either.
 */
class HangingRouting {
  private readonly stub: object;
  constructor(calls: string[]) {
    this.stub = new Proxy(
      {},
      {
        get: (_t, prop) => {
          if (prop === "then") return undefined;
          return () => {
            calls.push(`ROUTING.${String(prop)}`);
            return new Promise(() => {});
          };
        },
      },
    );
  }
  idFromName(name: string): DurableObjectId {
    return { toString: () => name, name } as unknown as DurableObjectId;
  }
  get(): object {
    return this.stub;
  }
}

/** The real routing namespace, its objects' two RPC methods logged (an RPC stub's methods cannot go through `counting`: `.apply` on one is a remote call). */
class CountedRouting {
  private readonly calls: string[];
  constructor(calls: string[]) {
    this.calls = calls;
  }
  idFromName(name: string): DurableObjectId {
    return env.ROUTING_OBJECT.idFromName(name);
  }
  get(id: DurableObjectId): Pick<RoutingObject, "snapshot" | "apply"> {
    const stub = env.ROUTING_OBJECT.get(id);
    return {
      snapshot: () => {
        this.calls.push("ROUTING.snapshot");
        return stub.snapshot() as unknown as ReturnType<RoutingObject["snapshot"]>;
      },
      apply: (event) => {
        this.calls.push("ROUTING.apply");
        return stub.apply(event) as unknown as ReturnType<RoutingObject["apply"]>;
      },
    };
  }
}

/** Two healthy regions, both served by the fake origins, in failover mode with assignments. */
function twoRegionVars(overrides: Record<string, unknown>) {
  return {
    ORIGINS: JSON.stringify([
      { name: uniqueOriginName(), url: ORIGIN_URL, home: true },
      { name: uniqueOriginName(), url: ORIGIN_URL_B },
    ]),
    ROUTING: '{"mode":"failover"}',
    STICKY_SECRET: "a-test-sticky-secret-0123456789",
    ROUTING_SYNC_MS: "1000",
    ...overrides,
  };
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

  it("with the product defaults, an answer whose key was captured within LKG_REFRESH_MS is not captured: no tee, no store work, nothing after the answer", async () => {
    const { calls, cacheStorage, breaker, kv } = instrumented();
    const h = harness({ BREAKER: breaker, LKG_KV: kv, ...PRODUCT_DEFAULTS }, { caches: cacheStorage });
    const s = scenario("fresh");
    const first = await h.fetch(s.url("/a"));
    await first.text();
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    // One request is no demand yet: the copy stays in memory, the shared tiers are not written.
    expect(calls.filter((c) => c !== "caches.open")).toEqual([]);

    h.clock.advance(400);
    const { response, ctx } = await h.send(s.url("/a"));
    expect(response.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    expect(await response.text()).toContain('"seq":2');
    await waitOnExecutionContext(ctx);
    expect(calls).toEqual([]);
    h.clock.advance(300);
    await (await h.fetch(s.url("/a"))).text();
    const points = requestPoints(h.metrics);
    expect(points.map((p) => p.blobs?.[6])).toEqual(["stored", "skip:fresh", "skip:fresh"]);
    expect(calls).toEqual([]);

    // A second after the first capture the key is due again, and with four requests in the
    // window (LKG_SHARED_MIN_REQUESTS) it is in demand: both shared tiers are written.
    h.clock.advance(300);
    const third = await h.fetch(s.url("/a"));
    await third.text();
    expect(third.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(calls.filter((c) => c !== "caches.open").sort()).toEqual(["cache.put", "kv.put"]);

    // The copy served on failure is the one stored at 1 s, not the skipped one.
    await s.set({ mode: "status", status: 503 });
    h.clock.advance(200);
    const fallback = await h.fetch(s.url("/a"));
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await fallback.text()).toContain('"seq":4');
  });

  it("unchanged content is written to KV and the Cache API once, then again only before the copy there would age out", async () => {
    const { calls, cacheStorage, breaker, kv } = instrumented();
    const h = harness(
      { BREAKER: breaker, LKG_KV: kv, ...PRODUCT_DEFAULTS, LKG_VOLATILE_HEADERS: '["x-origin-served-at","x-origin-seq"]' },
      { caches: cacheStorage },
    );
    const s = scenario("unchanged");
    await s.set({ mode: "healthy", stableBody: true });
    // Four requests a second for 30 s: captured once a second, in demand throughout.
    for (let i = 0; i < 120; i++) {
      const res = await h.fetch(s.url("/same"));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      h.clock.advance(250);
    }
    // Written at 0 s (new), then once when the copy there reached 15-22.5 s (half to three
    // quarters of the 30 s cap); the next rewrite is due at 30 s or later.
    expect(calls.filter((c) => c === "kv.put")).toHaveLength(2);
    expect(calls.filter((c) => c === "cache.put")).toHaveLength(2);
    const res = await h.fetch(`https://edge.example.com/__edge/health`, { headers: ADMIN_HEADERS });
    const health = (await res.json()) as { lkg: { counters: { storeSkipped: Record<string, number>; stores: Record<string, number> } } };
    expect(health.lkg.counters.stores).toEqual({ memory: 30, cache: 2, kv: 2 });
    expect(health.lkg.counters.storeSkipped["fresh"]).toBe(90);
    expect(health.lkg.counters.storeSkipped["kv-unchanged"]).toBeGreaterThanOrEqual(20);
  });

  it("with the product defaults, an isolate writes each shared tier at most 10 times a second: a burst of keys coming into demand is spread out", async () => {
    const { calls, cacheStorage, breaker, kv } = instrumented();
    const h = harness({ BREAKER: breaker, LKG_KV: kv, ...PRODUCT_DEFAULTS, LKG_SHARED_MIN_REQUESTS: "1" }, { caches: cacheStorage });
    const s = scenario("budget");
    // 30 keys, each asked for once within the same second: all in demand, all new content.
    for (let i = 0; i < 30; i++) await (await h.fetch(s.url(`/b${i}`))).arrayBuffer();
    expect(calls.filter((c) => c === "kv.put")).toHaveLength(10);
    expect(calls.filter((c) => c === "cache.put")).toHaveLength(10);
    // A second later the budget is back; the 20 keys not written yet go out on their next capture, 10 more now.
    h.clock.advance(1000);
    for (let i = 0; i < 30; i++) await (await h.fetch(s.url(`/b${i}`))).arrayBuffer();
    expect(calls.filter((c) => c === "kv.put")).toHaveLength(20);
    const health = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as { lkg: { counters: { storeSkipped: Record<string, number> } } };
    // Refused for budget: 20 in the first second, then 10 of the 20 still unwritten.
    expect(health.lkg.counters.storeSkipped["kv-budget"]).toBe(30);
  });

  it("two regions: a healthy request never waits on the routing object, even one whose calls never resolve, and sends it at most one call per ROUTING_SYNC_MS", async () => {
    const calls: string[] = [];
    const { calls: bindingCalls, cacheStorage, breaker, kv } = instrumented();
    // A 3 s budget per object call: a request that waited on the object would take that long.
    const vars = { ROUTING_OBJECT: new HangingRouting(calls) as unknown as Env["ROUTING_OBJECT"], BREAKER: breaker, LKG_KV: kv, BREAKER_OBJECT_TIMEOUT_MS: "3000", ...PRODUCT_DEFAULTS };
    const h = harness(twoRegionVars(vars), { caches: cacheStorage });
    const s = scenario("hot-regions");
    const started = Date.now();
    const t0 = h.clock.t;
    const { response, ctx } = await h.send(s.url("/a"));
    expect(await response.text()).toContain('"seq":1');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(response.status).toBe(200);
    // The view's first read went out after the answer was ready, and is still unanswered.
    expect(calls).toEqual(["ROUTING.snapshot"]);
    expect(bindingCalls).toEqual([]);
    // 30 more over 3 s: the read still in flight is the only one (one call in flight at most).
    for (let i = 0; i < 30; i++) {
      h.clock.advance(100);
      const next = await h.send(s.url("/a"));
      expect(next.response.status).toBe(200);
      await next.response.arrayBuffer();
    }
    expect(Date.now() - started).toBeLessThan(2500);
    expect(calls).toEqual(["ROUTING.snapshot"]);
    expect(bindingCalls.filter((c) => c.startsWith("BREAKER"))).toEqual([]);
    // Its time budget (BREAKER_OBJECT_TIMEOUT_MS) ends it at 3 s; the view then leaves the object
    // alone for 5 s (until 8 s on the clock) and tries once more, again without anyone waiting.
    await waitOnExecutionContext(ctx);
    for (let i = 0; i < 60; i++) {
      h.clock.advance(100);
      const next = await h.send(s.url("/a"));
      expect(next.response.status).toBe(200);
      await next.response.arrayBuffer();
      expect(calls).toHaveLength(h.clock.t - t0 >= 8000 ? 2 : 1);
    }
  });

  it("two regions: with a working routing object, 50 healthy requests over 5 s read it once per ROUTING_SYNC_MS, after their answers, and send it nothing else", async () => {
    const calls: string[] = [];
    const h = harness(twoRegionVars({ ROUTING_OBJECT: new CountedRouting(calls) as unknown as Env["ROUTING_OBJECT"] }));
    const s = scenario("hot-regions-sync");
    for (let i = 0; i < 50; i++) {
      const { response, ctx } = await h.send(s.url("/b"));
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      await waitOnExecutionContext(ctx);
      h.clock.advance(100);
    }
    // Reads at 0, 1, 2, 3 and 4 s, and no other call.
    expect(calls).toEqual(Array(5).fill("ROUTING.snapshot"));
  });
});
