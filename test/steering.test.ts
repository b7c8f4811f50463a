/**
 * Headers outside the cache key that steer what the origin answers (forwarding, rewrite and
 * method-override headers): a request carrying one is forwarded but its answer is never stored
 * nor answered from the store, so an attacker's reflected value can never reach another user.
 * The edge's own forwarding headers are overwritten instead, so a client cannot steer them.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_STEERING_HEADERS } from "../src/config.ts";
import { harness, requestPoints, scenario } from "./helpers.ts";
import { cacheCopy, expectNothingStored, expectOrigin502, keyFor } from "./privacy-helpers.ts";

const EVIL = "https://EVIL.example";

/** Every header the red-team report names, then the rest of the default list. */
const REPORTED = [
  "x-forwarded-prefix",
  "forwarded",
  "x-original-url",
  "x-rewrite-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-forwarded-port",
  "x-forwarded-server",
  "x-host",
];

describe("steering headers make the answer unstorable (skip:steered)", () => {
  for (const name of [...REPORTED, ...DEFAULT_STEERING_HEADERS.filter((n) => !REPORTED.includes(n))]) {
    it(`does NOT store an answer to a request carrying ${name}, and the next request for the key gets the origin's 502, not the reflected body`, async () => {
      const h = harness();
      const s = scenario("steer");
      await s.set({ mode: "healthy", reflect: [name] });
      const attack = await h.fetch(s.url("/home"), { headers: { [name]: EVIL } });
      expect(attack.status).toBe(200);
      expect(attack.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
      // Still forwarded: the origin sees it and answers the attacker alone.
      expect(await attack.json()).toMatchObject({ seq: 1, reflected: { [name]: EVIL } });
      expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:steered"]);
      await expectNothingStored(keyFor(s, "/home"));

      await s.set({ mode: "status", status: 502 });
      await expectOrigin502(h, s, s.url("/home"));
    });
  }

  for (const spelling of ["x_forwarded_prefix", "X_Forwarded_Prefix", "x_http_method_override", "x_forwarded_host", "x_forwarded_proto", "x_forwarded_for"]) {
    it(`treats ${spelling} as the header a CGI-style origin reads it as (underscore = hyphen): not stored`, async () => {
      const h = harness();
      const s = scenario("steer-spelling");
      const attack = await h.fetch(s.url("/home"), { headers: { [spelling]: EVIL } });
      expect(attack.status).toBe(200);
      expect(attack.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
      await attack.arrayBuffer();
      expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:steered"]);
      // workerd passes the underscore spelling on unchanged: the origin does receive it.
      expect((await s.log()).requests[0]!.headers[spelling.toLowerCase()]).toBe(EVIL);
      await expectNothingStored(keyFor(s, "/home"));
      await s.set({ mode: "status", status: 502 });
      await expectOrigin502(h, s, s.url("/home"));
    });
  }

  it("does NOT answer a steered request from an existing copy either (an overridden method must not get the GET copy)", async () => {
    const h = harness();
    const s = scenario("steer-no-serve");
    const first = await h.fetch(s.url("/home"));
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await first.arrayBuffer();
    await s.set({ mode: "status", status: 502 });
    await expectOrigin502(h, s, s.url("/home"), { headers: { "x-http-method-override": "DELETE" } });
    // The copy is there for everyone else.
    const anonymous = await h.fetch(s.url("/home"));
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toMatchObject({ seq: 1, user: "anonymous" });
  });

  it("still makes the answer unstorable on a PUBLIC_ROUTES path (public means the same for every user, not for every URL rewrite)", async () => {
    const s = scenario("steer-public");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    const attack = await h.fetch(s.url("/home"), { headers: { "x-forwarded-prefix": EVIL } });
    expect(attack.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await attack.arrayBuffer();
    await expectNothingStored(keyFor(s, "/home"));
  });
});

describe("STEERING_HEADERS", () => {
  it("replaces the default list: a configured header steers, a default one left out no longer does", async () => {
    const h = harness({ STEERING_HEADERS: '["X-Custom-Rewrite"]' });
    const s = scenario("steer-config");
    const custom = await h.fetch(s.url("/a"), { headers: { "x-custom-rewrite": "/admin" } });
    expect(custom.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await custom.arrayBuffer();
    await expectNothingStored(keyFor(s, "/a"));
    const prefix = await h.fetch(s.url("/b"), { headers: { "x-forwarded-prefix": "/app" } });
    expect(prefix.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await prefix.arrayBuffer();
    expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:steered", "stored"]);
  });
});

describe("the edge's own forwarding headers are overwritten, so they cannot steer", () => {
  it("sends the origin our X-Forwarded-Host / -Proto and X-Forwarded-For = CF-Connecting-IP, whatever the client sent, and stores the answer", async () => {
    const h = harness();
    const s = scenario("steer-owned");
    await s.set({ mode: "healthy", reflect: ["x-forwarded-host", "x-forwarded-proto", "x-forwarded-for"] });
    const res = await h.fetch(s.url("/home"), {
      headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "http", "x-forwarded-for": "6.6.6.6", "cf-connecting-ip": "203.0.113.9" },
    });
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    const body = (await res.json()) as { reflected: Record<string, string> };
    expect(body.reflected).toEqual({ "x-forwarded-host": "edge.example.com", "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9" });
    const copy = await cacheCopy(keyFor(s, "/home"));
    expect(copy?.body).not.toContain("evil.example");
    expect(copy?.body).not.toContain("6.6.6.6");
  });

  it("drops a client's X-Forwarded-For when there is no CF-Connecting-IP to replace it with", async () => {
    const h = harness();
    const s = scenario("steer-xff");
    const res = await h.fetch(s.url("/home"), { headers: { "x-forwarded-for": "6.6.6.6" } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const seen = (await s.log()).requests[0]!.headers;
    expect(seen["x-forwarded-for"]).toBeUndefined();
    expect(seen["x-forwarded-host"]).toBe("edge.example.com");
  });
});
