/**
 * Property-based tests of the privacy invariants, through the real worker and the real fake origin:
 * 1. a credentialed request (any spelling) is never stored nor answered from the store;
 * 2. a reserved path (any spelling) is never proxied;
 * 3. a stored copy never holds a credential header or a Set-Cookie (Cache API and KV entries as
 *    stored, the memory entry as it is served);
 * 4. a served copy's body is the stored one, byte for byte the healthy answer's.
 * Seeded (SEED in property-arbitraries.ts) and bounded: every run is a handful of real requests.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { matchReserved } from "../src/reserved-path.ts";
import { headerKey } from "../src/scrub/names.ts";
import { ADMIN_HEADERS, harness, ORIGIN_URL, requestPoints, scenario, uniqueOriginName } from "./helpers.ts";
import { allKvKeys, cacheCopy, expectNothingStored, expectOrigin502, headerList, keyFor, kvCopy } from "./privacy-helpers.ts";
import {
  anyCookieHeader,
  CONFIGURED_SENSITIVE_HEADER,
  credentialHeader,
  RESPONSE_CREDENTIAL_HEADERS,
  reservedPath,
  responseHeaderSet,
  SEED,
  secretParamSpelling,
  sessionCookieHeader,
} from "./property-arbitraries.ts";

/** Runs per property, chosen so the whole file stays within about 20 s on a 2-core machine. */
const RUNS = { credentialed: 300, reserved: 1000, stored: 200 } as const;
const TIMEOUT_MS = 120_000;
const EDGE = "https://edge.example.com";

/** The key every credentialed request below shares once its secrets are dropped, and the anonymous request for it. */
const ANONYMOUS = "/account?x=1";

interface Credentialed {
  overrides: Record<string, string>;
  path: string;
  headers: Record<string, string>;
}

const credentialed: fc.Arbitrary<Credentialed> = fc.oneof(
  credentialHeader.map((h) => ({ overrides: { SENSITIVE_HEADERS: JSON.stringify([CONFIGURED_SENSITIVE_HEADER]) }, path: ANONYMOUS, headers: { [h.name]: h.value } })),
  anyCookieHeader.map((cookie) => ({ overrides: {}, path: ANONYMOUS, headers: { cookie } })),
  sessionCookieHeader.map((cookie) => ({ overrides: { SESSION_COOKIES: '["sid", "s_id"]' }, path: ANONYMOUS, headers: { cookie } })),
  fc
    .tuple(secretParamSpelling, fc.stringMatching(/^[A-Za-z0-9]{0,8}$/), fc.boolean())
    .map(([param, value, first]) => ({ overrides: {}, path: first ? `/account?${param.name}=${value}&x=1` : `/account?x=1&${param.name}=${value}`, headers: {} })),
);

/**
 * Content codings the fake origin applies for real (x-custom inverts every byte): the runtime
 * decodes plain gzip and br, the copy keeps the others' bytes and label. Every request accepts them
 * all, so a copy may answer each one.
 */
const contentEncoding = fc.constantFrom(undefined, "gzip", "br", "deflate", "zstd", "x-custom", "gzip, br", "identity");
const ACCEPT_ALL = { headers: { "accept-encoding": "gzip, deflate, br, zstd, x-custom" } };

/** Names a stored or served copy carries that read as a credential header. */
function credentialNames(headers: [string, string][]): string[] {
  return headers.map(([name]) => name).filter((name) => RESPONSE_CREDENTIAL_HEADERS.has(headerKey(name)));
}

describe("privacy properties (fast-check, seeded)", () => {
  it(`a credentialed request, in any spelling, is never stored nor answered from the store (${RUNS.credentialed} inputs)`, { timeout: TIMEOUT_MS }, async () => {
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(credentialed, async (c) => {
        tried++;
        const h = harness(c.overrides);
        const s = scenario("prop-cred");
        const kvBefore = await allKvKeys();
        const first = await h.fetch(s.url(c.path), { headers: c.headers });
        expect(first.status).toBe(200);
        expect(first.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
        await first.arrayBuffer();
        expect(requestPoints(h.metrics).map((p) => p.blobs?.[6])).toEqual(["skip:credentialed"]);
        expect([...(await allKvKeys())].filter((k) => !kvBefore.has(k))).toEqual([]);
        expect(await cacheCopy(keyFor(s, ANONYMOUS))).toBeUndefined();
        // No tier (memory included) holds a copy: the anonymous request for the key gets the origin's 502.
        await s.set({ mode: "status", status: 502 });
        await expectOrigin502(h, s, s.url(ANONYMOUS));

        // An anonymous copy exists; the credentialed request still gets the origin's own 502.
        await s.set({ mode: "healthy" });
        const anonymous = await h.fetch(s.url(ANONYMOUS));
        expect(anonymous.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
        await anonymous.arrayBuffer();
        await s.set({ mode: "status", status: 502 });
        await expectOrigin502(h, s, s.url(c.path), { headers: c.headers });
      }),
      { seed: SEED, numRuns: RUNS.credentialed },
    );
    expect(tried).toBe(RUNS.credentialed);
  });

  it(`a reserved path, in any spelling and method, is never proxied: the origin's log stays empty (${RUNS.reserved} inputs)`, { timeout: TIMEOUT_MS }, async () => {
    const s = scenario("prop-reserved");
    const originName = uniqueOriginName();
    // The origin lives under the scenario's prefix, so whatever is forwarded lands in its log.
    const h = harness({ ORIGINS: JSON.stringify([{ name: originName, url: `${ORIGIN_URL}/s/${s.id}`, weight: 1 }]) }, { originName });
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(reservedPath, fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE"), async (path, method) => {
        tried++;
        const url = `${EDGE}${path}`;
        // The generator's own check: every input reads as the namespace.
        expect([path, matchReserved(new URL(url).pathname)]).not.toEqual([path, "none"]);
        const res = await h.fetch(url, { method, headers: ADMIN_HEADERS, ...(method === "POST" || method === "PUT" ? { body: "x" } : {}) });
        await res.arrayBuffer();
        expect(res.headers.get("x-origin-user")).toBeNull();
        expect((await s.log()).count).toBe(0);
      }),
      { seed: SEED, numRuns: RUNS.reserved },
    );
    expect(tried).toBe(RUNS.reserved);
    // The same worker forwards an ordinary path to that prefix: the empty log above is real.
    const control = await h.fetch(`${EDGE}/hello`);
    expect(control.status).toBe(200);
    await control.arrayBuffer();
    expect((await s.log()).count).toBe(1);
  });

  it(
    `a stored copy never holds a credential header or Set-Cookie, and every tier serves the healthy answer's bytes (${RUNS.stored} inputs)`,
    { timeout: TIMEOUT_MS },
    async () => {
      let tried = 0;
      let stored = 0;
      await fc.assert(
        fc.asyncProperty(responseHeaderSet, fc.boolean(), fc.nat({ max: 4000 }), contentEncoding, async (set, publicRoute, bodyBytes, encoding) => {
          tried++;
          const s = scenario("prop-stored");
          const overrides = publicRoute ? { PUBLIC_ROUTES: JSON.stringify([`/s/${s.id}/*`]) } : {};
          const h = harness(overrides);
          await s.set({ mode: "healthy", headers: set.headers, ...(bodyBytes > 0 ? { bodyBytes } : {}), ...(encoding ? { encoding } : {}) });
          const healthy = await h.fetch(s.url("/doc"), ACCEPT_ALL);
          expect(healthy.status).toBe(200);
          const healthyBytes = new Uint8Array(await healthy.arrayBuffer());
          // The tiers' readers decode stored bodies as UTF-8 text; the same bytes decode the same way.
          const healthyBody = new TextDecoder().decode(healthyBytes);
          const key = keyFor(s, "/doc");
          const expectStored = !set.denied && (publicRoute || !set.setsCookie);
          expect(healthy.headers.get("cache-status")).toBe(`edge-fallback; fwd=bypass; fwd-status=200${expectStored ? "; stored" : ""}`);

          if (!expectStored) {
            await expectNothingStored(key);
            await s.set({ mode: "status", status: 502 });
            await expectOrigin502(h, s, s.url("/doc"), ACCEPT_ALL);
            return;
          }
          stored++;
          const cache = await cacheCopy(key);
          const kv = await kvCopy(key);
          expect(credentialNames(cache!.headers)).toEqual([]);
          expect(credentialNames(cache!.responseHeaders)).toEqual([]);
          expect(credentialNames(kv!.headers)).toEqual([]);
          expect(cache!.body).toBe(healthyBody);
          expect(kv!.body).toBe(healthyBody);

          await s.set({ mode: "status", status: 502 });
          // Memory first in this worker, then fresh workers that hold only the Cache API or only KV.
          const workers = [h, harness({ ...overrides, LKG_TIERS: '["cache"]' }, { originName: h.originName }), harness({ ...overrides, LKG_TIERS: '["kv"]' }, { originName: h.originName })];
          for (const worker of workers) {
            const served = await worker.fetch(s.url("/doc"), ACCEPT_ALL);
            expect(served.status).toBe(200);
            expect(served.headers.get("age")).not.toBeNull();
            expect(credentialNames(headerList(served))).toEqual([]);
            expect(new Uint8Array(await served.arrayBuffer())).toEqual(healthyBytes);
          }
        }),
        { seed: SEED, numRuns: RUNS.stored },
      );
      expect(tried).toBe(RUNS.stored);
      // Both branches ran: the property is not vacuous.
      expect(stored).toBeGreaterThan(RUNS.stored / 4);
      expect(stored).toBeLessThan(RUNS.stored);
    },
  );
});
