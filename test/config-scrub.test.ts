/** The scrub settings: built-in credential headers, STEERING_HEADERS and its validation, every problem at once. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BUILTIN_SENSITIVE_HEADERS, DEFAULT_STEERING_HEADERS, resolveConfig } from "../src/config.ts";
import type { Env } from "../src/env.ts";
import { harness, scenario } from "./helpers.ts";

const realEnv = env as unknown as Env;
const BINDINGS = { LKG_KV: realEnv.LKG_KV, BREAKER: realEnv.BREAKER, METRICS: realEnv.METRICS };
const ORIGINS = JSON.stringify([{ name: "primary", url: "https://origin.example.com", weight: 1 }]);

describe("resolveConfig: scrub settings", () => {
  it("defaults STEERING_HEADERS to the documented list and always includes the built-in sensitive headers", () => {
    const result = resolveConfig({ ORIGINS, SENSITIVE_HEADERS: '["X-Tenant-Secret","x-api-key"]' }, BINDINGS);
    if (!result.ok) throw new Error(result.problems.join("; "));
    expect(result.config.scrub.steeringHeaders).toEqual(DEFAULT_STEERING_HEADERS);
    expect(result.config.scrub.sensitiveHeaders).toEqual([...BUILTIN_SENSITIVE_HEADERS, "x-tenant-secret"]);
    expect(DEFAULT_STEERING_HEADERS).toEqual(expect.arrayContaining(["forwarded", "x-forwarded-prefix", "x-original-url", "x-http-method-override", "x-host"]));
  });

  it("takes a configured STEERING_HEADERS list in place of the default, lower-cased, '_' read as '-'", () => {
    const result = resolveConfig({ ORIGINS, STEERING_HEADERS: '["X-Custom-Rewrite","x_tenant_path"]' }, BINDINGS);
    if (!result.ok) throw new Error(result.problems.join("; "));
    expect(result.config.scrub.steeringHeaders).toEqual(["x-custom-rewrite", "x-tenant-path"]);
  });

  it("lists every STEERING_HEADERS problem at once, beside the other settings' problems", () => {
    const result = resolveConfig(
      {
        ORIGINS,
        STEERING_HEADERS: '["x-forwarded-prefix","bad header",5,"X-Forwarded-Host","x_forwarded_for"]',
        SENSITIVE_HEADERS: '["x-ok","no:colon"]',
        STEERING_HEADER: '["x-typo"]',
      },
      BINDINGS,
    );
    if (result.ok) throw new Error("accepted");
    expect(result.problems).toEqual([
      'SENSITIVE_HEADERS[1] must be an HTTP header name, got "no:colon"',
      'STEERING_HEADERS[1] must be an HTTP header name, got "bad header"',
      "STEERING_HEADERS[2] must be an HTTP header name, got 5",
      'STEERING_HEADERS[3] "X-Forwarded-Host" is set by the worker on every request (a client\'s value never reaches the origin), so it cannot steer: leave it out',
      'STEERING_HEADERS[4] "x_forwarded_for" is set by the worker on every request (a client\'s value never reaches the origin), so it cannot steer: leave it out',
      expect.stringMatching(/^STEERING_HEADER is not a known setting \(known: .*STEERING_HEADERS.*\)$/),
    ]);
  });

  it("refuses a STEERING_HEADERS that is not a JSON list", () => {
    expect(resolveConfig({ ORIGINS, STEERING_HEADERS: "x-forwarded-prefix" }, BINDINGS)).toEqual({
      ok: false,
      problems: ['STEERING_HEADERS must be a JSON list of strings, got "x-forwarded-prefix"'],
    });
  });

  it("answers every request with 500 and the full problem list when STEERING_HEADERS is bad, sending the origin nothing", async () => {
    const h = harness({ STEERING_HEADERS: '["ok","bad header","x-forwarded-proto"]' });
    const s = scenario("cfg-steer");
    const res = await h.fetch(s.url("/page"));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: "invalid configuration",
      problems: [
        'STEERING_HEADERS[1] must be an HTTP header name, got "bad header"',
        'STEERING_HEADERS[2] "x-forwarded-proto" is set by the worker on every request (a client\'s value never reaches the origin), so it cannot steer: leave it out',
      ],
    });
    expect((await s.log()).count).toBe(0);
  });
});
