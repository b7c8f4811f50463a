/**
 * Stored copies keep the bytes and the Content-Encoding a healthy client got. workerd's fetch
 * decodes a body only when Content-Encoding is exactly `gzip` or `br`; every other encoding reaches
 * the worker (and the client) as the origin's bytes, so the copy must keep saying what they are.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, harness, ORIGIN_URL, requestPoints, scenario } from "./helpers.ts";

/** Every encoding the fake origin can send (scripts/lib/fake-origin.ts), and whether workerd's fetch decodes it. */
const ENCODINGS: { encoding: string | undefined; decodedByRuntime: boolean }[] = [
  { encoding: undefined, decodedByRuntime: false },
  { encoding: "gzip", decodedByRuntime: true },
  { encoding: "br", decodedByRuntime: true },
  { encoding: "deflate", decodedByRuntime: false },
  { encoding: "zstd", decodedByRuntime: false },
  { encoding: "gzip, br", decodedByRuntime: false },
  { encoding: "x-custom", decodedByRuntime: false },
];

const ACCEPT_ALL = "gzip, deflate, br, zstd, x-custom";

function isJson(bytes: ArrayBuffer): boolean {
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}

describe("what workerd's fetch decodes (the rule src/scrub/encoding.ts relies on)", () => {
  // compatibility_date 2026-10-01 in wrangler.toml: brotli_content_encoding is on (from 2024-04-29).
  for (const [encoding, decoded] of [
    ["gzip", true],
    ["br", true],
    ["x-gzip", false],
    ["GZIP", false],
    ["deflate", false],
    ["zstd", false],
    ["gzip, br", false],
    ["gzip, identity", false],
    ["x-custom", false],
    ["identity", true],
  ] as const) {
    it(`Content-Encoding ${JSON.stringify(encoding)}: the body arrives ${decoded ? "decoded" : "as the origin's bytes"}, the header unchanged`, async () => {
      const s = scenario("enc-runtime");
      await s.set({ mode: "healthy", encoding, stableBody: true });
      const res = await fetch(`${ORIGIN_URL}/s/${s.id}/x`, { headers: { "accept-encoding": ACCEPT_ALL } });
      expect(res.headers.get("content-encoding")).toBe(encoding);
      expect(isJson(await res.arrayBuffer())).toBe(decoded);
    });
  }
});

describe("a fallback answer has the bytes and the Content-Encoding of the healthy answer, per tier", () => {
  for (const tier of ["memory", "cache", "kv"] as const) {
    for (const { encoding, decodedByRuntime } of ENCODINGS) {
      const label = encoding ?? "identity";
      it(`${tier} tier, ${label}`, async () => {
        const h = harness({ LKG_TIERS: JSON.stringify([tier]) });
        const s = scenario(`enc-${tier}`);
        await s.set({ mode: "healthy", ...(encoding ? { encoding } : {}) });
        const init = { headers: { "accept-encoding": ACCEPT_ALL } };
        const healthy = await h.fetch(s.url("/doc"), init);
        expect(healthy.status).toBe(200);
        expect(healthy.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
        const healthyBytes = new Uint8Array(await healthy.arrayBuffer());
        expect(healthy.headers.get("content-encoding")).toBe(encoding ?? null);

        await s.set({ mode: "status", status: 502 });
        h.clock.advance(2_000);
        const fallback = await h.fetch(s.url("/doc"), init);
        expect(fallback.status).toBe(200);
        expect(fallback.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
        expect(requestPoints(h.metrics)[1]?.blobs?.[4]).toBe(tier);
        const fallbackBytes = new Uint8Array(await fallback.arrayBuffer());
        expect(fallbackBytes).toEqual(healthyBytes);
        if (decodedByRuntime) {
          // The runtime handed us the decoded body (and would encode it again on the way out):
          // the copy is that body, served as identity.
          expect(isJson(fallbackBytes.buffer)).toBe(true);
          expect(fallback.headers.get("content-encoding")).toBeNull();
        } else {
          // The origin's bytes as they came: labelled as the origin labelled them.
          expect(isJson(fallbackBytes.buffer)).toBe(encoding === undefined);
          expect(fallback.headers.get("content-encoding")).toBe(encoding ?? null);
        }
      });
    }
  }
});

describe("a copy still encoded is served only to a client that accepts its encoding (RFC 9110 §12.5.3)", () => {
  async function storedThenFailing(encoding: string, tiers = '["memory","cache","kv"]') {
    const h = harness({ LKG_TIERS: tiers });
    const s = scenario("enc-accept");
    await s.set({ mode: "healthy", encoding });
    const url = s.url("/a");
    const healthy = await h.fetch(url, { headers: { "accept-encoding": ACCEPT_ALL } });
    const bytes = new Uint8Array(await healthy.arrayBuffer());
    await s.set({ mode: "status", status: 502 });
    return { h, url, bytes };
  }

  const cases: { encoding: string; acceptEncoding: string | undefined; served: boolean }[] = [
    { encoding: "zstd", acceptEncoding: "gzip, deflate, br, zstd", served: true },
    { encoding: "zstd", acceptEncoding: "gzip, br", served: false },
    { encoding: "zstd", acceptEncoding: "zstd;q=0, gzip", served: false },
    { encoding: "zstd", acceptEncoding: undefined, served: false },
    { encoding: "zstd", acceptEncoding: "", served: false },
    { encoding: "zstd", acceptEncoding: "*", served: true },
    { encoding: "zstd", acceptEncoding: "*, zstd;q=0", served: false },
    { encoding: "deflate", acceptEncoding: "DEFLATE;q=0.5", served: true },
    { encoding: "gzip, br", acceptEncoding: "br", served: false },
    { encoding: "gzip, br", acceptEncoding: "br, gzip", served: true },
    { encoding: "x-custom", acceptEncoding: "gzip, br, zstd", served: false },
    { encoding: "x-custom", acceptEncoding: "x-custom", served: true },
  ];
  for (const { encoding, acceptEncoding, served } of cases) {
    it(`a ${encoding} copy, Accept-Encoding ${acceptEncoding === undefined ? "absent" : JSON.stringify(acceptEncoding)}: ${served ? "served" : "not served (the origin's 502)"}`, async () => {
      const { h, url, bytes } = await storedThenFailing(encoding);
      const res = await h.fetch(url, acceptEncoding === undefined ? {} : { headers: { "accept-encoding": acceptEncoding } });
      if (served) {
        expect(res.status).toBe(200);
        expect(res.headers.get("content-encoding")).toBe(encoding);
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
      } else {
        expect(res.status).toBe(502);
        expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=uri-miss; fwd-status=502; detail=no-lkg");
        expect(requestPoints(h.metrics).at(-1)?.blobs?.[5]).toBe("miss");
        const health = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as { lkg: { counters: { notAcceptable: number } } };
        // Each of the three tiers held a copy this client could not take.
        expect(health.lkg.counters.notAcceptable).toBe(3);
      }
    });
  }

  it("reads the client's own Accept-Encoding from request.cf.clientAcceptEncoding, as Cloudflare rewrites the header to br, gzip", async () => {
    const { h, url, bytes } = await storedThenFailing("zstd", '["memory"]');
    const accepted = await h.fetch(new Request(url, { headers: { "accept-encoding": "br, gzip" }, cf: { clientAcceptEncoding: "zstd, br" } as RequestInitCfProperties }));
    expect(accepted.status).toBe(200);
    expect(new Uint8Array(await accepted.arrayBuffer())).toEqual(bytes);
    const refused = await h.fetch(new Request(url, { headers: { "accept-encoding": "zstd" }, cf: { clientAcceptEncoding: "br, gzip" } as RequestInitCfProperties }));
    expect(refused.status).toBe(502);
  });

  it("serves an identity or runtime-decoded copy to every client, whatever it accepts", async () => {
    for (const encoding of ["gzip", "br"]) {
      const { h, url } = await storedThenFailing(encoding, '["memory"]');
      const res = await h.fetch(url, { headers: { "accept-encoding": "identity" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(await res.json()).toMatchObject({ seq: 1 });
    }
  });
});

describe("a Content-Encoding that is not a list of codings", () => {
  it("is not stored: skip:encoding, and the failing origin's own answer is passed on", async () => {
    const h = harness();
    const s = scenario("enc-bad");
    await s.set({ mode: "healthy", headers: { "content-encoding": "gzip;level=9" } });
    const healthy = await h.fetch(s.url("/a"));
    expect(healthy.status).toBe(200);
    expect(healthy.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200");
    expect(requestPoints(h.metrics)[0]?.blobs?.[6]).toBe("skip:encoding");
    await s.set({ mode: "status", status: 502 });
    expect((await h.fetch(s.url("/a"))).status).toBe(502);
  });
});
