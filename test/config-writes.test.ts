import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.ts";

const STAND_IN = { placeholder: true };
const BINDINGS = { BREAKER: STAND_IN, METRICS: STAND_IN, ROUTING_OBJECT: STAND_IN, WRITE_QUEUE: STAND_IN, WRITE_LEDGER: STAND_IN, WRITE_BACKLOG: STAND_IN };

function vars(writes: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ORIGINS: JSON.stringify([
      { name: "us-east", url: "https://us.example.com", weight: 1 },
      { name: "eu-west", url: "https://eu.example.com", weight: 1 },
    ]),
    LKG_TIERS: '["memory"]',
    ADMIN_TOKEN: "an-admin-token-of-some-length",
    ORIGIN_TIMEOUT_MS: "4000",
    ROUTING_SYNC_MS: "500",
    WRITES: typeof writes === "string" ? writes : JSON.stringify(writes),
    ...extra,
  };
}

function problems(writes: unknown, extra: Record<string, unknown> = {}, bindings: Record<string, unknown> = BINDINGS): string[] {
  const result = resolveConfig(vars(writes, extra), bindings);
  return result.ok ? [] : result.problems;
}

describe("WRITES", () => {
  it("resolves routes, webhooks, the writer and the derived drain and trust windows", () => {
    const result = resolveConfig(
      vars({
        routes: [{ path: "/api/", methods: ["post", "PUT"] }],
        webhooks: [{ path: "/hooks/payments", dedupe_key: "sha256(event_id+rev)" }, { path: "/hooks/git", dedupe_key: "header:X-GitHub-Delivery" }, { path: "/hooks/ci", dedupe_key: "field:data.id" }],
        writer: "eu-west",
        key_lifetime_s: 3600,
      }),
      BINDINGS,
    );
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.writes).toEqual({
      routes: [{ pattern: "/api/", methods: ["POST", "PUT"], idempotency: "required" }],
      webhooks: [
        { pattern: "/hooks/payments", methods: ["POST"], dedupe: { kind: "sha256", fields: [["event_id"], ["rev"]] }, dedupeText: "sha256(event_id+rev)" },
        { pattern: "/hooks/git", methods: ["POST"], dedupe: { kind: "header", name: "x-github-delivery" }, dedupeText: "header:X-GitHub-Delivery" },
        { pattern: "/hooks/ci", methods: ["POST"], dedupe: { kind: "field", path: ["data", "id"] }, dedupeText: "field:data.id" },
      ],
      initialWriter: "eu-west",
      autoPromote: true,
      keyLifetimeMs: 3_600_000,
      maxQueuedBodyBytes: 102_400,
      maxStoredResultBytes: 65_536,
      replayPerSecond: 50,
      promotionDrainMs: 1500 + 4000 + 1000,
      leaseTrustMs: 1500,
    });
    expect(result.config.writeSecret).toEqual({ source: "ADMIN_TOKEN", secret: "an-admin-token-of-some-length" });
  });

  it("defaults the writer to the home region and keeps the secret out of the digest", () => {
    const a = resolveConfig(vars({ routes: [{ path: "/api/" }] }, { WRITE_SECRET: "first-secret-0123456789" }), BINDINGS);
    const b = resolveConfig(vars({ routes: [{ path: "/api/" }] }, { WRITE_SECRET: "other-secret-0123456789" }), BINDINGS);
    if (!a.ok || !b.ok) throw new Error("invalid");
    expect(a.config.writes?.initialWriter).toBe("us-east");
    expect(a.config.writes?.routes[0]?.methods).toEqual(["POST", "PUT", "PATCH", "DELETE"]);
    expect(a.config.writeSecret).toEqual({ source: "WRITE_SECRET", secret: "first-secret-0123456789" });
    expect(a.digest).toBe(b.digest);
  });

  it("unset: no write routes and no secret needed", () => {
    const result = resolveConfig({ ...vars(""), ADMIN_TOKEN: undefined, STICKY_SECRET: "a-sticky-secret-0123456789" }, BINDINGS);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.writes).toBeUndefined();
    expect(result.config.writeSecret).toBeUndefined();
  });

  it("lists every problem at once, each naming its field and value", () => {
    expect(
      problems({
        routes: [{ path: "api", methods: ["GET"], idempotency: "sometimes" }, { path: "/__edge/x" }, { path: "/same/" }],
        webhooks: [{ path: "/same/", dedupe_key: "md5(event_id)" }, { path: "/h", dedupe_key: "header:authorization" }],
        writer: "mars",
        auto_promote: "yes",
        key_lifetime_s: 10,
        max_queued_body_bytes: 200_000,
        replay_per_second: 0.5,
        colour: "red",
      }),
    ).toEqual([
      "WRITES.colour is not a known field (known: routes, webhooks, writer, auto_promote, key_lifetime_s, max_queued_body_bytes, max_stored_result_bytes, replay_per_second)",
      'WRITES.routes[0].path must be a path starting with / (a trailing / or * matches any rest), got "api"',
      'WRITES.routes[0].methods must be a non-empty list of POST, PUT, PATCH, DELETE (reads are never queued), got ["GET"]',
      'WRITES.routes[0].idempotency must be "required" or "optional", got "sometimes"',
      'WRITES.routes[1].path "/__edge/x" is in the worker\'s reserved /__edge namespace',
      'WRITES.webhooks[0].dedupe_key must be "header:<name>", "field:<json.path>" or "sha256(<field>+<field>...)", like "sha256(event_id+rev)", got "md5(event_id)"',
      'WRITES.webhooks[1].dedupe_key must be "header:<name>", "field:<json.path>" or "sha256(<field>+<field>...)", like "sha256(event_id+rev)", got "header:authorization"',
      'WRITES.writer must name one of the ORIGINS (us-east, eu-west), got "mars"',
      'WRITES.auto_promote must be true or false, got "yes"',
      "WRITES.key_lifetime_s must be a whole number from 60 to 604800, got 10",
      "WRITES.max_queued_body_bytes must be a whole number from 0 to 122880, got 200000",
      "WRITES.replay_per_second must be a whole number from 1 to 10000, got 0.5",
    ]);
  });

  it("refuses one path under two rules", () => {
    expect(problems({ routes: [{ path: "/same/" }], webhooks: [{ path: "/same/", dedupe_key: "field:id" }] })).toEqual(['WRITES.webhooks[0].path "/same/" is also WRITES.routes[0].path: one path, one rule']);
  });

  it("names each missing binding, and the missing secret", () => {
    expect(problems({ routes: [{ path: "/api/" }] }, { ADMIN_TOKEN: undefined, STICKY_SECRET: "a-sticky-secret-0123456789" }, { BREAKER: STAND_IN, METRICS: STAND_IN, ROUTING_OBJECT: STAND_IN })).toEqual([
      "WRITE_SECRET is required to seal the credentials of queued writes when WRITES is set: set it with `wrangler secret put WRITE_SECRET` (at least 16 characters), or set ADMIN_TOKEN",
      "WRITES is set but the WRITE_QUEUE binding is missing (see [[queues.producers]] in wrangler.toml)",
      "WRITES is set but the WRITE_LEDGER binding is missing (see [[durable_objects.bindings]] in wrangler.toml)",
      "WRITES is set but the WRITE_BACKLOG binding is missing (see [[durable_objects.bindings]] in wrangler.toml)",
    ]);
  });

  it("a WRITE_SECRET set but too short is a problem, never quietly replaced by ADMIN_TOKEN; a short ADMIN_TOKEN alone is no secret", () => {
    expect(problems({ routes: [{ path: "/api/" }] }, { WRITE_SECRET: "short" })).toEqual(["WRITE_SECRET must be a string of at least 16 characters (use 32 random bytes), got 5 characters"]);
    expect(problems({ routes: [{ path: "/api/" }] }, { ADMIN_TOKEN: "a".repeat(15), STICKY_SECRET: "a-sticky-secret-0123456789" })).toEqual([
      "WRITE_SECRET is required to seal the credentials of queued writes when WRITES is set: set it with `wrangler secret put WRITE_SECRET` (at least 16 characters), or set ADMIN_TOKEN",
    ]);
  });

  it("is not JSON: one clear problem", () => {
    expect(problems("{routes")).toEqual([expect.stringMatching(/^WRITES must be a JSON object, got "\{routes" \(/)]);
    expect(problems("{}")).toEqual(["WRITES must name at least one route in routes or webhooks (leave WRITES unset for none)"]);
  });
});
