import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BUILTIN_SECRET_QUERY_PARAMS, BUILTIN_SENSITIVE_HEADERS, DEFAULT_STEERING_HEADERS, resolveConfig } from "../src/config.ts";
import type { Env } from "../src/env.ts";
import { ADMIN_HEADERS, harness, ORIGIN_URL, scenario } from "./helpers.ts";

const realEnv = env as unknown as Env;

/** Vars that are valid on their own; each test breaks only what it means to break. */
function validVars(): Record<string, unknown> {
  return {
    ORIGINS: JSON.stringify([{ name: "primary", url: "https://origin.example.com", weight: 1 }]),
    ORIGIN_TIMEOUT_MS: "5000",
    BREAKER_FAILURE_THRESHOLD: "5",
    BREAKER_OPEN_MS: "5000",
    BREAKER_OPEN_MAX_MS: "60000",
    LKG_MAX_AGE_SECONDS: "30",
    LKG_TIERS: '["memory","cache","kv"]',
    LKG_ROUTES: '["/"]',
    PUBLIC_ROUTES: "[]",
    SENSITIVE_HEADERS: '["x-api-key"]',
    SECRET_QUERY_PARAMS: "[]",
  };
}

const ALL_BINDINGS = { LKG_KV: realEnv.LKG_KV, BREAKER: realEnv.BREAKER, METRICS: realEnv.METRICS, ROUTING_OBJECT: realEnv.ROUTING_OBJECT };

describe("resolveConfig: the shipped configuration", () => {
  it("resolves the wrangler.toml vars and bindings into the documented defaults", () => {
    const result = resolveConfig(realEnv, realEnv);
    if (!result.ok) throw new Error(`expected a valid config, got problems: ${JSON.stringify(result.problems)}`);
    const { config } = result;
    // vitest.config.ts points ORIGINS at the local fake origin and lowers the timeout to 1000 ms.
    expect(config.origins).toEqual([{ name: "primary", url: new URL(ORIGIN_URL), weight: 1, home: true, priority: 0 }]);
    // wrangler.toml leaves ROUTING at its defaults (test/routing-config.test.ts checks them).
    expect(config.routing.mode).toBe("failover");
    expect(config.routingSyncMs).toBe(1000);
    expect(config.stickySecret).toBeUndefined();
    expect(config.originTimeoutMs).toBe(1000);
    expect(config.breaker).toEqual({
      failureThreshold: 5,
      openMs: 5000,
      openMaxMs: 10000,
      backoffMultiplier: 2,
      syncIntervalMs: 1000,
      objectTimeoutMs: 250,
    });
    expect(config.lkg).toEqual({
      maxAgeSeconds: 30,
      tiers: ["memory", "cache", "kv"],
      methods: ["GET", "HEAD"],
      routes: ["/"],
      publicRoutes: [],
      maxBodyBytes: 1024 * 1024,
      memoryMaxBytes: 32 * 1024 * 1024,
      kvWriteIntervalMs: 2000,
      cacheWriteIntervalMs: 1000,
      refreshMs: 1000,
      sharedMinRequests: 4,
      volatileHeaders: [],
      sharedWritesPerSecond: 10,
      newKeysPerSecond: 50,
    });
    expect(config.scrub).toEqual({
      // wrangler.toml's "x-api-key" is also built in.
      sensitiveHeaders: BUILTIN_SENSITIVE_HEADERS,
      steeringHeaders: DEFAULT_STEERING_HEADERS,
      secretQueryParams: BUILTIN_SECRET_QUERY_PARAMS,
      sessionCookies: ["*"],
    });
    expect(result.digest).toMatch(/^[0-9a-f]{16}$/);
  });

  it("gives the same digest for the same configuration and a different one when a knob changes", () => {
    const a = resolveConfig(validVars(), ALL_BINDINGS);
    const b = resolveConfig(validVars(), ALL_BINDINGS);
    const c = resolveConfig({ ...validVars(), LKG_MAX_AGE_SECONDS: "20" }, ALL_BINDINGS);
    if (!a.ok || !b.ok || !c.ok) throw new Error("expected three valid configs");
    expect(a.digest).toBe(b.digest);
    expect(c.digest).not.toBe(a.digest);
    expect(c.config.lkg.maxAgeSeconds).toBe(20);
  });

  it("adds configured secret query params to the built-in ones, lower-cased", () => {
    const result = resolveConfig({ ...validVars(), SECRET_QUERY_PARAMS: '["X-Session-Ticket","token"]' }, ALL_BINDINGS);
    if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
    expect(result.config.scrub.secretQueryParams).toEqual([...BUILTIN_SECRET_QUERY_PARAMS, "x-session-ticket"]);
  });

  it("lower-cases configured sensitive header names, '_' read as '-', so they match however the origin spells them", () => {
    const result = resolveConfig({ ...validVars(), SENSITIVE_HEADERS: '["X-Api-Key","X-Session-Secret","X_Tenant_Key"]' }, ALL_BINDINGS);
    if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
    expect(result.config.scrub.sensitiveHeaders).toEqual([...BUILTIN_SENSITIVE_HEADERS, "x-session-secret", "x-tenant-key"]);
  });
});

describe("resolveConfig: every problem at once", () => {
  it("lists EVERY problem of a badly broken configuration, each naming the field and the value", () => {
    const vars = {
      ...validVars(),
      ORIGINS: JSON.stringify([
        { url: "https://a.example.com", weight: 1 }, // 0: no name
        { name: "east", url: "https://b.example.com" }, // 1: fine
        { name: "east", url: "https://c.example.com" }, // 2: duplicate name
        { name: "files", url: "ftp://files.example.com" }, // 3: not http(s)
        { name: "query", url: "https://q.example.com/?a=1" }, // 4: has a query
        { name: "neg", url: "https://n.example.com", weight: -1 }, // 5: negative weight
        { name: "extra", url: "https://x.example.com", region: "eu" }, // 6: unknown field
      ]),
      LKG_MAX_AGE_SECONDS: "45",
      BREAKER_FAILURE_THRESHOLD: "0",
      BREAKER_OPEN_MS: "10000",
      BREAKER_OPEN_MAX_MS: "5000",
      LKG_TIERS: '["memory","disk","kv"]',
      SENSITIVE_HEADERS: '["x-api-key","bad header"]',
      LKG_MAX_AGE: "20",
    };
    const result = resolveConfig(vars, {});
    if (result.ok) throw new Error("a broken configuration was accepted");
    const expected = [
      'ORIGINS[0].name must be 1-63 letters, digits, \'-\' or \'_\', got undefined',
      'ORIGINS[2].name "east" is used twice',
      'ORIGINS[3].url must be an http(s) URL without query, fragment or credentials, got "ftp://files.example.com"',
      'ORIGINS[4].url must be an http(s) URL without query, fragment or credentials, got "https://q.example.com/?a=1"',
      "ORIGINS[5].weight must be a number >= 0, got -1",
      "ORIGINS[6].region is not a known field (known: name, url, weight, home, priority)",
      'BREAKER_FAILURE_THRESHOLD must be a number from 1 to 1000, got "0"',
      "BREAKER_OPEN_MAX_MS must be >= BREAKER_OPEN_MS (10000), got 5000",
      'LKG_MAX_AGE_SECONDS must be a number from 0 to 30, got "45"',
      'LKG_TIERS[1] must be one of memory, cache, kv, got "disk"',
      'LKG_TIERS includes "kv" but the LKG_KV KV namespace binding is missing (add [[kv_namespaces]] or drop "kv")',
      'SENSITIVE_HEADERS[1] must be an HTTP header name, got "bad header"',
      // "east" and "extra" are two regions with the default 900 s stickiness, and nothing signs assignments.
      "STICKY_SECRET is required to sign region assignments when ORIGINS has 2 or more regions and ROUTING.stick_seconds is above 0: set it with `wrangler secret put STICKY_SECRET` (or set ADMIN_TOKEN, or ROUTING.stick_seconds 0)",
      "the ROUTING_OBJECT Durable Object binding is missing, and ORIGINS has several regions (see [[durable_objects.bindings]] in wrangler.toml)",
      "the BREAKER Durable Object binding is missing (see [[durable_objects.bindings]] in wrangler.toml)",
      "the METRICS Analytics Engine binding is missing (see [[analytics_engine_datasets]] in wrangler.toml)",
      expect.stringMatching(/^LKG_MAX_AGE is not a known setting \(known: ORIGINS, .*LKG_MAX_AGE_SECONDS, .*\)$/),
    ];
    expect(result.problems).toHaveLength(17);
    expect(result.problems).toEqual(expected);
  });

  it("accepts knobs given as TOML numbers and arrays (wrangler passes non-string [vars] as parsed JSON)", () => {
    const result = resolveConfig({ ...validVars(), LKG_MAX_AGE_SECONDS: 20, LKG_TIERS: ["memory", "cache"] }, ALL_BINDINGS);
    if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
    expect(result.config.lkg.maxAgeSeconds).toBe(20);
    expect(result.config.lkg.tiers).toEqual(["memory", "cache"]);
  });

  it("reports a misspelled knob given as a TOML number or array (LKG_MAX_AGE = 20), not only as a string", () => {
    // `LKG_MAX_AGE = 20` in wrangler.toml reaches the worker as the number 20: ignoring it would
    // silently keep the 30 s default the operator meant to lower.
    const result = resolveConfig({ ...validVars(), LKG_MAX_AGE: 20, LKG_TIER: ["memory"] }, ALL_BINDINGS);
    if (result.ok) throw new Error("misspelled non-string knobs were silently ignored");
    expect(result.problems).toHaveLength(2);
    expect(result.problems[0]).toMatch(/^LKG_MAX_AGE is not a known setting \(known: ORIGINS, .*\)$/);
    expect(result.problems[1]).toMatch(/^LKG_TIER is not a known setting \(known: ORIGINS, .*\)$/);
  });

  it("does not mistake the worker's own bindings and secrets for misspelled knobs", () => {
    const result = resolveConfig({ ...validVars(), ...ALL_BINDINGS, ADMIN_TOKEN: "secret" }, ALL_BINDINGS);
    expect(result.ok).toBe(true);
  });

  it("refuses an LKG_MAX_AGE_SECONDS above the 30 s cap even when everything else is valid", () => {
    const result = resolveConfig({ ...validVars(), LKG_MAX_AGE_SECONDS: "31" }, ALL_BINDINGS);
    expect(result).toEqual({ ok: false, problems: ['LKG_MAX_AGE_SECONDS must be a number from 0 to 30, got "31"'] });
  });

  it("accepts the kv tier's absence when LKG_TIERS leaves out kv and the binding is missing", () => {
    const result = resolveConfig({ ...validVars(), LKG_TIERS: '["memory","cache"]' }, { BREAKER: realEnv.BREAKER, METRICS: realEnv.METRICS });
    if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
    expect(result.config.lkg.tiers).toEqual(["memory", "cache"]);
  });

  it("refuses ORIGINS that is missing, not JSON, or an empty list", () => {
    const { ORIGINS: _dropped, ...withoutOrigins } = validVars();
    expect(resolveConfig(withoutOrigins, ALL_BINDINGS)).toEqual({
      ok: false,
      problems: ['ORIGINS is required: a JSON list like [{"name":"primary","url":"https://origin.example.com","weight":1}]'],
    });
    const notJson = resolveConfig({ ...validVars(), ORIGINS: "[{name:primary}]" }, ALL_BINDINGS);
    if (notJson.ok) throw new Error("non-JSON ORIGINS accepted");
    expect(notJson.problems).toHaveLength(1);
    expect(notJson.problems[0]).toMatch(/^ORIGINS must be JSON, got "\[\{name:primary\}\]" \(.+\)$/);
    expect(resolveConfig({ ...validVars(), ORIGINS: "[]" }, ALL_BINDINGS)).toEqual({
      ok: false,
      problems: ["ORIGINS must be a non-empty list of {name, url, weight}, got []"],
    });
  });

  it("validates the store's refresh, sharing and new-key knobs, every problem at once", () => {
    const result = resolveConfig(
      {
        ...validVars(),
        LKG_REFRESH_MS: "20000",
        LKG_SHARED_MIN_REQUESTS: "0",
        LKG_VOLATILE_HEADERS: '["x-request-id","bad header"]',
        LKG_NEW_KEYS_PER_SECOND: "0",
      },
      ALL_BINDINGS,
    );
    if (result.ok) throw new Error("accepted");
    expect(result.problems).toEqual([
      'LKG_REFRESH_MS must be a number from 0 to 10000, got "20000"',
      'LKG_SHARED_MIN_REQUESTS must be a number from 1 to 1000, got "0"',
      'LKG_VOLATILE_HEADERS[1] must be an HTTP header name, got "bad header"',
      'LKG_NEW_KEYS_PER_SECOND must be a number from 1 to 100000, got "0"',
    ]);
    expect(resolveConfig({ ...validVars(), LKG_NEW_KEYS_PER_SECOND: "2.5" }, ALL_BINDINGS)).toEqual({
      ok: false,
      problems: ['LKG_NEW_KEYS_PER_SECOND must be a whole number, got "2.5"'],
    });
    const ok = resolveConfig(
      { ...validVars(), LKG_REFRESH_MS: "0", LKG_SHARED_MIN_REQUESTS: 1, LKG_VOLATILE_HEADERS: '["X-Request-Id"]', LKG_NEW_KEYS_PER_SECOND: "500" },
      ALL_BINDINGS,
    );
    if (!ok.ok) throw new Error(ok.problems.join("; "));
    expect(ok.config.lkg).toMatchObject({ refreshMs: 0, sharedMinRequests: 1, volatileHeaders: ["x-request-id"], newKeysPerSecond: 500 });
  });

  it("refuses a fractional whole-number knob and a non-list list knob, naming each value", () => {
    const result = resolveConfig({ ...validVars(), ORIGIN_TIMEOUT_MS: "1500.5", LKG_ROUTES: '"/"', PUBLIC_ROUTES: '["/a*/b"]' }, ALL_BINDINGS);
    expect(result).toEqual({
      ok: false,
      problems: [
        'ORIGIN_TIMEOUT_MS must be a whole number, got "1500.5"',
        'LKG_ROUTES must be a JSON list of strings, got "\\"/\\""',
        'PUBLIC_ROUTES[0] must be a path starting with / (a trailing * matches any rest), got "/a*/b"',
      ],
    });
  });
});

describe("an invalid configuration through the app", () => {
  const BAD = { LKG_MAX_AGE_SECONDS: "45", LKG_MAX_AGE: "20" };

  it("answers every request, proxied path and /__edge/health alike, with 500 and the problem list, and sends the origin nothing", async () => {
    // ORIGINS itself is valid and points at the live fake origin: only the bad knobs stop the request.
    const h = harness(BAD);
    const s = scenario("cfg-invalid");
    const expectedBody = {
      error: "invalid configuration",
      problems: [
        'LKG_MAX_AGE_SECONDS must be a number from 0 to 30, got "45"',
        expect.stringMatching(/^LKG_MAX_AGE is not a known setting \(known: ORIGINS, .*\)$/),
      ],
    };

    const requests: [string, RequestInit][] = [
      [s.url("/page"), {}],
      [s.url("/page"), { method: "POST", body: "x=1" }],
      ["https://edge.example.com/__edge/health", {}],
    ];
    for (const [url, init] of requests) {
      const res = await h.fetch(url, init);
      expect(res.status).toBe(500);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual(expectedBody);
    }
    expect((await s.log()).count).toBe(0);
  });

  it("keeps refusing on later requests to the same worker (no silent fallback to defaults)", async () => {
    const h = harness({ BREAKER_FAILURE_THRESHOLD: "0" });
    const s = scenario("cfg-invalid-again");
    for (let i = 0; i < 3; i++) {
      const res = await h.fetch(s.url("/again"));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "invalid configuration", problems: ['BREAKER_FAILURE_THRESHOLD must be a number from 1 to 1000, got "0"'] });
    }
    expect((await s.log()).count).toBe(0);
  });

  it("answers 500 naming the missing BREAKER and METRICS bindings, and sends the origin nothing", async () => {
    const h = harness({ BREAKER: undefined, METRICS: undefined });
    const s = scenario("cfg-no-bindings");
    for (const url of [s.url("/page"), "https://edge.example.com/__edge/health"]) {
      const res = await h.fetch(url);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        error: "invalid configuration",
        problems: [
          "the BREAKER Durable Object binding is missing (see [[durable_objects.bindings]] in wrangler.toml)",
          "the METRICS Analytics Engine binding is missing (see [[analytics_engine_datasets]] in wrangler.toml)",
        ],
      });
    }
    expect((await s.log()).count).toBe(0);
  });

  it("serves /__edge/health with the configuration's digest when the configuration is valid", async () => {
    const h = harness();
    const res = await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; configDigest: string; lkg: { maxAgeSeconds: number; tiers: string[] } };
    const resolved = resolveConfig(h.env, h.env);
    if (!resolved.ok) throw new Error(`unexpected problems: ${JSON.stringify(resolved.problems)}`);
    expect(body.status).toBe("ok");
    expect(body.configDigest).toBe(resolved.digest);
    expect(body.lkg.maxAgeSeconds).toBe(30);
    expect(body.lkg.tiers).toEqual(["memory", "cache", "kv"]);
  });
});

describe("LKG_MAX_AGE_SECONDS lowers the 30 s cap", () => {
  it("serves a 9 s old copy when LKG_MAX_AGE_SECONDS is 10", async () => {
    const h = harness({ LKG_MAX_AGE_SECONDS: "10" });
    const s = scenario("maxage-9");
    const first = await h.fetch(s.url("/doc"));
    expect(first.status).toBe(200);
    const original = (await first.json()) as { seq: number; user: string };
    expect(original.seq).toBe(1);

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(9_000);
    const res = await h.fetch(s.url("/doc"));
    expect(res.status).toBe(200);
    expect(res.headers.get("age")).toBe("9");
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await res.json()).toMatchObject({ scenario: s.id, seq: 1, user: "anonymous", path: `/s/${s.id}/doc` });
  });

  it("serves a copy exactly 10 s old but refuses one 10.001 s old when LKG_MAX_AGE_SECONDS is 10", async () => {
    const h = harness({ LKG_MAX_AGE_SECONDS: "10" });
    const s = scenario("maxage-edge");
    expect((await h.fetch(s.url("/doc"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });

    h.clock.advance(10_000);
    const atCap = await h.fetch(s.url("/doc"));
    expect(atCap.status).toBe(200);
    expect(atCap.headers.get("age")).toBe("10");
    expect(await atCap.json()).toMatchObject({ seq: 1 });

    h.clock.advance(1);
    const past = await h.fetch(s.url("/doc"));
    expect(past.status).toBe(502);
    expect(await past.json()).toEqual({ error: "fake origin answers 502", scenario: s.id });
  });

  it("refuses an 11 s old copy when LKG_MAX_AGE_SECONDS is 10: the origin's 502 is passed on", async () => {
    const h = harness({ LKG_MAX_AGE_SECONDS: "10" });
    const s = scenario("maxage-11-502");
    expect((await h.fetch(s.url("/doc"))).status).toBe(200);

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(11_000);
    const res = await h.fetch(s.url("/doc"));
    expect(res.status).toBe(502);
    expect(res.headers.get("age")).toBeNull();
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=502; detail=no-lkg");
    expect(await res.json()).toEqual({ error: "fake origin answers 502", scenario: s.id });
    // The same copy would still be fresh under the 30 s default: only the config refused it.
    expect((await s.log()).count).toBe(2);
  });

  it("refuses an 11 s old copy when LKG_MAX_AGE_SECONDS is 10: 503 with Retry-After when the origin is unreachable", async () => {
    const h = harness({ LKG_MAX_AGE_SECONDS: "10" });
    const s = scenario("maxage-11-503");
    expect((await h.fetch(s.url("/doc"))).status).toBe(200);

    await s.set({ mode: "reset" });
    h.clock.advance(11_000);
    const res = await h.fetch(s.url("/doc"));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; detail=origin-unreachable-no-lkg");
    expect(await res.json()).toEqual({
      error: "origin unavailable",
      cause: "origin-unreachable",
      detail: `origin ${h.originName} could not be reached`,
      retryAfterSeconds: 1,
    });
  });

  it("still serves an 11 s old copy under the default 30 s cap (control for the two tests above)", async () => {
    const h = harness();
    const s = scenario("maxage-default-11");
    expect((await h.fetch(s.url("/doc"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    h.clock.advance(11_000);
    const res = await h.fetch(s.url("/doc"));
    expect(res.status).toBe(200);
    expect(res.headers.get("age")).toBe("11");
    expect(await res.json()).toMatchObject({ scenario: s.id, seq: 1 });
  });
});
