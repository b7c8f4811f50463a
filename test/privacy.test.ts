/**
 * The test that matters: user B never receives anything that only user A's request produced.
 * The fake origin stamps who asked into every healthy answer (`user` in the JSON body and an
 * `x-origin-user` header), so a leak shows up as the wrong user in someone else's answer.
 */
import { describe, expect, it } from "vitest";
import { harness, scenario } from "./helpers.ts";
import {
  allKvKeys,
  cacheCopy,
  expectNothingStored,
  expectOrigin502,
  expectUnreachable503,
  headerList,
  keyFor,
  kvCopy,
  kvKeyFor,
  type OriginAnswer,
  type Scenario,
} from "./privacy-helpers.ts";

/**
 * User A makes a credentialed request, then the origin fails and an anonymous user and user B
 * ask for the same URL (same LKG key once secrets are dropped). Neither may get A's answer.
 */
async function expectCredentialedAnswerNotShared(opts: {
  label: string;
  path: string;
  a: RequestInit;
  aUser: string;
  bUrl: (s: Scenario) => string;
  b: RequestInit;
  anonymousPath: string;
}): Promise<void> {
  const h = harness();
  const s = scenario(opts.label);
  const aRes = await h.fetch(s.url(opts.path), opts.a);
  expect(aRes.status).toBe(200);
  expect(aRes.headers.get("x-origin-user")).toBe(opts.aUser);
  // Proxied, but not marked stored.
  expect(aRes.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
  expect(await aRes.json()).toMatchObject({ scenario: s.id, seq: 1, user: opts.aUser, path: `/s/${s.id}${opts.path}` });
  await expectNothingStored(keyFor(s, opts.anonymousPath));

  await s.set({ mode: "status", status: 502 });
  await expectOrigin502(h, s, s.url(opts.anonymousPath));
  await expectOrigin502(h, s, opts.bUrl(s), opts.b);

  await s.set({ mode: "reset" });
  await expectUnreachable503(h, s.url(opts.anonymousPath));
  await expectUnreachable503(h, opts.bUrl(s), opts.b);

  const log = await s.log();
  expect(log.count).toBe(5);
}

describe("credentialed requests are proxied but never stored", () => {
  it("does NOT store a response to a request that carried Authorization: anonymous and user B get the origin's 502 / a 503", async () => {
    await expectCredentialedAnswerNotShared({
      label: "priv-auth",
      path: "/account",
      a: { headers: { authorization: "Bearer A" } },
      aUser: "auth:A",
      bUrl: (s) => s.url("/account"),
      b: { headers: { authorization: "Bearer B" } },
      anonymousPath: "/account",
    });
  });

  it("does NOT store a response to a request that carried a session cookie", async () => {
    await expectCredentialedAnswerNotShared({
      label: "priv-cookie",
      path: "/account",
      a: { headers: { cookie: "theme=dark; sid=A" } },
      aUser: "cookie:A",
      bUrl: (s) => s.url("/account"),
      b: { headers: { cookie: "sid=B" } },
      anonymousPath: "/account",
    });
  });

  it("does NOT store a response to a request that carried a secret query param (?token=A), though the key would drop it", async () => {
    await expectCredentialedAnswerNotShared({
      label: "priv-token",
      path: "/account?token=A",
      a: {},
      aUser: "query:A",
      bUrl: (s) => s.url("/account?token=B"),
      b: {},
      anonymousPath: "/account",
    });
  });

  it("does NOT store a response to a request that carried a secret query param under another case (?Access_Token=A)", async () => {
    const h = harness();
    const s = scenario("priv-token-case");
    const aRes = await h.fetch(s.url("/account?Access_Token=A&x=1"));
    expect(aRes.status).toBe(200);
    expect(aRes.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await aRes.arrayBuffer();
    await expectNothingStored(keyFor(s, "/account?x=1"));
    await s.set({ mode: "status", status: 502 });
    await expectOrigin502(h, s, s.url("/account?x=1"));
  });

  it("does NOT store a response to a request that carried a configured sensitive header (X-Api-Key)", async () => {
    // The fake origin does not know X-Api-Key, so A's answer says "anonymous": only seq tells it apart.
    await expectCredentialedAnswerNotShared({
      label: "priv-apikey",
      path: "/account",
      a: { headers: { "x-api-key": "A" } },
      aUser: "anonymous",
      bUrl: (s) => s.url("/account"),
      b: { headers: { "x-api-key": "B" } },
      anonymousPath: "/account",
    });
  });

  it("does NOT store a response to a request that carried Proxy-Authorization", async () => {
    await expectCredentialedAnswerNotShared({
      label: "priv-proxyauth",
      path: "/account",
      a: { headers: { "proxy-authorization": "Basic QTpB" } },
      aUser: "anonymous",
      bUrl: (s) => s.url("/account"),
      b: {},
      anonymousPath: "/account",
    });
  });

  it("does NOT serve a stored public copy to a credentialed request either (its answer may differ per user)", async () => {
    const h = harness();
    const s = scenario("priv-cred-no-lookup");
    expect((await h.fetch(s.url("/page"))).status).toBe(200);
    await s.set({ mode: "status", status: 502 });
    await expectOrigin502(h, s, s.url("/page"), { headers: { authorization: "Bearer B" } });
    // The copy exists and an anonymous request gets it.
    const anon = await h.fetch(s.url("/page"));
    expect(anon.status).toBe(200);
    expect(await anon.json()).toMatchObject({ seq: 1, user: "anonymous" });
  });

  it("stores an anonymous answer and serves it to a later anonymous request (control: the store does work here)", async () => {
    const h = harness();
    const s = scenario("priv-control");
    const first = await h.fetch(s.url("/account"));
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await first.arrayBuffer();
    expect(await cacheCopy(keyFor(s, "/account"))).toMatchObject({ status: 200 });
    expect(await kvCopy(keyFor(s, "/account"))).toMatchObject({ origin: h.originName });

    await s.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/account"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await res.json()).toMatchObject({ scenario: s.id, seq: 1, user: "anonymous" });
  });
});

describe("stored copies carry no credentials", () => {
  const ORIGIN_HEADERS = {
    "set-cookie": "sid=xyz; Path=/; HttpOnly",
    "x-api-key": "k",
    authorization: "Bearer from-origin",
    "proxy-authorization": "Basic b3JpZ2lu",
    "www-authenticate": 'Bearer realm="origin"',
    "x-kept": "yes",
  };

  // On a public route: elsewhere an answer with Set-Cookie is not stored at all (test/store-rules.test.ts).
  it("strips Set-Cookie, Authorization and configured sensitive headers from the Cache API copy, the KV copy and the fallback answer", async () => {
    const s = scenario("priv-strip");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    await s.set({ mode: "healthy", headers: ORIGIN_HEADERS });
    const first = await h.fetch(s.url("/page"));
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    // The requester gets its own Set-Cookie: it is only the shared copy that must not have it.
    expect(first.headers.get("set-cookie")).toBe("sid=xyz; Path=/; HttpOnly");
    const original = (await first.json()) as OriginAnswer;

    const expectedStored: [string, string][] = [
      ["content-type", "application/json"],
      ["x-kept", "yes"],
      ["x-origin-seq", expect.any(String)],
      ["x-origin-served-at", expect.any(String)],
      ["x-origin-user", "anonymous"],
    ];
    const key = keyFor(s, "/page");

    const cached = await cacheCopy(key);
    if (!cached) throw new Error(`no Cache API copy under ${key}`);
    expect(cached.status).toBe(200);
    expect(cached.headers).toEqual(expectedStored);
    expect(cached.responseHeaders.map(([n]) => n).filter((n) => ["set-cookie", "authorization", "x-api-key", "cookie"].includes(n))).toEqual([]);
    expect(JSON.parse(cached.body)).toEqual(original);

    const stored = await kvCopy(key);
    if (!stored) throw new Error(`no KV copy under ${await kvKeyFor(key)}`);
    expect(stored.headers).toEqual(expectedStored);
    expect(stored.origin).toBe(h.originName);
    expect(stored.metadata).toMatchObject({ v: 1, status: 200 });
    expect(JSON.parse(stored.body)).toEqual(original);

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(3_000);
    const fallback = await h.fetch(s.url("/page"));
    expect(fallback.status).toBe(200);
    expect(headerList(fallback)).toEqual([
      ["age", "3"],
      ["cache-status", "edge-fallback; hit; detail=stale-origin-5xx"],
      ["content-length", String(new TextEncoder().encode(stored.body).byteLength)],
      ["content-type", "application/json"],
      ["x-kept", "yes"],
      ["x-origin-seq", expect.any(String)],
      ["x-origin-served-at", expect.any(String)],
      ["x-origin-user", "anonymous"],
    ]);
    expect(await fallback.json()).toEqual(original);
  });

  it("strips credentials from the copy served by a fresh worker from the Cache API / KV tiers (no memory copy)", async () => {
    const s = scenario("priv-strip-l2");
    const writer = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    await s.set({ mode: "healthy", headers: ORIGIN_HEADERS });
    expect((await writer.fetch(s.url("/page"))).status).toBe(200);

    await s.set({ mode: "status", status: 502 });
    const reader = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) }, { clock: writer.clock });
    const fallback = await reader.fetch(s.url("/page"));
    expect(fallback.status).toBe(200);
    for (const name of ["set-cookie", "authorization", "proxy-authorization", "www-authenticate", "x-api-key", "cookie"]) {
      expect(fallback.headers.get(name)).toBeNull();
    }
    expect(fallback.headers.get("x-kept")).toBe("yes");
    expect(await fallback.json()).toMatchObject({ scenario: s.id, seq: 1, user: "anonymous" });
  });
});

describe("PUBLIC_ROUTES", () => {
  it("DOES store a credentialed answer on a public route, under a key without the secret query param, with no Set-Cookie/Authorization", async () => {
    const s = scenario("priv-public");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/pub/*`]) });
    await s.set({ mode: "healthy", headers: { "set-cookie": "sid=xyz", authorization: "Bearer from-origin", "x-api-key": "k" } });
    const before = await allKvKeys();

    const aRes = await h.fetch(s.url("/pub/doc?v=2&token=A"), { headers: { authorization: "Bearer A", cookie: "sid=A" } });
    expect(aRes.status).toBe(200);
    expect(aRes.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    const original = (await aRes.json()) as OriginAnswer;
    expect(original).toMatchObject({ seq: 1, user: "auth:A", path: `/s/${s.id}/pub/doc?v=2&token=A` });

    const key = keyFor(s, "/pub/doc?v=2");
    const expectedStored: [string, string][] = [
      ["content-type", "application/json"],
      ["x-origin-seq", expect.any(String)],
      ["x-origin-served-at", expect.any(String)],
      ["x-origin-user", "auth:A"],
    ];
    const cached = await cacheCopy(key);
    if (!cached) throw new Error(`no Cache API copy under ${key}`);
    expect(cached.headers).toEqual(expectedStored);
    const stored = await kvCopy(key);
    if (!stored) throw new Error("no KV copy");
    expect(stored.headers).toEqual(expectedStored);
    // Nothing under a key that still has the token, in either tier.
    await expectNothingStored(keyFor(s, "/pub/doc?v=2&token=A"));
    await expectNothingStored(keyFor(s, "/pub/doc?token=A&v=2"));
    const added = [...(await allKvKeys())].filter((k) => !before.has(k));
    expect(added).toEqual([await kvKeyFor(key)]);

    // The operator declared the route public: the copy stands in for anyone while the origin fails.
    await s.set({ mode: "status", status: 502 });
    const fallback = await h.fetch(s.url("/pub/doc?v=2"));
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get("set-cookie")).toBeNull();
    expect(fallback.headers.get("authorization")).toBeNull();
    expect(fallback.headers.get("x-api-key")).toBeNull();
    expect(await fallback.json()).toEqual(original);
  });

  it("does NOT store a credentialed answer on a path outside the public pattern", async () => {
    const s = scenario("priv-public-outside");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/pub/*`]) });
    const aRes = await h.fetch(s.url("/private/doc"), { headers: { authorization: "Bearer A" } });
    expect(aRes.status).toBe(200);
    expect(aRes.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await aRes.arrayBuffer();
    await expectNothingStored(keyFor(s, "/private/doc"));
    await s.set({ mode: "status", status: 502 });
    await expectOrigin502(h, s, s.url("/private/doc"));
  });

  it("treats an exact public pattern as exact: /pub matches /pub only, not /pub/doc", async () => {
    const s = scenario("priv-public-exact");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/pub`]) });
    const exact = await h.fetch(s.url("/pub"), { headers: { authorization: "Bearer A" } });
    expect(exact.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await exact.arrayBuffer();
    const deeper = await h.fetch(s.url("/pub/doc"), { headers: { authorization: "Bearer A" } });
    expect(deeper.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await deeper.arrayBuffer();
    expect(await cacheCopy(keyFor(s, "/pub"))).toMatchObject({ status: 200 });
    await expectNothingStored(keyFor(s, "/pub/doc"));
  });
});

describe("responses the origin marks as not shareable", () => {
  for (const cacheControl of ["private", "private, max-age=60", "no-store", "public, no-store"]) {
    it(`never stores a Cache-Control: ${cacheControl} answer: the fallback gives the origin's 502, then 503`, async () => {
      const h = harness();
      const s = scenario("priv-cc");
      await s.set({ mode: "healthy", headers: { "cache-control": cacheControl } });
      const first = await h.fetch(s.url("/page"));
      expect(first.status).toBe(200);
      expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
      await first.arrayBuffer();
      await expectNothingStored(keyFor(s, "/page"));

      await s.set({ mode: "status", status: 502 });
      await expectOrigin502(h, s, s.url("/page"));
      await s.set({ mode: "reset" });
      await expectUnreachable503(h, s.url("/page"));
    });
  }

  it("never stores a Vary: User-Agent answer", async () => {
    const h = harness();
    const s = scenario("priv-vary-ua");
    await s.set({ mode: "healthy", headers: { vary: "User-Agent" } });
    const first = await h.fetch(s.url("/page"), { headers: { "user-agent": "A-agent" } });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await first.arrayBuffer();
    await expectNothingStored(keyFor(s, "/page"));
    await s.set({ mode: "status", status: 502 });
    await expectOrigin502(h, s, s.url("/page"), { headers: { "user-agent": "B-agent" } });
  });

  it("never stores a Vary: Accept-Encoding, Cookie answer", async () => {
    const h = harness();
    const s = scenario("priv-vary-cookie");
    await s.set({ mode: "healthy", headers: { vary: "Accept-Encoding, Cookie" } });
    const first = await h.fetch(s.url("/page"));
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    await first.arrayBuffer();
    await expectNothingStored(keyFor(s, "/page"));
  });

  it("stores a Vary: Accept-Encoding answer and serves it when the origin fails", async () => {
    const h = harness();
    const s = scenario("priv-vary-ae");
    await s.set({ mode: "healthy", headers: { vary: "Accept-Encoding" } });
    const first = await h.fetch(s.url("/page"), { headers: { "accept-encoding": "gzip" } });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    const original = (await first.json()) as OriginAnswer;
    const cached = await cacheCopy(keyFor(s, "/page"));
    if (!cached) throw new Error("no Cache API copy");
    expect(cached.headers).toEqual([
      ["content-type", "application/json"],
      ["vary", "Accept-Encoding"],
      ["x-origin-seq", expect.any(String)],
      ["x-origin-served-at", expect.any(String)],
      ["x-origin-user", "anonymous"],
    ]);

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(1_000);
    const res = await h.fetch(s.url("/page"), { headers: { "accept-encoding": "br" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("vary")).toBe("Accept-Encoding");
    expect(res.headers.get("age")).toBe("1");
    expect(await res.json()).toEqual(original);
  });
});

describe("cache keys", () => {
  it("shares one copy between ?a=1&b=2 and ?b=2&a=1", async () => {
    const h = harness();
    const s = scenario("priv-key-order");
    const first = await h.fetch(s.url("/list?a=1&b=2"));
    expect(first.status).toBe(200);
    const original = (await first.json()) as OriginAnswer;
    expect(await cacheCopy(keyFor(s, "/list?a=1&b=2"))).toMatchObject({ status: 200 });
    await expectNothingStored(keyFor(s, "/list?b=2&a=1"));

    await s.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/list?b=2&a=1"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await res.json()).toEqual(original);
    expect(original.path).toBe(`/s/${s.id}/list?a=1&b=2`);
  });

  it("serves the ?x=1 copy to a public-route request ?x=1&token=SECRET, and the token is in no KV key or cache key", async () => {
    const s = scenario("priv-key-secret");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    const before = await allKvKeys();
    const first = await h.fetch(s.url("/doc?x=1"));
    expect(first.status).toBe(200);
    const original = (await first.json()) as OriginAnswer;
    expect(original).toMatchObject({ user: "anonymous", path: `/s/${s.id}/doc?x=1` });

    await s.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/doc?x=1&token=SECRET"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await res.json()).toEqual(original);

    // The failed token request went to the origin, but nothing it carried reached storage.
    const log = await s.log();
    expect(log.requests.map((r) => r.path)).toEqual([`/s/${s.id}/doc?x=1`, `/s/${s.id}/doc?x=1&token=SECRET`]);
    const added = [...(await allKvKeys())].filter((k) => !before.has(k));
    expect(added).toEqual([await kvKeyFor(keyFor(s, "/doc?x=1"))]);
    expect(added.some((k) => k.includes("SECRET") || k.includes("token"))).toBe(false);
    await expectNothingStored(keyFor(s, "/doc?token=SECRET&x=1"));
    await expectNothingStored(keyFor(s, "/doc?x=1&token=SECRET"));
    const stored = await kvCopy(keyFor(s, "/doc?x=1"));
    if (!stored) throw new Error("no KV copy");
    expect(JSON.stringify(stored.headers)).not.toContain("SECRET");
    expect(stored.body).not.toContain("SECRET");
  });

  it("stores a public-route answer to ?token=A&x=1 under the token-less key, so ?x=1&token=B is served A's public answer", async () => {
    const s = scenario("priv-key-public-token");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    const first = await h.fetch(s.url("/doc?token=A&x=1"));
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    const original = (await first.json()) as OriginAnswer;
    expect(await cacheCopy(keyFor(s, "/doc?x=1"))).toMatchObject({ status: 200 });
    await expectNothingStored(keyFor(s, "/doc?token=A&x=1"));

    await s.set({ mode: "status", status: 502 });
    const res = await h.fetch(s.url("/doc?x=1&token=B"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(original);
  });
});
