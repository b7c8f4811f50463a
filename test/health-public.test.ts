import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { VERSION } from "../src/version.ts";
import { ADMIN_HEADERS, ADMIN_TOKEN, counting, harness, ORIGIN_URL, type Harness } from "./helpers.ts";

const HEALTH = "https://edge.example.com/__edge/health";

/** A harness whose breaker object shares its fake clock, so forced states carry exact times. */
async function sharedClockHarness(overrides: Partial<Record<string, unknown>> = {}): Promise<Harness> {
  const h = harness(overrides);
  await h.object();
  return h;
}

async function forceOpen(h: Harness): Promise<void> {
  const res = await h.fetch(`https://edge.example.com/__edge/admin/breakers/${h.originName}/open`, { method: "POST", headers: ADMIN_HEADERS });
  expect(res.status).toBe(200);
}

describe("GET /__edge/health without credentials", () => {
  it("shows status, version and each origin's breaker kind only: no origin URL, digest, counters or timings", async () => {
    const h = harness();
    const res = await h.fetch(HEALTH);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: "ok", version: VERSION, origins: [{ name: h.originName, breaker: "closed" }] });
    expect(text).not.toContain(ORIGIN_URL);
  });

  it("says degraded and open while the breaker is open, with no until, openedAt, attempt or retry time", async () => {
    const h = await sharedClockHarness();
    await forceOpen(h);
    h.clock.advance(1_000);
    const body = await (await h.fetch(HEALTH)).json();
    expect(body).toEqual({ status: "degraded", version: VERSION, origins: [{ name: h.originName, breaker: "open" }] });
  });

  it("makes no call to the breaker object, so anonymous callers cannot load it; the full page does ask it", async () => {
    const calls: string[] = [];
    const h = harness({ BREAKER: counting(env.BREAKER, calls, "BREAKER") });
    for (let i = 0; i < 3; i++) expect((await h.fetch(HEALTH)).status).toBe(200);
    expect(calls).toEqual([]);
    expect((await h.fetch(HEALTH, { headers: ADMIN_HEADERS })).status).toBe(200);
    expect(calls).toEqual(["BREAKER.idFromName", "BREAKER.get"]);
  });
});

describe("GET /__edge/health with the admin token", () => {
  it("shows the full page: origin URL, both breaker views with their timings, digest and LKG counters", async () => {
    const h = await sharedClockHarness();
    await forceOpen(h);
    const res = await h.fetch(HEALTH, { headers: { authorization: `bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const opened = { kind: "open", openedAt: h.clock.t, until: h.clock.t + 5000, attempt: 1 };
    expect(await res.json()).toMatchObject({
      status: "degraded",
      version: VERSION,
      configDigest: expect.stringMatching(/^[0-9a-f]{16}$/),
      origins: [{ name: h.originName, url: `${ORIGIN_URL}/`, weight: 1, routed: true, breaker: { isolate: opened, object: opened } }],
      lkg: { tiers: ["memory", "cache", "kv"], maxAgeSeconds: 30 },
    });
  });

  it("answers 401 with WWW-Authenticate for a wrong or malformed token, showing nothing", async () => {
    const h = harness();
    for (const [authorization, error] of [
      ["Bearer wrong", "wrong bearer token"],
      [`Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`, "missing bearer token"],
      ["", "missing bearer token"],
    ] as const) {
      const res = await h.fetch(HEALTH, { headers: { authorization } });
      expect([authorization, res.status]).toEqual([authorization, 401]);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edge-fallback admin"');
      expect(await res.json()).toEqual({ error });
    }
  });

  it("answers 403 to a token when no ADMIN_TOKEN is configured; the public page still answers", async () => {
    const h = harness({ ADMIN_TOKEN: undefined });
    const res = await h.fetch(HEALTH, { headers: ADMIN_HEADERS });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "admin routes are disabled: set a secret with `wrangler secret put ADMIN_TOKEN`" });
    expect(await (await h.fetch(HEALTH)).json()).toEqual({ status: "ok", version: VERSION, origins: [{ name: h.originName, breaker: "closed" }] });
  });
});
