/**
 * Header bytes survive storage exactly, or the copy is not stored. workerd shows JavaScript a
 * received header value decoded as UTF-8: a byte that is not valid UTF-8 (latin1 `caf\xe9`) becomes
 * U+FFFD and cannot be recovered from a string, so only a tier that keeps the runtime's own Headers
 * object (memory) can keep it; valid UTF-8 survives every tier.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, harness, requestPoints, scenario, wireHeaders } from "./helpers.ts";

const LATIN1 = "caf\u00e9"; // sent by the fake origin (Node) as the bytes 63 61 66 e9
const UTF8 = Buffer.from("café", "utf8").toString("latin1"); // the bytes 63 61 66 c3 a9
const NAMES = ["x-name", "x-utf8"];

async function storedAndFailing(tiers: string, headers: Record<string, string>) {
  const h = harness({ LKG_TIERS: tiers });
  const s = scenario("hdr-bytes");
  await s.set({ mode: "healthy", headers });
  const healthy = await h.fetch(s.url("/p"));
  expect(healthy.status).toBe(200);
  const healthyWire = await wireHeaders(healthy.headers, Object.keys(headers));
  await healthy.arrayBuffer();
  await s.set({ mode: "status", status: 502 });
  h.clock.advance(1_000);
  return { h, s, healthy, healthyWire };
}

describe("header bytes of a stored copy", () => {
  it("the healthy answer passes the origin's bytes on untouched (latin1 e9, UTF-8 c3 a9)", async () => {
    const { healthyWire } = await storedAndFailing('["memory"]', { "x-name": LATIN1, "x-utf8": UTF8 });
    expect(healthyWire).toEqual([
      ["x-name", "caf\u00e9"],
      ["x-utf8", "caf\u00c3\u00a9"],
    ]);
  });

  for (const tier of ["memory", "cache", "kv"] as const) {
    it(`${tier} tier: valid UTF-8 bytes are served byte for byte`, async () => {
      const { h, s, healthyWire } = await storedAndFailing(JSON.stringify([tier]), { "x-utf8": UTF8 });
      const fallback = await h.fetch(s.url("/p"));
      expect(fallback.status).toBe(200);
      expect(requestPoints(h.metrics)[1]?.blobs?.[4]).toBe(tier);
      expect(await wireHeaders(fallback.headers, ["x-utf8"])).toEqual(healthyWire);
    });
  }

  it("memory tier: a latin1 byte is served byte for byte (the runtime's Headers object is kept)", async () => {
    const { h, s, healthyWire } = await storedAndFailing('["memory"]', { "x-name": LATIN1, "x-utf8": UTF8 });
    expect(requestPoints(h.metrics)[0]?.blobs?.[6]).toBe("stored");
    const fallback = await h.fetch(s.url("/p"));
    expect(fallback.status).toBe(200);
    expect(fallback.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(fallback.headers.get("age")).toBe("1");
    expect(await wireHeaders(fallback.headers, NAMES)).toEqual(healthyWire);
    // Scrubbing still applies to the kept Headers object: the length is the stored body's, set anew.
    expect(fallback.headers.get("content-length")).toBe(String((await fallback.clone().arrayBuffer()).byteLength));
  });

  for (const tier of ["cache", "kv"] as const) {
    it(`${tier} tier: a copy with a latin1 byte is not stored (skip:header-bytes), never served mangled`, async () => {
      const { h, s } = await storedAndFailing(JSON.stringify([tier]), { "x-name": LATIN1 });
      expect(requestPoints(h.metrics)[0]?.blobs?.[6]).toBe("skip:header-bytes");
      const fallback = await h.fetch(s.url("/p"));
      expect(fallback.status).toBe(502);
      expect(requestPoints(h.metrics)[1]?.blobs?.[5]).toBe("miss");
    });
  }

  it("with every tier: memory keeps the latin1 copy, the shared tiers are not written, and a fresh isolate has no copy", async () => {
    const { h, s, healthyWire } = await storedAndFailing('["memory","cache","kv"]', { "x-name": LATIN1 });
    expect(requestPoints(h.metrics)[0]?.blobs?.[6]).toBe("stored");
    const health = (await (await h.fetch("https://edge.example.com/__edge/health", { headers: ADMIN_HEADERS })).json()) as {
      lkg: { counters: { stores: Record<string, number>; storeSkipped: Record<string, number> } };
    };
    expect(health.lkg.counters.stores).toEqual({ memory: 1, cache: 0, kv: 0 });
    expect(health.lkg.counters.storeSkipped).toEqual({ "cache-header-bytes": 1, "kv-header-bytes": 1 });
    const fallback = await h.fetch(s.url("/p"));
    expect(fallback.status).toBe(200);
    expect(await wireHeaders(fallback.headers, ["x-name"])).toEqual(healthyWire);
    const fresh = harness({}, { clock: h.clock });
    expect((await fresh.fetch(s.url("/p"))).status).toBe(502);
  });
});
