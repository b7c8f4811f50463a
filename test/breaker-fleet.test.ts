import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import { ADMIN_HEADERS, FakeClock, harness, requestPoints, scenario, uniqueOriginName, unreachableBreaker } from "./helpers.ts";

// wrangler.toml: threshold 5, open 5000 ms doubling; vitest.config.ts: origin timeout 1000 ms.

describe("breaker in front of the origin", () => {
  it("trips after 5 consecutive 502s; while open the origin receives only the half-open probe", async () => {
    const h = harness();
    await h.object();
    const s = scenario("trip");
    expect((await h.fetch(s.url("/p"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    for (let i = 0; i < 5; i++) {
      const res = await h.fetch(s.url("/p"));
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    }
    expect((await s.log()).count).toBe(6);
    for (let i = 0; i < 20; i++) {
      const res = await h.fetch(s.url("/p"));
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
      h.clock.advance(200);
    }
    // 4 s of fake time later the breaker is still open: not one more request reached the origin.
    expect((await s.log()).count).toBe(6);
    expect((await (await h.object()).snapshot(h.originName)).state.kind).toBe("open");

    h.clock.advance(1000); // 5 s after opening: one probe, which fails and re-opens for 10 s.
    for (let i = 0; i < 5; i++) expect((await h.fetch(s.url("/p"))).status).toBe(200);
    expect((await s.log()).count).toBe(7);
    const reopened = (await (await h.object()).snapshot(h.originName)).state;
    expect(reopened).toMatchObject({ kind: "open", attempt: 2 });
    expect(reopened.kind === "open" && reopened.until - reopened.openedAt).toBe(10_000);
  });

  it("requests waiting on a hung origin are answered the moment the breaker opens: the copy, or a fast 503, not the timeout", async () => {
    // The copy budget would answer the request with a copy at 35 ms, before the breaker opens
    // (test/copy-budget.test.ts); this is about the release when it opens.
    const h = harness({ ORIGIN_COPY_BUDGET_MS: "off" });
    await h.object();
    const hung = scenario("hung");
    const failing = scenario("failing");
    expect((await h.fetch(hung.url("/with-copy"))).status).toBe(200);
    await hung.set({ mode: "blackhole" });
    // Two requests stuck on the hung origin (ORIGIN_TIMEOUT_MS is 1000 ms here): one key has a copy, one has none.
    const started = Date.now();
    const waiting = [h.send(hung.url("/with-copy")), h.send(hung.url("/no-copy")), h.send(hung.url("/post"), { method: "POST", body: "{}" })];
    await new Promise((r) => setTimeout(r, 50));
    // Meanwhile five fast 502s from the same origin open its breaker.
    await failing.set({ mode: "status", status: 502 });
    for (let i = 0; i < 5; i++) expect((await h.fetch(failing.url("/x"))).status).toBe(502);
    const [withCopy, noCopy, post] = await Promise.all(waiting);
    expect(Date.now() - started).toBeLessThan(700);
    expect(withCopy!.response.status).toBe(200);
    expect(withCopy!.response.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
    for (const { response } of [noCopy!, post!]) {
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
      expect(await response.json()).toMatchObject({ cause: "breaker-open" });
    }
    // The breaker heard nothing from the released requests: it was already open.
    const released = requestPoints(h.metrics).filter((p) => p.blobs?.[2] === "breaker_open");
    expect(released.map((p) => [p.blobs?.[1], p.blobs?.[12]]).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([
      ["lkg_served", ""],
      ["no_lkg", ""],
      ["no_lkg", ""],
    ]);
  });

  it("a successful probe closes the breaker and traffic flows again", async () => {
    const h = harness();
    await h.object();
    const s = scenario("close");
    await s.set({ mode: "status", status: 503 });
    for (let i = 0; i < 5; i++) expect((await h.fetch(s.url("/x"))).status).toBe(503);
    const rejected = await h.fetch(s.url("/x"));
    expect(rejected.status).toBe(503);
    expect(rejected.headers.get("retry-after")).toBe("5");
    expect(await rejected.json()).toMatchObject({ error: "origin unavailable", cause: "breaker-open" });
    expect((await s.log()).count).toBe(5);

    await s.set({ mode: "healthy" });
    h.clock.advance(5000);
    const probe = await h.fetch(s.url("/x"));
    expect(probe.status).toBe(200);
    expect((await (await h.object()).snapshot(h.originName)).state).toEqual({ kind: "closed", failures: 0 });
    for (let i = 0; i < 3; i++) expect((await h.fetch(s.url("/x"))).status).toBe(200);
    expect((await s.log()).count).toBe(9);
  });

  it("sends exactly one probe fleet-wide when two isolates reach the end of the open period together", async () => {
    const clock = new FakeClock();
    const originName = uniqueOriginName();
    const a = harness({}, { clock, originName });
    const b = harness({}, { clock, originName });
    await a.object();
    const s = scenario("fleet");
    await s.set({ mode: "status", status: 502 });
    for (let i = 0; i < 5; i++) await a.fetch(s.url("/f"));
    // Isolate b has seen nothing yet. It keeps its first two failures to itself (a blip, as far
    // as it knows); reporting the third teaches it the fleet's state.
    for (let i = 0; i < 3; i++) expect((await b.fetch(s.url("/f"))).status).toBe(502);
    expect((await b.fetch(s.url("/f"))).status).toBe(503);
    expect((await s.log()).count).toBe(8);

    clock.advance(5000);
    const answers = await Promise.all([
      ...Array.from({ length: 10 }, () => a.fetch(s.url("/f"))),
      ...Array.from({ length: 10 }, () => b.fetch(s.url("/f"))),
    ]);
    expect((await s.log()).count).toBe(9);
    // The probe's own answer is the origin's 502 (no copy exists); everyone else gets a fast 503.
    expect(answers.map((r) => r.status).sort((x, y) => x - y)).toEqual([502, ...Array<number>(19).fill(503)]);
  });

  it("answers correctly when the breaker object is unreachable, tripping the isolate's own breaker", async () => {
    const h = harness({ BREAKER: unreachableBreaker() });
    const s = scenario("nodo");
    const first = await h.fetch(s.url("/d"));
    expect(first.status).toBe(200);
    await s.set({ mode: "status", status: 500 });
    for (let i = 0; i < 5; i++) {
      const res = await h.fetch(s.url("/d"));
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    }
    for (let i = 0; i < 10; i++) {
      expect((await h.fetch(s.url("/d"))).headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
    }
    expect((await s.log()).count).toBe(6);
    // The isolate reports its own transition, since no object speaks for the fleet.
    const transitions = h.metrics.points.filter((p) => p.blobs?.[0] === "breaker");
    expect(transitions.map((p) => p.blobs?.slice(1, 5))).toEqual([["closed", "open", "failure", "isolate"]]);

    await s.set({ mode: "healthy" });
    h.clock.advance(5000);
    expect((await h.fetch(s.url("/d"))).headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect((await s.log()).count).toBe(7);
  });

  it("a breaker object that never answers costs a request at most the object time budget", async () => {
    const hanging = {
      idFromName: (name: string) => name,
      get: () => new Proxy({}, { get: (_t, p) => (p === "then" ? undefined : () => new Promise(() => {})) }),
    } as unknown as Env["BREAKER"];
    const h = harness({ BREAKER: hanging, BREAKER_OBJECT_TIMEOUT_MS: "100" });
    const s = scenario("slowdo");
    await h.fetch(s.url("/h"));
    await s.set({ mode: "status", status: 502 });
    for (let i = 0; i < 5; i++) await h.fetch(s.url("/h"));
    h.clock.advance(5000);
    const started = Date.now();
    const res = await h.fetch(s.url("/h"));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
  });
});

describe("probe lease requests", () => {
  it("an isolate asks the object for the probe once, however many requests arrive as the open period ends", async () => {
    const h = harness();
    const stub = await h.object();
    const s = scenario("herd");
    await h.fetch(s.url("/h"));
    await s.set({ mode: "status", status: 502 });
    for (let i = 0; i < 5; i++) await h.fetch(s.url("/h"));
    const before = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as { origins: { breaker: { objectCalls: { acquireProbe: number } } }[] };
    expect(before.origins[0]!.breaker.objectCalls.acquireProbe).toBe(0);
    h.clock.advance(5000);
    const answers = await Promise.all(Array.from({ length: 30 }, () => h.fetch(s.url("/h"))));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    const after = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as typeof before;
    expect(after.origins[0]!.breaker.objectCalls.acquireProbe).toBe(1);
    expect((await s.log()).count).toBe(7);
    expect((await stub.snapshot(h.originName)).state).toMatchObject({ kind: "open", attempt: 2 });
  });
});
