import { describe, expect, it } from "vitest";
import pkg from "../package.json" with { type: "json" };
import { ADMIN_HEADERS, ADMIN_TOKEN as TOKEN, harness, ORIGIN_URL, scenario, unreachableBreaker, type Harness } from "./helpers.ts";

const ROUTES = [
  "GET /__edge/health",
  "POST /__edge/admin/breakers/:origin/(open|close|reset)",
  "GET /__edge/admin/regions",
  "POST /__edge/admin/regions/:region/(evacuate|drain|shed|restore)",
  "GET /__edge/admin/writes",
  "POST /__edge/admin/writes/(promote|freeze|unfreeze)",
  "GET /__edge/admin/writes/dead",
  "POST /__edge/admin/writes/dead/replay",
  "GET /__edge/writes/:id",
];
const CLOSED = { kind: "closed", failures: 0 };

interface Health {
  status: string;
  version: string;
  configDigest: string;
  origins: {
    name: string;
    url: string;
    weight: number;
    routed: boolean;
    breaker: {
      isolate: Record<string, unknown>;
      object: Record<string, unknown>;
      objectCalls: { snapshot: number; report: number; acquireProbe: number; errors: number };
      lastObjectError: string | null;
    };
  }[];
  lkg: {
    tiers: string[];
    maxAgeSeconds: number;
    memory: { entries: number; bytes: number; maxBytes: number } | null;
    counters: {
      lookups: number;
      hits: Record<string, number>;
      misses: number;
      expired: number;
      notAcceptable: number;
      stores: Record<string, number>;
      storeSkipped: Record<string, number>;
      errors: Record<string, number>;
    };
  };
}

interface OpenState {
  kind: "open";
  openedAt: number;
  until: number;
  attempt: number;
}

/** The full health page, read with the admin token. */
async function health(h: Harness): Promise<Health> {
  const res = await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Health;
}

function admin(h: Harness, action: string, options: { origin?: string; authorization?: string | null } = {}): Promise<Response> {
  const origin = options.origin ?? h.originName;
  const authorization = options.authorization === undefined ? `Bearer ${TOKEN}` : options.authorization;
  const headers: Record<string, string> = authorization === null ? {} : { authorization };
  return h.fetch(`https://edge.example.com/__edge/admin/breakers/${origin}/${action}`, { method: "POST", headers });
}

/** A harness whose breaker object reads the harness's fake clock, so forced states carry exact times. */
async function sharedClockHarness(overrides: Partial<Record<string, unknown>> = {}): Promise<Harness> {
  const h = harness(overrides);
  await h.object();
  return h;
}

async function forceOpen(h: Harness): Promise<OpenState> {
  const res = await admin(h, "open");
  expect(res.status).toBe(200);
  const body = (await res.json()) as { origin: string; action: string; state: OpenState };
  expect(body).toEqual({
    origin: h.originName,
    action: "open",
    state: { kind: "open", openedAt: h.clock.t, until: h.clock.t + 5000, attempt: 1 },
  });
  return body.state;
}

describe("GET /__edge/health", () => {
  it("answers 200 JSON with version, config digest, both breaker views and LKG tiers on a fresh worker", async () => {
    const h = harness();
    const body = await health(h);
    expect(body).toEqual({
      status: "ok",
      writes: null,
      version: pkg.version,
      configDigest: expect.stringMatching(/^[0-9a-f]{16}$/),
      origins: [
        {
          name: h.originName,
          url: `${ORIGIN_URL}/`,
          weight: 1,
          routed: true,
          breaker: {
            isolate: CLOSED,
            object: CLOSED,
            objectCalls: { snapshot: 0, report: 0, acquireProbe: 0, errors: 0 },
            lastObjectError: null,
          },
        },
      ],
      lkg: {
        tiers: ["memory", "cache", "kv"],
        maxAgeSeconds: 30,
        memory: { entries: 0, bytes: 0, maxBytes: 32 * 1024 * 1024 },
        counters: {
          lookups: 0,
          hits: { memory: 0, cache: 0, kv: 0 },
          misses: 0,
          expired: 0,
          notAcceptable: 0,
          stores: { memory: 0, cache: 0, kv: 0 },
          storeSkipped: {},
          errors: { memory: 0, cache: 0, kv: 0 },
        },
      },
    });
  });

  it("keeps the config digest stable for the same vars and changes it when one var changes", async () => {
    const origins = JSON.stringify([{ name: "digest-origin", url: ORIGIN_URL, weight: 1 }]);
    const a = await health(harness({ ORIGINS: origins }));
    const b = await health(harness({ ORIGINS: origins }));
    const c = await health(harness({ ORIGINS: origins, BREAKER_OPEN_MS: "7000" }));
    const d = await health(harness({ ORIGINS: origins, LKG_MAX_AGE_SECONDS: "20" }));
    expect(a.configDigest).toMatch(/^[0-9a-f]{16}$/);
    expect(b.configDigest).toBe(a.configDigest);
    expect(c.configDigest).toMatch(/^[0-9a-f]{16}$/);
    expect(c.configDigest).not.toBe(a.configDigest);
    expect(d.configDigest).not.toBe(a.configDigest);
    expect(d.configDigest).not.toBe(c.configDigest);
    expect(d.lkg.maxAgeSeconds).toBe(20);
  });

  it("keeps one or two failures in the isolate; the third in a row reaches the object as a run of three", async () => {
    const h = harness();
    const s = scenario("health-fail");
    await s.set({ mode: "status", status: 502 });
    for (let i = 0; i < 2; i++) expect((await h.fetch(s.url("/x"))).status).toBe(502);
    expect((await health(h)).origins[0]!.breaker).toEqual({
      isolate: { kind: "closed", failures: 2 },
      object: { kind: "closed", failures: 0 },
      objectCalls: { snapshot: 0, report: 0, acquireProbe: 0, errors: 0 },
      lastObjectError: null,
    });
    expect((await h.fetch(s.url("/x"))).status).toBe(502);
    expect((await health(h)).origins[0]!.breaker).toEqual({
      isolate: { kind: "closed", failures: 3 },
      object: { kind: "closed", failures: 3 },
      objectCalls: { snapshot: 0, report: 1, acquireProbe: 0, errors: 0 },
      lastObjectError: null,
    });
  });

  it("a blip of two failures followed by a success never reaches the object", async () => {
    const h = harness();
    const s = scenario("health-blip");
    await s.set({ mode: "status", status: 503 });
    for (let i = 0; i < 2; i++) expect((await h.fetch(s.url("/b"))).status).toBe(503);
    await s.set({ mode: "healthy" });
    for (let i = 0; i < 3; i++) expect((await h.fetch(s.url("/b"))).status).toBe(200);
    expect((await health(h)).origins[0]!.breaker).toEqual({
      isolate: { kind: "closed", failures: 0 },
      object: { kind: "closed", failures: 0 },
      objectCalls: { snapshot: 0, report: 0, acquireProbe: 0, errors: 0 },
      lastObjectError: null,
    });
  });

  it("healthy requests send the breaker object nothing", async () => {
    const h = harness();
    const s = scenario("health-quiet");
    for (const path of ["/a", "/b", "/a"]) expect((await h.fetch(s.url(path))).status).toBe(200);
    const body = await health(h);
    expect(body.origins[0]!.breaker.objectCalls).toEqual({ snapshot: 0, report: 0, acquireProbe: 0, errors: 0 });
  });

  it("counts LKG stores in every tier and a memory-tier hit after a store and a fallback", async () => {
    const h = harness();
    const s = scenario("health-lkg");
    expect((await h.fetch(s.url("/page"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(3_000);
    const fallback = await h.fetch(s.url("/page"));
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");

    const body = await health(h);
    expect(body.lkg.counters).toEqual({
      lookups: 1,
      hits: { memory: 1, cache: 0, kv: 0 },
      misses: 0,
      expired: 0,
      notAcceptable: 0,
      stores: { memory: 1, cache: 1, kv: 1 },
      storeSkipped: {},
      errors: { memory: 0, cache: 0, kv: 0 },
    });
    expect(body.lkg.memory).toEqual({ entries: 1, bytes: expect.any(Number), maxBytes: 32 * 1024 * 1024 });
    expect(body.lkg.memory!.bytes).toBeGreaterThan(0);
  });

  it("counts a miss and a skipped store (private answer) in the LKG counters", async () => {
    const h = harness();
    const s = scenario("health-skip");
    await s.set({ mode: "healthy", headers: { "cache-control": "private" } });
    expect((await h.fetch(s.url("/p"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    expect((await h.fetch(s.url("/p"))).status).toBe(502);
    const { counters } = (await health(h)).lkg;
    expect(counters.storeSkipped).toEqual({ private: 1 });
    expect(counters.stores).toEqual({ memory: 0, cache: 0, kv: 0 });
    expect(counters.lookups).toBe(1);
    expect(counters.misses).toBe(1);
  });

  it("still answers 200 with the object's error when the BREAKER binding is unreachable", async () => {
    const h = harness({ BREAKER: unreachableBreaker() });
    const body = await health(h);
    expect(body.status).toBe("ok");
    expect(body.origins[0]!.breaker).toEqual({
      isolate: CLOSED,
      object: { error: "Durable Object is unreachable (test)" },
      objectCalls: { snapshot: 0, report: 0, acquireProbe: 0, errors: 0 },
      lastObjectError: null,
    });
  });

  it("shows the isolate's last object error after a failed report to an unreachable object", async () => {
    const h = harness({ BREAKER: unreachableBreaker() });
    const s = scenario("health-objerr");
    await s.set({ mode: "status", status: 503 });
    for (let i = 0; i < 3; i++) expect((await h.fetch(s.url("/x"))).status).toBe(503);
    const body = await health(h);
    expect(body.origins[0]!.breaker).toEqual({
      isolate: { kind: "closed", failures: 3 },
      object: { error: "Durable Object is unreachable (test)" },
      objectCalls: { snapshot: 0, report: 1, acquireProbe: 0, errors: 1 },
      lastObjectError: "Error: Durable Object is unreachable (test)",
    });
  });
});

describe("POST /__edge/admin/breakers/:origin/:action", () => {
  it("refuses with 403 and changes nothing when no ADMIN_TOKEN is configured, even with a bearer token", async () => {
    const h = harness({ ADMIN_TOKEN: undefined });
    const s = scenario("admin-disabled");
    const res = await admin(h, "open");
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ error: "admin routes are disabled: set a secret with `wrangler secret put ADMIN_TOKEN`" });

    // Without a secret only the public page answers; it shows the breaker still closed.
    const page = await h.fetch("https://edge.example.com/__edge/health");
    expect(await page.json()).toEqual({ status: "ok", version: pkg.version, origins: [{ name: h.originName, breaker: "closed" }] });
    expect((await h.fetch(s.url("/"))).status).toBe(200);
    expect((await s.log()).count).toBe(1);
  });

  it("answers 401 with WWW-Authenticate when the bearer token is missing, and changes nothing", async () => {
    const h = harness();
    for (const authorization of [null, "", `Basic ${btoa(`admin:${TOKEN}`)}`, TOKEN]) {
      const res = await admin(h, "open", { authorization });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edge-fallback admin"');
      expect(await res.json()).toEqual({ error: "missing bearer token" });
    }
    const body = await health(h);
    expect(body.origins[0]!.breaker.isolate).toEqual(CLOSED);
    expect(body.origins[0]!.breaker.object).toEqual(CLOSED);
  });

  it("answers 401 with WWW-Authenticate for a wrong bearer token, and changes nothing", async () => {
    const h = harness();
    const s = scenario("admin-wrong");
    for (const authorization of ["Bearer wrong", `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, "Bearer TEST-ADMIN-SECRET"]) {
      const res = await admin(h, "open", { authorization });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edge-fallback admin"');
      expect(await res.json()).toEqual({ error: "wrong bearer token" });
    }
    const body = await health(h);
    expect(body.origins[0]!.breaker.isolate).toEqual(CLOSED);
    expect(body.origins[0]!.breaker.object).toEqual(CLOSED);
    expect((await h.fetch(s.url("/"))).status).toBe(200);
    expect((await s.log()).count).toBe(1);
  });

  it("accepts the right token (case-insensitive scheme) and answers 200 JSON with the new state, mirrored in isolate and object", async () => {
    const h = await sharedClockHarness();
    const opened = await forceOpen(h);
    const body = await health(h);
    expect(body.origins[0]!.breaker.isolate).toEqual(opened);
    expect(body.origins[0]!.breaker.object).toEqual(opened);

    const closed = await admin(h, "close", { authorization: `bearer ${TOKEN}` });
    expect(closed.status).toBe(200);
    expect(closed.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await closed.json()).toEqual({ origin: h.originName, action: "close", state: CLOSED });
    const after = await health(h);
    expect(after.origins[0]!.breaker.isolate).toEqual(CLOSED);
    expect(after.origins[0]!.breaker.object).toEqual(CLOSED);
  });

  it("reset clears counted failures in both isolate and object", async () => {
    const h = harness();
    const s = scenario("admin-reset");
    await s.set({ mode: "status", status: 500 });
    for (let i = 0; i < 3; i++) expect((await h.fetch(s.url("/"))).status).toBe(500);
    expect((await health(h)).origins[0]!.breaker.object).toEqual({ kind: "closed", failures: 3 });

    const res = await admin(h, "reset");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ origin: h.originName, action: "reset", state: CLOSED });
    const body = await health(h);
    expect(body.origins[0]!.breaker.isolate).toEqual(CLOSED);
    expect(body.origins[0]!.breaker.object).toEqual(CLOSED);
  });

  it("force open serves the LKG copy without the origin receiving the request", async () => {
    const h = await sharedClockHarness();
    const s = scenario("admin-open-lkg");
    const first = await h.fetch(s.url("/page"));
    expect(first.status).toBe(200);
    const original = (await first.json()) as { seq: number };
    expect((await s.log()).count).toBe(1);

    await forceOpen(h);
    h.clock.advance(2_000);
    const res = await h.fetch(s.url("/page"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-breaker-open");
    expect(res.headers.get("age")).toBe("2");
    expect(await res.json()).toMatchObject({ seq: original.seq, scenario: s.id });
    expect((await s.log()).count).toBe(1);
  });

  it("force open without a copy answers 503 with Retry-After without the origin receiving the request", async () => {
    const h = await sharedClockHarness();
    const s = scenario("admin-open-503");
    await forceOpen(h);
    h.clock.advance(1_500);
    const res = await h.fetch(s.url("/nothing-stored"));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("4");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; detail=breaker-open-no-lkg");
    expect(await res.json()).toEqual({
      error: "origin unavailable",
      cause: "breaker-open",
      detail: `circuit breaker for origin ${h.originName} is open`,
      retryAfterSeconds: 4,
    });
    expect((await s.log()).count).toBe(0);
  });

  it("force close after force open resumes proxying to the origin", async () => {
    const h = await sharedClockHarness();
    const s = scenario("admin-close");
    await forceOpen(h);
    expect((await h.fetch(s.url("/r"))).status).toBe(503);
    expect((await s.log()).count).toBe(0);

    const res = await admin(h, "close");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ origin: h.originName, action: "close", state: CLOSED });
    const proxied = await h.fetch(s.url("/r"));
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(await proxied.json()).toMatchObject({ scenario: s.id, path: `/s/${s.id}/r`, seq: 1 });
    expect((await s.log()).count).toBe(1);
  });

  it("answers 404 naming the known origins for an unknown origin", async () => {
    const h = harness();
    const res = await admin(h, "open", { origin: "nope" });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'unknown origin "nope"', origins: [h.originName] });
  });

  it("checks the token before revealing whether an origin exists", async () => {
    const h = harness();
    const res = await admin(h, "open", { origin: "nope", authorization: "Bearer wrong" });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "wrong bearer token" });
  });

  it("answers 400 for an unknown action and changes nothing", async () => {
    const h = harness();
    const res = await admin(h, "explode");
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'unknown action "explode": use open, close or reset' });
    expect((await health(h)).origins[0]!.breaker.object).toEqual(CLOSED);
  });

  it("answers 503 and leaves the isolate alone when the breaker object is unreachable", async () => {
    const h = harness({ BREAKER: unreachableBreaker() });
    const res = await admin(h, "open");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: "breaker object unreachable; nothing was changed",
      detail: "Durable Object is unreachable (test)",
    });
    expect((await health(h)).origins[0]!.breaker.isolate).toEqual(CLOSED);
  });

  it("answers 404 JSON listing the edge routes for an unknown /__edge/ path or a wrong method", async () => {
    const h = harness();
    const unknown = await h.fetch("https://edge.example.com/__edge/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await unknown.json()).toEqual({ error: "no such edge route GET /__edge/nope", routes: ROUTES });

    const wrongMethod = await h.fetch(`https://edge.example.com/__edge/admin/breakers/${h.originName}/open`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(wrongMethod.status).toBe(404);
    expect(await wrongMethod.json()).toEqual({ error: `no such edge route GET /__edge/admin/breakers/${h.originName}/open`, routes: ROUTES });
    expect((await health(h)).origins[0]!.breaker.object).toEqual(CLOSED);
  });
});

describe("refused requests", () => {
  it("answers TRACE with 405 and Allow, without contacting the origin", async () => {
    const h = harness();
    const s = scenario("refuse-trace");
    const res = await h.fetch(s.url("/"), { method: "TRACE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    expect(await res.json()).toEqual({ error: "method TRACE is not proxied" });
    expect((await s.log()).count).toBe(0);
  });

  it("answers 508 when CDN-Loop already names edge-fallback, without contacting the origin", async () => {
    const h = harness();
    const s = scenario("refuse-loop");
    for (const loop of ["edge-fallback", "cdn.example, edge-fallback", "other;v=1, edge-fallback; v=2"]) {
      const res = await h.fetch(s.url("/"), { headers: { "cdn-loop": loop } });
      expect(res.status).toBe(508);
      expect(await res.json()).toEqual({ error: "request loop: it already passed through this worker; ORIGINS must not point back at the worker" });
    }
    expect((await s.log()).count).toBe(0);
  });

  it("proxies a request whose CDN-Loop names only other CDNs, and appends edge-fallback", async () => {
    const h = harness();
    const s = scenario("loop-other");
    const res = await h.fetch(s.url("/"), { headers: { "cdn-loop": "cloudflare, edge-fallback-staging" } });
    expect(res.status).toBe(200);
    const log = await s.log();
    expect(log.count).toBe(1);
    expect(log.requests[0]!.headers["cdn-loop"]).toBe("cloudflare, edge-fallback-staging, edge-fallback");
  });

  // workerd's Request constructor accepts Content-Length "abc", so in this harness the request reaches
  // the app and its own check answers. A real HTTP listener would likely reject it before the worker runs.
  it("answers 400 for a non-numeric Content-Length, without contacting the origin", async () => {
    const h = harness();
    const s = scenario("refuse-cl");
    const req = new Request(s.url("/"), { method: "POST", headers: { "content-length": "abc" }, body: "hello" });
    expect(req.headers.get("content-length")).toBe("abc");
    const res = await h.fetch(req);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'Content-Length must be a whole number, got "abc"' });
    expect((await s.log()).count).toBe(0);
  });

  it("answers 414 for a URL longer than 16 KiB, without contacting the origin", async () => {
    const h = harness();
    const s = scenario("refuse-long");
    const base = s.url("/long?q=");
    const url = base + "a".repeat(16 * 1024 + 1 - base.length);
    expect(url.length).toBe(16 * 1024 + 1);
    const res = await h.fetch(url);
    expect(res.status).toBe(414);
    expect(await res.json()).toEqual({ error: "URL is 16385 characters; at most 16384 are forwarded" });
    expect((await s.log()).count).toBe(0);
  });

  it("forwards a URL of exactly 16 KiB (the limit counts the whole URL, fragment included)", async () => {
    const h = harness();
    const s = scenario("long-ok");
    // The padding sits in the fragment, which request.url keeps but fetch never sends, so the
    // fake origin (Node caps request heads at 16 KiB) sees a short path.
    const base = s.url("/edge#");
    const url = base + "f".repeat(16 * 1024 - base.length);
    expect(new Request(url).url.length).toBe(16 * 1024);
    const res = await h.fetch(url);
    expect(res.status).toBe(200);
    const log = await s.log();
    expect(log.count).toBe(1);
    expect(log.requests[0]!.path).toBe(`/s/${s.id}/edge`);

    const refused = await h.fetch(url + "f");
    expect(refused.status).toBe(414);
    expect(await refused.json()).toEqual({ error: "URL is 16385 characters; at most 16384 are forwarded" });
    expect((await s.log()).count).toBe(1);
  });
});
