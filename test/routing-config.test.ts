/** ROUTING, ORIGINS home/priority, ROUTING_SYNC_MS and STICKY_SECRET: resolved defaults, and every problem at once. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.ts";
import type { Env } from "../src/env.ts";
import { harness, scenario } from "./helpers.ts";

const realEnv = env as unknown as Env;
const BINDINGS = { LKG_KV: realEnv.LKG_KV, BREAKER: realEnv.BREAKER, METRICS: realEnv.METRICS, ROUTING_OBJECT: realEnv.ROUTING_OBJECT };
const SECRET = "a-sticky-secret-of-32-characters";

const ONE = JSON.stringify([{ name: "primary", url: "https://origin.example.com" }]);
const TWO = JSON.stringify([
  { name: "us-east", url: "https://use.example.com" },
  { name: "eu-west", url: "https://euw.example.com" },
]);

function resolve(vars: Record<string, unknown>) {
  return resolveConfig({ ORIGINS: ONE, ...vars }, BINDINGS);
}

function config(vars: Record<string, unknown>) {
  const result = resolve(vars);
  if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  return result.config;
}

function problems(vars: Record<string, unknown>): string[] {
  const result = resolve(vars);
  if (result.ok) throw new Error("a broken configuration was accepted");
  return result.problems;
}

describe("ROUTING: defaults and a full setting", () => {
  it("resolves an absent ROUTING to the documented defaults, in ms and percents", () => {
    const c = config({});
    expect(c.routing).toEqual({
      mode: "failover",
      stickMs: 900_000,
      stickyHeader: undefined,
      down: 3,
      up: 2,
      hysteresisMs: 30_000,
      gradualWeights: [10, 30, 60, 100],
      stepDwellMs: 10_000,
      stepErrorBudget: 0.05,
      stepMinRequests: 20,
      retryBudget: { ratio: 0.2, minPerSecond: 3 },
      latency: { alpha: 0.2, switchMargin: 0.2, minSwitchMs: 5 },
    });
    expect(c.routingSyncMs).toBe(1000);
    // One region: nothing to stick to, so no secret is needed or kept.
    expect(c.stickySecret).toBeUndefined();
    expect(config({ ROUTING: "" }).routing).toEqual(c.routing);
    expect(config({ ROUTING: "{}" }).routing).toEqual(c.routing);
  });

  it("reads every field, given as a JSON string or as a TOML table (a parsed object)", () => {
    const routing = {
      mode: "latency",
      stick_seconds: 60,
      sticky_header: "X-Edge-Assignment",
      down: 5,
      up: 4,
      hysteresis_s: 2.5,
      gradual_weights: [5, 50, 100],
      step_dwell_s: 0.5,
      step_error_budget: 0.1,
      step_min_requests: 7,
      retry_budget: { ratio: 0.5, min_per_second: 0 },
      latency: { alpha: 1, switch_margin: 0 },
    };
    const expected = {
      mode: "latency",
      stickMs: 60_000,
      stickyHeader: "x-edge-assignment",
      down: 5,
      up: 4,
      hysteresisMs: 2500,
      gradualWeights: [5, 50, 100],
      stepDwellMs: 500,
      stepErrorBudget: 0.1,
      stepMinRequests: 7,
      retryBudget: { ratio: 0.5, minPerSecond: 0 },
      latency: { alpha: 1, switchMargin: 0, minSwitchMs: 5 },
    };
    expect(config({ ROUTING: JSON.stringify(routing), ROUTING_SYNC_MS: "250" })).toMatchObject({ routing: expected, routingSyncMs: 250 });
    expect(config({ ROUTING: routing, ROUTING_SYNC_MS: 250 })).toMatchObject({ routing: expected, routingSyncMs: 250 });
    // Nested objects keep the defaults of the fields they leave out.
    expect(config({ ROUTING: '{"retry_budget":{"ratio":0.1},"latency":{}}' }).routing).toMatchObject({
      retryBudget: { ratio: 0.1, minPerSecond: 3 },
      latency: { alpha: 0.2, switchMargin: 0.2, minSwitchMs: 5 },
    });
  });

  it("gives a different digest when a routing knob changes", () => {
    const a = resolve({});
    const b = resolve({ ROUTING: '{"down":4}' });
    if (!a.ok || !b.ok) throw new Error("expected valid configs");
    expect(a.digest).not.toBe(b.digest);
  });
});

describe("ROUTING: every problem at once", () => {
  it("lists every unknown field, wrong type and out-of-range value, each naming the field and the value", () => {
    const list = problems({
      ROUTING: JSON.stringify({
        mode: "random",
        stick_minutes: 15,
        stick_seconds: 90_000,
        sticky_header: "bad header",
        down: 0,
        up: 1.5,
        hysteresis_s: -1,
        gradual_weights: [10, 10, 0, 100],
        step_dwell_s: 0,
        step_error_budget: 1.5,
        step_min_requests: "20",
        retry_budget: { ratio: 2, min_per_second: -1, max: 3 },
        latency: { alpha: 0, switch_margin: 1.2 },
      }),
      ROUTING_SYNC_MS: "50",
    });
    expect(list).toEqual([
      "ROUTING.stick_minutes is not a known field (known: mode, stick_seconds, sticky_header, down, up, hysteresis_s, gradual_weights, step_dwell_s, step_error_budget, step_min_requests, retry_budget, latency)",
      'ROUTING.mode must be one of weighted, failover, latency, got "random"',
      "ROUTING.stick_seconds must be a whole number from 0 to 86400, got 90000",
      'ROUTING.sticky_header must be null or an HTTP header name, got "bad header"',
      "ROUTING.down must be a whole number from 1 to 100, got 0",
      "ROUTING.up must be a whole number from 1 to 100, got 1.5",
      "ROUTING.hysteresis_s must be a number from 0 to 3600, got -1",
      "ROUTING.gradual_weights[1] must be above the step before it (10), got 10",
      "ROUTING.gradual_weights[2] must be a number from 1 to 100, got 0",
      "ROUTING.step_dwell_s must be a number from 0.1 to 3600, got 0",
      "ROUTING.step_error_budget must be a number from 0 to 1, got 1.5",
      'ROUTING.step_min_requests must be a whole number from 1 to 1000000, got "20"',
      "ROUTING.retry_budget.max is not a known field (known: ratio, min_per_second)",
      "ROUTING.retry_budget.ratio must be a number from 0 to 1, got 2",
      "ROUTING.retry_budget.min_per_second must be a whole number from 0 to 10000, got -1",
      "ROUTING.latency.alpha must be a number from 0.001 to 1, got 0",
      "ROUTING.latency.switch_margin must be a number from 0 to 1, got 1.2",
      'ROUTING_SYNC_MS must be a number from 100 to 60000, got "50"',
    ]);
  });

  it("refuses return-to-home weights that would jump from 0 to 100 % at once, or not end at 100", () => {
    expect(problems({ ROUTING: '{"gradual_weights":[100]}' })).toEqual([
      "ROUTING.gradual_weights must be a list of 2 to 20 percents rising to 100, like [10,30,60,100], got [100]",
    ]);
    expect(problems({ ROUTING: '{"gradual_weights":[10,30,60]}' })).toEqual(["ROUTING.gradual_weights must end at 100 (the region's full weight), got [10,30,60]"]);
    expect(problems({ ROUTING: '{"gradual_weights":[50,30,100]}' })).toEqual(["ROUTING.gradual_weights[1] must be above the step before it (50), got 30"]);
    expect(problems({ ROUTING: '{"gradual_weights":"10,30,100"}' })).toEqual([
      'ROUTING.gradual_weights must be a list of 2 to 20 percents rising to 100, like [10,30,60,100], got "10,30,100"',
    ]);
  });

  it("refuses ROUTING that is not a JSON object, and nested settings that are not objects", () => {
    const notJson = problems({ ROUTING: "{mode:failover}" });
    expect(notJson).toHaveLength(1);
    expect(notJson[0]).toMatch(/^ROUTING must be a JSON object, got "\{mode:failover\}" \(.+\)$/);
    expect(problems({ ROUTING: '["failover"]' })).toEqual(['ROUTING must be a JSON object like {"mode":"failover"}, got "[\\"failover\\"]"']);
    expect(problems({ ROUTING: '{"retry_budget":0.2,"latency":[1]}' })).toEqual([
      "ROUTING.retry_budget must be an object with ratio, min_per_second, got 0.2",
      "ROUTING.latency must be an object with alpha, switch_margin, min_switch_ms, got [1]",
    ]);
  });

  it("refuses a binding named ROUTING in place of the setting (the names would clash)", () => {
    expect(problems({ ROUTING: realEnv.BREAKER })).toEqual([
      "ROUTING is a binding, not the routing setting: give the binding another name (ROUTING is the JSON routing policy)",
    ]);
  });

  it("refuses a sticky header the worker would strip from what the origin needs", () => {
    const list = problems({ ROUTING: '{"sticky_header":"Cookie"}' });
    expect(list).toEqual([
      'ROUTING.sticky_header "Cookie" cannot carry the assignment (the worker removes it before forwarding): use a header of your own, such as x-edge-assignment',
    ]);
    for (const name of ["X-Api-Key", "x_session_token", "X-Forwarded-Prefix", "X-Forwarded-For"]) {
      expect(problems({ ROUTING: JSON.stringify({ sticky_header: name }) })).toEqual([
        `ROUTING.sticky_header ${JSON.stringify(name.toLowerCase())} is a credential, steering or worker-set header the origin reads (the worker removes the assignment header before forwarding): use a header of your own, such as x-edge-assignment`,
      ]);
    }
    // A header added to SENSITIVE_HEADERS counts too.
    expect(problems({ ROUTING: '{"sticky_header":"x-tenant"}', SENSITIVE_HEADERS: '["X-Tenant"]' })).toHaveLength(1);
  });

  it("reports a misspelled routing knob instead of ignoring it", () => {
    const list = problems({ ROUTING_MODE: "weighted", STICKY_SECRETS: SECRET });
    expect(list).toHaveLength(2);
    expect(list[0]).toMatch(/^ROUTING_MODE is not a known setting \(known: ORIGINS, .*ROUTING, ROUTING_SYNC_MS, STICKY_SECRET, WRITES, WRITE_SECRET\)$/);
    expect(list[1]).toMatch(/^STICKY_SECRETS is not a known setting/);
  });
});

describe("ORIGINS: home and priority", () => {
  it("makes the first entry home and each entry's priority its index when ORIGINS names neither", () => {
    const c = config({ ORIGINS: TWO, STICKY_SECRET: SECRET });
    expect(c.origins).toEqual([
      { name: "us-east", url: new URL("https://use.example.com"), weight: 1, home: true, priority: 0 },
      { name: "eu-west", url: new URL("https://euw.example.com"), weight: 1, home: false, priority: 1 },
    ]);
  });

  it("takes an explicit home and priorities, keeping ORIGINS order", () => {
    const c = config({
      ORIGINS: JSON.stringify([
        { name: "a", url: "https://a.example.com", weight: 2, priority: 5 },
        { name: "b", url: "https://b.example.com", home: true, priority: 1 },
        { name: "c", url: "https://c.example.com", weight: 0, priority: 1 },
      ]),
      STICKY_SECRET: SECRET,
    });
    expect(c.origins.map(({ name, weight, home, priority }) => ({ name, weight, home, priority }))).toEqual([
      { name: "a", weight: 2, home: false, priority: 5 },
      { name: "b", weight: 1, home: true, priority: 1 },
      { name: "c", weight: 0, home: false, priority: 1 },
    ]);
  });

  it("lists every home and priority problem at once", () => {
    const list = problems({
      ORIGINS: JSON.stringify([
        { name: "a", url: "https://a.example.com", home: true },
        { name: "b", url: "https://b.example.com", home: true },
        { name: "c", url: "https://c.example.com", home: "yes" },
        { name: "d", url: "https://d.example.com", priority: 1.5 },
        { name: "e", url: "https://e.example.com", priority: -1 },
        { name: "f", url: "https://f.example.com", region: "eu" },
      ]),
      STICKY_SECRET: SECRET,
    });
    expect(list).toEqual([
      "ORIGINS[1].home: at most one region is home, and ORIGINS[0] already is",
      'ORIGINS[2].home must be true or false, got "yes"',
      "ORIGINS[3].priority must be a whole number from 0 to 10000, got 1.5",
      "ORIGINS[4].priority must be a whole number from 0 to 10000, got -1",
      "ORIGINS[5].region is not a known field (known: name, url, weight, home, priority)",
    ]);
  });

  it("refuses a home that failover mode would not try first, and weighted mode with no weight anywhere", () => {
    const homeSecond = JSON.stringify([
      { name: "a", url: "https://a.example.com" },
      { name: "b", url: "https://b.example.com", home: true },
    ]);
    expect(problems({ ORIGINS: homeSecond, STICKY_SECRET: SECRET })).toEqual([
      'ORIGINS: "b" is home but "a" has a lower priority (0 < 1), so failover mode would send traffic there first: give the home the lowest priority, or make "a" home',
    ]);
    // In weighted mode priorities only order the failover candidates: no contradiction.
    expect(config({ ORIGINS: homeSecond, STICKY_SECRET: SECRET, ROUTING: '{"mode":"weighted"}' }).origins[1]!.home).toBe(true);
    const noWeight = JSON.stringify([
      { name: "a", url: "https://a.example.com", weight: 0 },
      { name: "b", url: "https://b.example.com", weight: 0 },
    ]);
    expect(problems({ ORIGINS: noWeight, STICKY_SECRET: SECRET, ROUTING: '{"mode":"weighted"}' })).toEqual([
      'ROUTING.mode "weighted" needs at least one region in ORIGINS with a weight above 0, got every weight 0',
    ]);
  });
});

describe("STICKY_SECRET", () => {
  it("is required with two regions and stickiness when neither STICKY_SECRET nor ADMIN_TOKEN is set", () => {
    expect(problems({ ORIGINS: TWO })).toEqual([
      "STICKY_SECRET is required to sign region assignments when ORIGINS has 2 or more regions and ROUTING.stick_seconds is above 0: set it with `wrangler secret put STICKY_SECRET` (or set ADMIN_TOKEN, or ROUTING.stick_seconds 0)",
    ]);
    // No stickiness, nothing to sign.
    expect(config({ ORIGINS: TWO, ROUTING: '{"stick_seconds":0}' }).stickySecret).toBeUndefined();
  });

  it("uses STICKY_SECRET when set, else ADMIN_TOKEN (from which sticky.ts derives the key)", () => {
    expect(config({ ORIGINS: TWO, STICKY_SECRET: SECRET, ADMIN_TOKEN: "an-admin-token-long-enough" }).stickySecret).toEqual({ source: "STICKY_SECRET", secret: SECRET });
    expect(config({ ORIGINS: TWO, ADMIN_TOKEN: "an-admin-token-long-enough" }).stickySecret).toEqual({ source: "ADMIN_TOKEN", secret: "an-admin-token-long-enough" });
  });

  it("refuses a secret short enough to be guessed from a client's token", () => {
    expect(problems({ ORIGINS: TWO, STICKY_SECRET: "short" })).toEqual(["STICKY_SECRET must be a string of at least 16 characters (use 32 random bytes), got 5 characters"]);
    // Set but unused (one region) still says it is weak.
    expect(problems({ STICKY_SECRET: "short" })).toHaveLength(1);
    expect(problems({ ORIGINS: TWO, ADMIN_TOKEN: "admin" })).toEqual([
      "STICKY_SECRET is not set and ADMIN_TOKEN is too short (5 characters, at least 16) to sign region assignments: set STICKY_SECRET with `wrangler secret put STICKY_SECRET`",
    ]);
    // A short ADMIN_TOKEN is nobody's business while nothing is signed with it.
    expect(resolve({ ADMIN_TOKEN: "admin" }).ok).toBe(true);
  });

  it("keeps the secret out of the digest: two secrets, one digest", () => {
    const a = resolve({ ORIGINS: TWO, STICKY_SECRET: SECRET });
    const b = resolve({ ORIGINS: TWO, STICKY_SECRET: `${SECRET}-rotated` });
    if (!a.ok || !b.ok) throw new Error("expected valid configs");
    expect(a.digest).toBe(b.digest);
  });
});

describe("an invalid ROUTING through the app", () => {
  it("answers 500 with the problem list and sends the origin nothing", async () => {
    const h = harness({ ROUTING: '{"mode":"nearest","down":0}' });
    const s = scenario("routing-invalid");
    const res = await h.fetch(s.url("/page"));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: "invalid configuration",
      problems: ['ROUTING.mode must be one of weighted, failover, latency, got "nearest"', "ROUTING.down must be a whole number from 1 to 100, got 0"],
    });
    expect((await s.log()).count).toBe(0);
  });
});

describe("the ROUTING_OBJECT binding", () => {
  it("is required with several regions, and named in the problem", () => {
    const vars = { ORIGINS: JSON.stringify([{ name: "a", url: "https://a.example.com" }, { name: "b", url: "https://b.example.com" }]), STICKY_SECRET: "a-long-enough-sticky-secret" };
    const without = resolveConfig(vars, { LKG_KV: realEnv.LKG_KV, BREAKER: realEnv.BREAKER, METRICS: realEnv.METRICS });
    expect(without.ok).toBe(false);
    expect(!without.ok && without.problems).toEqual(["the ROUTING_OBJECT Durable Object binding is missing, and ORIGINS has several regions (see [[durable_objects.bindings]] in wrangler.toml)"]);
    expect(resolveConfig(vars, BINDINGS).ok).toBe(true);
  });

  it("is not needed with one region", () => {
    expect(resolveConfig({ ORIGINS: ONE }, { LKG_KV: realEnv.LKG_KV, BREAKER: realEnv.BREAKER, METRICS: realEnv.METRICS }).ok).toBe(true);
  });
});
