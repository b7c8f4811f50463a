import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { writesRoutes, type WritesDeps } from "../src/admin/writes.ts";
import type { Env } from "../src/env.ts";
import { CapturingSink } from "../src/metrics/writer.ts";
import { RoutingObjectTimeout, type RoutingLink } from "../src/routing/link.ts";
import type { RoutingObject } from "../src/routing/object.ts";
import type { LeaseConfig, RoutingPoint } from "../src/routing/state.ts";
import { RoutingView } from "../src/routing/view.ts";
import { ADMIN_HEADERS, ADMIN_TOKEN, FakeClock, harness, ORIGIN_URL, uniqueOriginName } from "./helpers.ts";

// Far in the future, so alarms the object schedules never fire by themselves: tests run them.
const FUTURE = Date.parse("2031-01-01T00:00:00Z");
const BASE = "https://edge.example.com/__edge/admin/writes";
const CONFIGURED: LeaseConfig = { writer: "east", regions: ["east", "west"] };
// No WRITES: the fallbacks (lease-settings.ts): home writes first, trust 3 x 1000 ms, drain 3000 + 1000 + 1000.
const TRUST = 3000;
const DRAIN = 5000;
const INITIAL = { region: "east", epoch: 1, frozen: false, promotion: null, reason: "initial", changedAt: 0 };

type Mode = "up" | "down" | "timeout" | "land-then-timeout";

/** The writes routes alone in a tiny app, over a routing object of the test's own with two configured regions. */
async function writesApp(options: { adminToken?: string | undefined; backlog?: () => Promise<unknown> } = {}) {
  const clock = new FakeClock(FUTURE);
  const sink = new CapturingSink();
  const namespace = env.ROUTING_OBJECT as Env["ROUTING_OBJECT"];
  const stub = namespace.get(namespace.idFromName(uniqueOriginName()));
  await runInDurableObject(stub, (instance: RoutingObject) => {
    instance.clock = clock;
    instance.sink = sink;
    instance.leaseConfig = CONFIGURED;
  });
  let mode: Mode = "up";
  const fail = () => Promise.reject(new Error("Durable Object is unreachable (test)"));
  const timeout = () => Promise.reject(new RoutingObjectTimeout(50));
  const link: RoutingLink = {
    snapshot: () => (mode === "up" ? stub.snapshot() : fail()),
    apply: async (event) => {
      if (mode === "down") return fail();
      if (mode === "timeout") return timeout();
      const applied = await stub.apply(event);
      // The call reached the object and made its change, but its answer came too late.
      return mode === "land-then-timeout" ? timeout() : applied;
    },
    lease: (configured) => (mode === "up" ? stub.lease(configured) : fail()),
  };
  const points: RoutingPoint[] = [];
  const view = new RoutingView({ syncMs: 1000, clock, rules: { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 }, onPoint: (p) => points.push(p) });
  const deps: WritesDeps = {
    routing: { view, link, regions: ["east", "west"], clock },
    config: {
      origins: [
        { name: "east", url: new URL(ORIGIN_URL), weight: 1, home: true, priority: 0 },
        { name: "west", url: new URL(ORIGIN_URL), weight: 1, home: false, priority: 1 },
      ],
      routingSyncMs: 1000,
      originTimeoutMs: 1000,
    },
    ...(options.backlog ? { backlog: options.backlog } : {}),
  };
  const app = new Hono<{ Bindings: Env; Variables: { runtime: WritesDeps } }>();
  app.use("*", async (c, next) => {
    c.set("runtime", deps);
    await next();
  });
  app.route("/__edge/admin/writes", writesRoutes());
  const bindings = { ...(env as unknown as Env), ADMIN_TOKEN: "adminToken" in options ? options.adminToken : ADMIN_TOKEN };
  const send = (path: string, init: RequestInit = {}) =>
    app.request(`${BASE}${path}`, { method: "POST", ...init, headers: { ...ADMIN_HEADERS, ...(init.headers as Record<string, string> | undefined) } }, bindings);
  const get = async () => {
    const res = await send("", { method: "GET" });
    expect(res.status).toBe(200);
    return (await res.json()) as { lease: Record<string, unknown> | null; isolate: Record<string, unknown>; objectError: string | null; backlog: unknown; backlogError: string | null };
  };
  const alarmAt = () => runInDurableObject(stub, (_i: RoutingObject, state) => state.storage.getAlarm());
  return { clock, sink, stub, view, points, send, get, alarmAt, setMode: (value: Mode) => (mode = value) };
}

describe("POST /__edge/admin/writes/promote", () => {
  it("starts a promotion (writes frozen for the drain), answers the lease, writes one point; the object's alarm completes it at the drain's end with epoch 2", async () => {
    const { send, get, clock, stub, points, sink, alarmAt, view } = await writesApp();
    const startedAt = clock.t;
    const res = await send("/promote", { body: JSON.stringify({ region: "west", reason: "drill D" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const promotion = { to: "west", from: "east", startedAt, completesAt: startedAt + DRAIN, reason: "admin: drill D" };
    expect(await res.json()).toEqual({ action: "promote", changed: true, lease: { ...INITIAL, promotion, reason: "promote:admin: drill D", changedAt: startedAt }, generation: 1 });
    expect(points).toEqual([{ region: "west", action: "promote", reason: "east -> west: admin: drill D", source: "admin", percent: 1, step: 0, generation: 1 }]);
    expect(view.lease(clock.t).writer?.promotion).toEqual(promotion);
    expect(await alarmAt()).toBe(startedAt + DRAIN);

    clock.advance(DRAIN - 1);
    expect(await runDurableObjectAlarm(stub)).toBe(true); // early: nothing moves, the same deadline again
    expect((await stub.snapshot()).writer?.promotion).toEqual(promotion);
    expect(await alarmAt()).toBe(startedAt + DRAIN);
    clock.advance(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.snapshot()).writer).toEqual({ region: "west", epoch: 2, frozen: false, reason: "promoted:admin: drill D", changedAt: clock.t });
    expect(await alarmAt()).toBeNull();
    expect(sink.points.map((p) => [p.indexes, p.blobs, p.doubles])).toEqual([[["west"], ["routing", "promote_done", "east -> west: admin: drill D", "object"], [2, 0, 2]]]);
    expect((await get()).lease).toEqual({ region: "west", epoch: 2, frozen: false, promotion: null, reason: "promoted:admin: drill D", changedAt: clock.t });
  });

  it("the object's strong lease read completes an overdue promotion (a late alarm) before answering", async () => {
    const { send, clock, stub, sink } = await writesApp();
    await send("/promote", { body: '{"region":"west"}' });
    clock.advance(DRAIN + 30_000);
    expect(await stub.lease(CONFIGURED)).toEqual({ region: "west", epoch: 2, frozen: false, reason: "promoted:admin", changedAt: clock.t });
    expect(sink.points.map((p) => p.blobs?.[1])).toEqual(["promote_done"]);
    // And a second promotion judged after an overdue one is not refused for it.
    clock.advance(1000);
    const back = await send("/promote", { body: '{"region":"east"}' });
    expect(back.status).toBe(200);
    expect(await back.json()).toMatchObject({ lease: { region: "west", epoch: 2, promotion: { to: "east", from: "west" } }, generation: 3 });
  });

  it("one alarm serves both a ramp and a promotion: the earliest deadline first, then the other", async () => {
    const { send, clock, stub, alarmAt } = await writesApp();
    await stub.apply({ type: "evacuate", region: "west", configured: CONFIGURED.regions, force: false });
    const rampStarted = clock.t;
    await stub.apply({ type: "restore", region: "west" }); // first step ends at +10 s
    clock.advance(1000);
    await send("/promote", { body: '{"region":"west"}' }); // drain ends at +6 s
    expect(await alarmAt()).toBe(rampStarted + 1000 + DRAIN);
    clock.advance(DRAIN);
    await runDurableObjectAlarm(stub);
    expect((await stub.snapshot()).writer).toMatchObject({ region: "west", epoch: 2 });
    expect(await alarmAt()).toBe(rampStarted + 10_000);
  });

  it("is idempotent while the same promotion drains: 200, changed false, no second point", async () => {
    const { send, points } = await writesApp();
    await send("/promote", { body: '{"region":"west"}' });
    const again = await send("/promote", { body: '{"region":"west","reason":"again"}' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ action: "promote", changed: false, generation: 1 });
    expect(points).toHaveLength(1);
  });

  it("answers 409 with the lease for the writer itself and for another region while one drains; nothing changes", async () => {
    const { send, stub, clock } = await writesApp();
    const self = await send("/promote", { body: '{"region":"east"}' });
    expect(self.status).toBe(409);
    expect(await self.json()).toEqual({ error: 'region "east" is the writer already (epoch 1)', action: "promote", lease: INITIAL, generation: 0 });
    await send("/promote", { body: '{"region":"west"}' });
    const busy = await send("/promote", { body: '{"region":"east"}' });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({
      error: `a promotion from "east" to "west" is in progress (completes at ${new Date(clock.t + DRAIN).toISOString()})`,
      lease: { region: "east", promotion: { to: "west" } },
      generation: 1,
    });
    expect((await stub.snapshot()).generation).toBe(1);
  });

  it("answers 504 'outcome unknown' when the object call timed out, and this isolate trusts no copy of the lease for the trust window", async () => {
    const { send, get, setMode, view, clock } = await writesApp();
    setMode("land-then-timeout");
    const res = await send("/promote", { body: '{"region":"west"}' });
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: "outcome unknown: GET /__edge/admin/writes shows whether it took", detail: "RoutingObjectTimeout: routing object did not answer within 50 ms" });
    expect(view.leaseUnknownUntil).toBe(clock.t + TRUST);
    expect(view.lease(clock.t).readAt).toBe(Number.NEGATIVE_INFINITY);
    setMode("up");
    // It took: the page shows the promotion, and says this isolate's copy is not trusted.
    const page = await get();
    expect(page.lease).toMatchObject({ region: "east", promotion: { to: "west", from: "east" } });
    expect(page.isolate).toMatchObject({ trusted: false, leaseUnknownUntil: clock.t + TRUST });
  });

  it("answers 503 with Retry-After when the object is unreachable; nothing changed", async () => {
    const { send, setMode, stub, view } = await writesApp();
    setMode("down");
    const res = await send("/promote", { body: '{"region":"west"}' });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toEqual({ error: "routing object unreachable; nothing was changed", detail: "Error: Durable Object is unreachable (test)" });
    expect(view.leaseUnknownUntil).toBe(Number.NEGATIVE_INFINITY);
    expect((await stub.snapshot()).writer).toBeUndefined();
  });

  it("answers 404 naming the configured regions for an unknown region", async () => {
    const { send, stub } = await writesApp();
    const res = await send("/promote", { body: '{"region":"north"}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'unknown region "north"', regions: ["east", "west"] });
    expect((await stub.snapshot()).generation).toBe(0);
  });
});

describe("POST /__edge/admin/writes/freeze and /unfreeze", () => {
  it("freeze then unfreeze flip the lease's frozen flag with points; repeating one changes nothing", async () => {
    const { send, points, clock, get } = await writesApp();
    const frozen = await send("/freeze", { body: '{"reason":"freeze_writes_on_followers"}' });
    expect(frozen.status).toBe(200);
    expect(await frozen.json()).toEqual({ action: "freeze", changed: true, lease: { ...INITIAL, frozen: true, reason: "freeze:admin: freeze_writes_on_followers", changedAt: clock.t }, generation: 1 });
    expect((await get()).lease).toMatchObject({ frozen: true });
    expect(await (await send("/freeze")).json()).toMatchObject({ changed: false, generation: 1 });
    const thawed = await send("/unfreeze", { body: "{}" });
    expect(await thawed.json()).toMatchObject({ action: "unfreeze", changed: true, lease: { frozen: false, reason: "unfreeze:admin" }, generation: 2 });
    expect(points.map((p) => [p.region, p.action, p.reason, p.percent])).toEqual([
      ["east", "freeze", "admin: freeze_writes_on_followers", 1],
      ["east", "unfreeze", "admin", 1],
    ]);
  });
});

describe("writes admin validation and auth", () => {
  it("answers 400 for an unknown action, stray query parameters, and every malformed body, changing nothing", async () => {
    const { send, stub } = await writesApp();
    const promoteUsage = 'promote takes a JSON body {"region": <region name>, "reason": <text, optional>}';
    const cases: [string, RequestInit, string][] = [
      ["/explode", {}, 'unknown action "explode": use promote, freeze, unfreeze'],
      ["/promote?force=1", { body: '{"region":"west"}' }, 'unknown query parameter "force": promote takes none'],
      ["/promote", {}, promoteUsage],
      ["/promote", { body: "{}" }, `region must be a string, got nothing; ${promoteUsage}`],
      ["/promote", { body: '{"region":7}' }, `region must be a string, got 7; ${promoteUsage}`],
      ["/promote", { body: '{"region":"west","epoch":3}' }, `unknown field "epoch"; ${promoteUsage}`],
      ["/promote", { body: '["west"]' }, `the body must be a JSON object; ${promoteUsage}`],
      ["/promote", { body: "region=west" }, `the body is not JSON; ${promoteUsage}`],
      ["/promote", { body: JSON.stringify({ region: "west", reason: "r".repeat(161) }) }, `reason must be text of at most 160 characters without control characters, got "${"r".repeat(63)}...; ${promoteUsage}`],
      ["/promote", { body: JSON.stringify({ region: "west", reason: "a\nb" }) }, `reason must be text of at most 160 characters without control characters, got "a\\nb"; ${promoteUsage}`],
      ["/freeze", { body: '{"reason":5}' }, 'reason must be text of at most 160 characters without control characters, got 5; freeze takes no body, or {"reason": <text>}'],
      ["/unfreeze", { body: '{"region":"west"}' }, 'unknown field "region"; unfreeze takes no body, or {"reason": <text>}'],
    ];
    for (const [path, init, error] of cases) {
      const res = await send(path, init);
      expect([path, res.status]).toEqual([path, 400]);
      expect(await res.json()).toEqual({ error });
    }
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("answers 413 for a body over 1 KiB, declared or streamed, changing nothing", async () => {
    const { send, stub } = await writesApp();
    const declared = await send("/promote", { body: JSON.stringify({ region: "west", reason: "x".repeat(1100) }) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: "the body is over 1024 bytes" });
    const chunks = [new TextEncoder().encode('{"region":"west","reason":"'), new TextEncoder().encode("y".repeat(2000)), new TextEncoder().encode('"}')];
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const undeclared = await send("/promote", { body: streamed, duplex: "half" } as RequestInit);
    expect(undeclared.status).toBe(413);
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("answers 401 with WWW-Authenticate without the bearer token or with a wrong one, before reading anything; 403 while ADMIN_TOKEN is unset", async () => {
    const { send, stub } = await writesApp();
    for (const [authorization, reason] of [
      ["", "missing bearer token"],
      ["Bearer wrong", "wrong bearer token"],
    ] as const) {
      for (const [path, method] of [["/promote", "POST"], ["/explode", "POST"], ["/freeze?x=1", "POST"], ["", "GET"]] as const) {
        const res = await send(path, { method, headers: { authorization }, ...(method === "POST" ? { body: "x".repeat(5000) } : {}) });
        expect([path, res.status]).toEqual([path, 401]);
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edge-fallback admin"');
        expect(await res.json()).toEqual({ error: reason });
      }
    }
    const disabled = await writesApp({ adminToken: undefined });
    for (const res of [await disabled.send("/freeze"), await disabled.send("", { method: "GET" })]) {
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: "admin routes are disabled: set a secret with `wrangler secret put ADMIN_TOKEN`" });
    }
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("never echoes the bearer token", async () => {
    const { send } = await writesApp();
    for (const res of [await send("/promote", { body: '{"region":"west"}' }), await send("/promote", { body: "{" }), await send("", { method: "GET" })]) {
      expect(await res.text()).not.toContain(ADMIN_TOKEN);
    }
  });
});

describe("GET /__edge/admin/writes", () => {
  it("shows the fleet's lease (strong read), this isolate's copy and trust, the settings, and the backlog", async () => {
    const { get, view, clock, stub } = await writesApp({ backlog: () => Promise.resolve({ length: 3, oldestAt: FUTURE - 500, dead: 0 }) });
    expect(await get()).toEqual({
      lease: INITIAL,
      objectError: null,
      isolate: { lease: INITIAL, readAt: null, leaseUnknownUntil: null, trusted: false },
      settings: { initialWriter: "east", promotionDrainMs: DRAIN, leaseTrustMs: TRUST },
      backlog: { length: 3, oldestAt: FUTURE - 500, dead: 0 },
      backlogError: null,
    });
    await stub.apply({ type: "freeze", reason: "x", configured: CONFIGURED });
    const link: RoutingLink = { snapshot: () => stub.snapshot(), apply: (e) => stub.apply(e), lease: (c) => stub.lease(c) };
    await view.background(link, clock.t);
    clock.advance(TRUST);
    expect((await get()).isolate).toEqual({ lease: { ...INITIAL, frozen: true, reason: "freeze:x", changedAt: FUTURE }, readAt: FUTURE, leaseUnknownUntil: null, trusted: true });
    clock.advance(1);
    expect((await get()).isolate).toMatchObject({ trusted: false });
  });

  it("still answers 200 with each failure shown on its own: the object's, the backlog's", async () => {
    const { get, setMode } = await writesApp({ backlog: () => Promise.reject(new Error("backlog object unreachable")) });
    setMode("down");
    const page = await get();
    expect(page).toMatchObject({ lease: null, objectError: "Error: Durable Object is unreachable (test)", backlog: null, backlogError: "Error: backlog object unreachable" });
    expect(page.isolate).toMatchObject({ lease: INITIAL, trusted: false });
  });
});

describe("writes routes in the worker", () => {
  it("are mounted under /__edge with the admin token, over the fleet object, and listed when a route is unknown", async () => {
    const h = harness();
    const other = uniqueOriginName();
    const two = harness({ ORIGINS: JSON.stringify([{ name: h.originName, url: ORIGIN_URL }, { name: other, url: ORIGIN_URL }]) });
    expect((await two.fetch(BASE)).status).toBe(401);
    const page = await two.fetch(BASE, { headers: ADMIN_HEADERS });
    expect(page.status).toBe(200);
    expect(await page.json()).toMatchObject({ lease: { region: h.originName, epoch: 1, frozen: false }, objectError: null, backlog: { length: 0, dead: 0 } });
    const frozen = await two.fetch(`${BASE}/freeze`, { method: "POST", headers: ADMIN_HEADERS, body: '{"reason":"test"}' });
    expect(frozen.status).toBe(200);
    expect(await frozen.json()).toMatchObject({ action: "freeze", lease: { region: h.originName, frozen: true } });
    const thawed = await two.fetch(`${BASE}/unfreeze`, { method: "POST", headers: ADMIN_HEADERS });
    expect(thawed.status).toBe(200);
    expect(two.metrics.points.filter((p) => p.blobs?.[0] === "routing").map((p) => p.blobs?.[1])).toEqual(["freeze", "unfreeze"]);
    expect((await two.fetch(`${BASE}/promote`, { method: "POST", headers: ADMIN_HEADERS, body: '{"region":"nowhere"}' })).status).toBe(404);
    const unknown = await h.fetch(`${BASE}/promote`, { headers: ADMIN_HEADERS });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { routes: string[] }).routes).toEqual(expect.arrayContaining(["GET /__edge/admin/writes", "POST /__edge/admin/writes/(promote|freeze|unfreeze)"]));
  });
});
