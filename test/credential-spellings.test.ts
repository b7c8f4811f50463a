/**
 * Credentials under every spelling an origin would still read as one: header names compared as a
 * CGI-style origin does (case-insensitive, `_` = `-`), any non-empty Cookie when every cookie
 * counts, nameless cookies, the built-in list of auth headers, and secret query parameters
 * spelled as PHP or a percent-decoder would see them. A request carrying one is never stored and
 * never answered from the store; a stored copy never keeps such a header under any spelling.
 */
import { describe, expect, it } from "vitest";
import { BUILTIN_SENSITIVE_HEADERS } from "../src/config.ts";
import { harness, requestPoints, scenario, type Harness } from "./helpers.ts";
import { allKvKeys, cacheCopy, expectNothingStored, expectOrigin502, keyFor, kvCopy, kvKeyFor, type Scenario } from "./privacy-helpers.ts";

/**
 * The credentialed request while the origin is healthy is not stored; an anonymous one then is;
 * with the origin failing, the credentialed request gets the origin's 502, never that copy.
 */
async function expectNeverStoredNorServed(h: Harness, s: Scenario, credentialed: { path: string; init?: RequestInit }, anonymousPath: string): Promise<void> {
  const a = await h.fetch(s.url(credentialed.path), credentialed.init);
  expect(a.status).toBe(200);
  expect(a.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
  expect(await a.json()).toMatchObject({ seq: 1 });
  expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:credentialed"]);
  await expectNothingStored(keyFor(s, anonymousPath));

  const anonymous = await h.fetch(s.url(anonymousPath));
  expect(anonymous.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
  expect(await anonymous.json()).toMatchObject({ seq: 2, user: "anonymous" });

  await s.set({ mode: "status", status: 502 });
  await expectOrigin502(h, s, s.url(credentialed.path), credentialed.init);
  const served = await h.fetch(s.url(anonymousPath));
  expect(served.status).toBe(200);
  expect(await served.json()).toMatchObject({ seq: 2, user: "anonymous" });
}

describe("credential headers under another spelling", () => {
  for (const name of ["x_api_key", "X_Api_Key", "X-API-KEY", "proxy_authorization", "x_auth_token"]) {
    it(`a request carrying ${name} is never stored nor answered from the store`, async () => {
      const h = harness();
      const s = scenario("spell-header");
      await expectNeverStoredNorServed(h, s, { path: "/account", init: { headers: { [name]: "A" } } }, "/account");
      // workerd forwards the underscore spelling as it is: the origin does see the credential.
      expect((await s.log()).requests[0]!.headers[name.toLowerCase()]).toBe("A");
    });
  }

  it("a configured sensitive header given with underscores (X_Tenant_Secret) matches x-tenant-secret and x_tenant_secret", async () => {
    for (const sent of ["x-tenant-secret", "x_tenant_secret"]) {
      const h = harness({ SENSITIVE_HEADERS: '["X_Tenant_Secret"]' });
      const s = scenario("spell-configured");
      await expectNeverStoredNorServed(h, s, { path: "/account", init: { headers: { [sent]: "A" } } }, "/account");
    }
  });
});

describe("the built-in list of auth headers (SENSITIVE_HEADERS empty)", () => {
  for (const name of BUILTIN_SENSITIVE_HEADERS) {
    it(`a request carrying ${name} is never stored nor answered from the store`, async () => {
      const h = harness({ SENSITIVE_HEADERS: "[]" });
      const s = scenario("builtin-header");
      await expectNeverStoredNorServed(h, s, { path: "/account", init: { headers: { [name]: "A" } } }, "/account");
    });
  }
});

describe('cookies with SESSION_COOKIES ["*"]: any non-empty Cookie header', () => {
  for (const cookie of ["=USERA", ";", " ; =USERA", "USERA", "a=1;;", "=", "  theme = dark  "]) {
    it(`Cookie: ${JSON.stringify(cookie)} is credentialed`, async () => {
      const h = harness();
      const s = scenario("cookie-any");
      await expectNeverStoredNorServed(h, s, { path: "/account", init: { headers: { cookie } } }, "/account");
    });
  }
});

describe('cookies with SESSION_COOKIES ["sid"]', () => {
  for (const cookie of ["SID=A", "Sid=A", "=USERA", "USERA", "theme=1; =A", "theme=1, sid=A", " sid =A", "s%69d=A", "s.id=A"]) {
    it(`Cookie: ${JSON.stringify(cookie)} is credentialed (case, nameless, joined, spaced, encoded or PHP-mangled)`, async () => {
      const h = harness({ SESSION_COOKIES: '["sid", "s_id"]' });
      const s = scenario("cookie-named");
      await expectNeverStoredNorServed(h, s, { path: "/account", init: { headers: { cookie } } }, "/account");
    });
  }

  it("Cookie: theme=dark is not a session cookie: the answer is stored (control)", async () => {
    const h = harness({ SESSION_COOKIES: '["sid"]' });
    const s = scenario("cookie-named-ok");
    const res = await h.fetch(s.url("/account"), { headers: { cookie: "theme=dark" } });
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await res.arrayBuffer();
  });
});

describe("secret query parameters under another spelling", () => {
  for (const param of ["acc%65ss_token", "TOKEN", "token[]", "token[0]", "access.token", "access+token", "Access-Token", "X_Amz_Signature", "api.key", "%20token"]) {
    it(`?${param}=A&x=1 is credentialed, and the parameter is left out of the key`, async () => {
      const h = harness();
      const s = scenario("spell-query");
      await expectNeverStoredNorServed(h, s, { path: `/account?${param}=A&x=1` }, "/account?x=1");
    });
  }

  it("a public-route answer to ?token[]=SECRET&x=1 is stored under the key without it, in no KV key or copy", async () => {
    const s = scenario("spell-query-public");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    const before = await allKvKeys();
    const res = await h.fetch(s.url("/doc?token[]=SECRET&x=1&Access.Token=SECRET2"));
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await res.arrayBuffer();
    const added = [...(await allKvKeys())].filter((k) => !before.has(k));
    expect(added).toEqual([await kvKeyFor(keyFor(s, "/doc?x=1"))]);
    expect(await cacheCopy(keyFor(s, "/doc?x=1"))).toMatchObject({ status: 200 });
  });
});

describe("stored copies keep no credential header under a variant spelling", () => {
  it("strips x_api_key, X_Auth_Token, www_authenticate, proxy_authorization and set_cookie from the stored copy", async () => {
    const s = scenario("spell-strip");
    const h = harness({ PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) });
    await s.set({
      mode: "healthy",
      headers: { x_api_key: "k", X_Auth_Token: "t", www_authenticate: "Bearer", set_cookie: "sid=1", proxy_authorization: "Basic x", "x-kept": "yes" },
    });
    const res = await h.fetch(s.url("/doc"));
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    await res.arrayBuffer();
    const expected: [string, string][] = [
      ["content-type", "application/json"],
      ["x-kept", "yes"],
      ["x-origin-seq", expect.any(String)],
      ["x-origin-served-at", expect.any(String)],
      ["x-origin-user", "anonymous"],
    ];
    expect((await cacheCopy(keyFor(s, "/doc")))?.headers).toEqual(expected);
    expect((await kvCopy(keyFor(s, "/doc")))?.headers).toEqual(expected);
  });
});
