import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { regionsRoutes, type RegionReading, type RegionsDeps } from "../src/admin/regions.ts";
import type { Env } from "../src/env.ts";
import type { RoutingLink } from "../src/routing/link.ts";
import type { RoutingObject } from "../src/routing/object.ts";
import type { RoutingPoint } from "../src/routing/state.ts";
import { RoutingView } from "../src/routing/view.ts";
import { ADMIN_HEADERS, ADMIN_TOKEN, FakeClock, harness, ORIGIN_URL, uniqueOriginName } from "./helpers.ts";

const FUTURE = Date.parse("2031-01-01T00:00:00Z");
const BASE = "https://edge.example.com/__edge/admin/regions";

/** The regions routes alone in a tiny app, over a routing object of the test's own and two configured regions. */
async function regionsApp(options: { adminToken?: string | undefined; reading?: (region: string) => RegionReading } = {}) {
  const clock = new FakeClock(FUTURE);
  const namespace = env.ROUTING_OBJECT as Env["ROUTING_OBJECT"];
  const stub = namespace.get(namespace.idFromName(uniqueOriginName()));
  await runInDurableObject(stub, (instance: RoutingObject) => {
    instance.clock = clock;
  });
  let down = false;
  const failing = () => Promise.reject(new Error("Durable Object is unreachable (test)"));
  const link: RoutingLink = {
    snapshot: () => (down ? failing() : stub.snapshot()),
    apply: (event) => (down ? failing() : stub.apply(event)),
    lease: (configured) => (down ? failing() : stub.lease(configured)),
  };
  const points: RoutingPoint[] = [];
  const view = new RoutingView({ syncMs: 1000, clock, rules: { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 }, onPoint: (p) => points.push(p) });
  const routing: RegionsDeps["routing"] = {
    view,
    link,
    regions: ["east", "west"],
    reading: options.reading ?? (() => ({ usable: true, latencyMs: undefined })),
    clock,
  };
  const app = new Hono<{ Bindings: Env; Variables: { runtime: RegionsDeps } }>();
  app.use("*", async (c, next) => {
    c.set("runtime", { routing });
    await next();
  });
  app.route("/__edge/admin/regions", regionsRoutes());
  const bindings = { ...(env as unknown as Env), ADMIN_TOKEN: "adminToken" in options ? options.adminToken : ADMIN_TOKEN };
  const send = (path: string, init: RequestInit = {}) =>
    app.request(`${BASE}${path}`, { method: "POST", ...init, headers: { ...ADMIN_HEADERS, ...(init.headers as Record<string, string> | undefined) } }, bindings);
  return { clock, stub, view, points, send, get: (init: RequestInit = {}) => send("", { method: "GET", ...init }), setDown: (value: boolean) => (down = value) };
}

const ACTIVE = { admin: "active", shedPercent: 0, rampStartedAt: null, rampStep: null, held: false, reason: "default", changedAt: 0 };

describe("POST /__edge/admin/regions/:region/:action", () => {
  it("evacuate answers 200 with the region's control and the generation, changes the object and this isolate, and writes one point", async () => {
    const { send, stub, view, points, clock } = await regionsApp();
    const res = await send("/east/evacuate");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({
      region: "east",
      action: "evacuate",
      control: { admin: "evacuated", shedPercent: 0, rampStartedAt: null, rampStep: null, held: false, reason: "admin:evacuate", changedAt: clock.t },
      generation: 1,
    });
    expect((await stub.snapshot()).regions["east"]?.admin).toBe("evacuated");
    expect(view.control("east").admin).toBe("evacuated");
    expect(points).toEqual([{ region: "east", action: "evacuate", reason: "admin", source: "admin", percent: 0, step: 0, generation: 1 }]);
  });

  it("is idempotent: the same action twice answers 200 with the same generation and writes no second point", async () => {
    const { send, points } = await regionsApp();
    expect(((await (await send("/east/drain")).json()) as { generation: number }).generation).toBe(1);
    const again = await send("/east/drain");
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ region: "east", action: "drain", control: { admin: "draining" }, generation: 1 });
    expect(points).toHaveLength(1);
  });

  it("shed takes {\"percent\": 0..100}; restore after an evacuation ramps from the first gradual weight", async () => {
    const { send, clock } = await regionsApp();
    const shed = await send("/west/shed", { body: JSON.stringify({ percent: 25 }) });
    expect(shed.status).toBe(200);
    expect(await shed.json()).toMatchObject({ region: "west", action: "shed", control: { admin: "active", shedPercent: 25 }, generation: 1 });
    await send("/east/evacuate");
    clock.advance(60_000);
    const restored = await send("/east/restore", { body: "{}" });
    expect(restored.status).toBe(200);
    expect(await restored.json()).toEqual({
      region: "east",
      action: "restore",
      control: { admin: "active", shedPercent: 0, rampStartedAt: clock.t, rampStep: 0, held: false, reason: "admin:restore", changedAt: clock.t },
      generation: 3,
    });
  });

  it("answers 409 when the action would leave no active region, changing nothing; ?force=1 does it", async () => {
    const { send, stub, points } = await regionsApp();
    await send("/east/evacuate");
    const refused = await send("/west/evacuate");
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({
      error: 'evacuating "west" would leave no active region (east is evacuated); add ?force=1 to do it anyway',
      region: "west",
      action: "evacuate",
      generation: 1,
    });
    expect((await send("/west/shed", { body: '{"percent":100}' })).status).toBe(409);
    expect((await send("/west/drain")).status).toBe(409);
    expect((await stub.snapshot()).generation).toBe(1);
    expect(points).toHaveLength(1);
    const forced = await send("/west/evacuate?force=1");
    expect(forced.status).toBe(200);
    expect(await forced.json()).toMatchObject({ control: { admin: "evacuated" }, generation: 2 });
  });

  it("answers 409 for shedding an evacuated region", async () => {
    const { send } = await regionsApp();
    await send("/east/evacuate");
    const res = await send("/east/shed", { body: '{"percent":10}' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'region "east" is evacuated: restore it before shedding a share of its traffic' });
  });

  it("answers 400 for an unknown action, a bad percent, extra fields, a body where none is taken, or a stray query parameter, changing nothing", async () => {
    const { send, stub } = await regionsApp();
    const cases: [string, RequestInit, string][] = [
      ["/east/explode", {}, 'unknown action "explode": use evacuate, drain, shed, restore'],
      ["/east/shed", {}, 'shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: '{"percent":101}' }, 'percent must be an integer 0..100, got 101; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: '{"percent":-1}' }, 'percent must be an integer 0..100, got -1; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: '{"percent":12.5}' }, 'percent must be an integer 0..100, got 12.5; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: '{"percent":"50"}' }, 'percent must be an integer 0..100, got "50"; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: "{}" }, 'percent must be an integer 0..100, got nothing; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: '{"percent":10,"region":"west"}' }, 'unknown field "region"; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: "[10]" }, 'the body must be a JSON object; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/shed", { body: "percent=10" }, 'the body is not JSON; shed takes a JSON body {"percent": <integer 0..100>}'],
      ["/east/evacuate", { body: '{"percent":10}' }, 'unknown field "percent"; evacuate takes no body (or {})'],
      ["/east/restore", { body: '{"force":true,"why":"x"}' }, 'unknown fields "force", "why"; restore takes no body (or {})'],
      ["/east/evacuate?force=yes", {}, 'force must be 1, got "yes"'],
      ["/east/evacuate?dry_run=1", {}, 'unknown query parameter "dry_run": only force=1 is accepted'],
    ];
    for (const [path, init, error] of cases) {
      const res = await send(path, init);
      expect([path, res.status]).toEqual([path, 400]);
      expect(await res.json()).toEqual({ error });
    }
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("answers 413 for a body over 1 KiB, declared or not, changing nothing", async () => {
    const { send, stub } = await regionsApp();
    const big = JSON.stringify({ percent: 10, pad: "x".repeat(1100) });
    const declared = await send("/east/shed", { body: big });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: "the body is over 1024 bytes" });
    const chunks = [new TextEncoder().encode('{"percent": 10, "pad": "'), new TextEncoder().encode("y".repeat(2000)), new TextEncoder().encode('"}')];
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const undeclared = await send("/east/shed", { body: streamed, duplex: "half" } as RequestInit);
    expect(undeclared.status).toBe(413);
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("answers 404 naming the configured regions for an unknown one", async () => {
    const { send } = await regionsApp();
    const res = await send("/north/evacuate");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'unknown region "north"', regions: ["east", "west"] });
  });

  it("answers 401 with WWW-Authenticate without the bearer token or with a wrong one, before revealing regions or reading the body", async () => {
    const { send, stub } = await regionsApp();
    for (const [authorization, reason] of [
      ["", "missing bearer token"],
      ["Basic dXNlcjpwYXNz", "missing bearer token"],
      ["Bearer wrong", "wrong bearer token"],
    ] as const) {
      for (const path of ["/east/evacuate", "/north/evacuate", "/east/explode"]) {
        const res = await send(path, { headers: { authorization }, body: "x".repeat(5000) });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edge-fallback admin"');
        expect(await res.json()).toEqual({ error: reason });
      }
    }
    const noHeader = await send("/east/evacuate", { headers: { authorization: "" } });
    expect(noHeader.status).toBe(401);
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("answers 403 while ADMIN_TOKEN is unset, even with a bearer token", async () => {
    const { send, get, stub } = await regionsApp({ adminToken: undefined });
    const res = await send("/east/evacuate");
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "admin routes are disabled: set a secret with `wrangler secret put ADMIN_TOKEN`" });
    expect((await get()).status).toBe(403);
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("answers 503 with Retry-After when the routing object is unreachable; nothing changed anywhere", async () => {
    const { send, setDown, stub, view, points } = await regionsApp();
    setDown(true);
    const res = await send("/east/evacuate");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toEqual({ error: "routing object unreachable; nothing was changed", detail: "Error: Durable Object is unreachable (test)" });
    expect(view.control("east").admin).toBe("active");
    expect(points).toEqual([]);
    setDown(false);
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("never echoes the bearer token", async () => {
    const { send, get } = await regionsApp();
    for (const res of [await send("/east/evacuate"), await send("/north/evacuate"), await send("/east/shed", { body: "{" }), await get()]) {
      expect(await res.text()).not.toContain(ADMIN_TOKEN);
    }
  });
});

describe("GET /__edge/admin/regions", () => {
  it("shows the fleet's snapshot and this isolate's view per region (usable, ramp percent, latency EWMA)", async () => {
    const reading = (region: string): RegionReading => (region === "east" ? { usable: false, latencyMs: undefined } : { usable: true, latencyMs: 42.5 });
    const { send, get, clock } = await regionsApp({ reading });
    await send("/east/evacuate");
    await send("/east/restore");
    const restoredAt = clock.t;
    clock.advance(10_000);
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const east = { admin: "active", shedPercent: 0, rampStartedAt: restoredAt, rampStep: 0, held: false, reason: "admin:restore", changedAt: restoredAt };
    expect(await res.json()).toEqual({
      fleet: { generation: 2, regions: [{ name: "east", control: east }, { name: "west", control: ACTIVE }] },
      objectError: null,
      isolate: {
        generation: 2,
        calls: { snapshot: 0, apply: 2, errors: 0 },
        lastError: null,
        regions: [
          { name: "east", usable: false, rampPercent: 30, latencyMs: null, control: east },
          { name: "west", usable: true, rampPercent: 100, latencyMs: 42.5, control: ACTIVE },
        ],
      },
    });
  });

  it("still answers 200 with the object's error and this isolate's view when the object is unreachable", async () => {
    const { get, setDown } = await regionsApp();
    setDown(true);
    const res = await get();
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ fleet: null, objectError: "Error: Durable Object is unreachable (test)", isolate: { generation: 0 } });
  });
});

describe("regions routes in the worker", () => {
  it("are mounted under /__edge with the admin token, over the fleet object, and listed when a route is unknown", async () => {
    const h = harness();
    const other = uniqueOriginName();
    const two = harness({ ORIGINS: JSON.stringify([{ name: h.originName, url: ORIGIN_URL }, { name: other, url: ORIGIN_URL }]) });
    const unauthenticated = await two.fetch(`${BASE}/${h.originName}/evacuate`, { method: "POST" });
    expect(unauthenticated.status).toBe(401);
    const res = await two.fetch(`${BASE}/${h.originName}/drain`, { method: "POST", headers: ADMIN_HEADERS });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ region: h.originName, action: "drain", control: { admin: "draining" } });
    // The one fleet object holds it: a worker with another configuration sees it too.
    const page = (await (await h.fetch(BASE, { headers: ADMIN_HEADERS })).json()) as { fleet: { regions: { name: string; control: { admin: string } }[] } };
    expect(page.fleet.regions).toEqual([{ name: h.originName, control: expect.objectContaining({ admin: "draining" }) }]);
    expect((await two.fetch(`${BASE}/${other}/evacuate`, { method: "POST", headers: ADMIN_HEADERS })).status).toBe(409);
    const routing = two.metrics.points.filter((p) => p.blobs?.[0] === "routing");
    expect(routing.map((p) => [p.indexes?.[0], p.blobs?.slice(1)])).toEqual([[h.originName, ["drain", "admin", "admin"]]]);
    const unknown = await h.fetch(`${BASE}/`, { headers: ADMIN_HEADERS });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { routes: string[] }).routes).toContain("POST /__edge/admin/regions/:region/(evacuate|drain|shed|restore)");
  });
});
