import { describe, expect, it } from "vitest";
import { VERSION } from "../src/version.ts";
import { ADMIN_HEADERS, harness, ORIGIN_URL, requestPoints, scenario, uniqueOriginName } from "./helpers.ts";
import { RESERVED_SPELLINGS } from "./reserved-spellings.ts";

const EDGE = "https://edge.example.com";
const ROUTES = [
  "GET /__edge/health",
  "POST /__edge/admin/breakers/:origin/(open|close|reset)",
  "GET /__edge/admin/regions",
  "POST /__edge/admin/regions/:region/(evacuate|drain|shed|restore)",
  "GET /__edge/admin/writes",
  "POST /__edge/admin/writes/(promote|freeze|unfreeze)",
  "GET /__edge/admin/writes/dead",
  "POST /__edge/admin/writes/dead/replay",
  "GET /__edge/writes/:id",
];

/**
 * A worker whose origin lives under this scenario's prefix, so whatever it forwards, whatever the
 * path, lands in the scenario's log: "the origin saw nothing" is then a count of 0.
 */
function isolatedOrigin(label: string) {
  const s = scenario(label);
  const originName = uniqueOriginName();
  const h = harness({ ORIGINS: JSON.stringify([{ name: originName, url: `${ORIGIN_URL}/s/${s.id}`, weight: 1 }]) }, { originName });
  return { h, s };
}

function spellingError(pathname: string): string {
  return `${JSON.stringify(pathname)} reads as the reserved /__edge namespace once normalized (case, repeated or encoded slashes, percent-escapes, ';' parameters, '\\'); only its exact spelling /__edge/... is answered, and no spelling is forwarded to the origin`;
}

describe("the reserved /__edge namespace", () => {
  it("answers other spellings of /__edge with 404 JSON from the edge; the origin sees no request and no Authorization", async () => {
    const { h, s } = isolatedOrigin("reserved-spellings");
    const spellings = [...RESERVED_SPELLINGS, "/%EF%BC%BF%EF%BC%BFedge%EF%BC%8Fadmin"];
    for (const path of spellings) {
      for (const method of ["GET", "POST"]) {
        const res = await h.fetch(`${EDGE}${path}`, { method, headers: ADMIN_HEADERS });
        expect([path, method, res.status]).toEqual([path, method, 404]);
        expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
        expect(res.headers.get("cache-control")).toBe("no-store");
        expect(await res.json()).toEqual({ error: spellingError(new URL(`${EDGE}${path}`).pathname) });
      }
    }
    expect((await s.log()).count).toBe(0);

    // The same worker does forward ordinary paths to that origin prefix: the zero above is real.
    expect((await h.fetch(`${EDGE}/hello`)).status).toBe(200);
    const log = await s.log();
    expect(log.count).toBe(1);
    expect(log.requests[0]!.path).toBe(`/s/${s.id}/hello`);
  });

  it("answers spellings the URL parser already resolves (dot segments, backslashes) from the edge routes, never the origin", async () => {
    const { h, s } = isolatedOrigin("reserved-parsed");
    const cases: [string, string][] = [
      ["/./__edge/", "/__edge/"],
      ["/a/../__edge/", "/__edge/"],
      ["/__edge\\admin", "/__edge/admin"],
      ["/%2e/__edge/nope", "/__edge/nope"],
    ];
    for (const [path, parsed] of cases) {
      const res = await h.fetch(`${EDGE}${path}`, { headers: ADMIN_HEADERS });
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.json()).toEqual({ error: `no such edge route GET ${parsed}`, routes: ROUTES });
    }
    expect((await s.log()).count).toBe(0);
  });

  it("does NOT open a breaker for POST //__edge/admin/breakers/<origin>/open with the right token", async () => {
    const { h, s } = isolatedOrigin("reserved-admin");
    const res = await h.fetch(`${EDGE}//__edge/admin/breakers/${h.originName}/open`, { method: "POST", headers: ADMIN_HEADERS });
    expect(res.status).toBe(404);
    const health = await h.fetch(`${EDGE}/__edge/health`);
    expect(await health.json()).toEqual({ status: "ok", version: VERSION, origins: [{ name: h.originName, breaker: "closed" }] });
    expect((await s.log()).count).toBe(0);
  });

  it("answers 400 for a path still percent-encoded after five rounds of decoding, without contacting the origin", async () => {
    const { h, s } = isolatedOrigin("reserved-deep");
    // "_" encoded six times over: an origin decoding that often would read /__edge/.
    const path = `/%${"25".repeat(5)}5F%${"25".repeat(5)}5Fedge/admin`;
    const res = await h.fetch(`${EDGE}${path}`, { headers: ADMIN_HEADERS });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: `${JSON.stringify(path)} is still percent-encoded after 5 rounds of decoding; it is not forwarded, since an origin decoding it further might read the reserved /__edge namespace`,
    });
    expect((await s.log()).count).toBe(0);
  });

  it("still forwards paths that merely resemble the namespace, exactly as sent", async () => {
    const { h, s } = isolatedOrigin("reserved-lookalikes");
    const paths = ["/__edgework", "/__edge-cache/x", "/x/__edge/health", "/caf%C3%A9", "/a%2Fb", "/%5f%5fedgy/", "/;__edge/admin"];
    for (const path of paths) expect([path, (await h.fetch(`${EDGE}${path}`)).status]).toEqual([path, 200]);
    const log = await s.log();
    expect(log.requests.map((r) => r.path)).toEqual(paths.map((p) => `/s/${s.id}${p}`));
  });

  it("writes one rejected request point per refused spelling, like the other refusals", async () => {
    const { h } = isolatedOrigin("reserved-metrics");
    expect((await h.fetch(`${EDGE}/__EDGE/health`, { headers: ADMIN_HEADERS })).status).toBe(404);
    expect(requestPoints(h.metrics).map((p) => [p.blobs?.[1], p.doubles?.[4]])).toEqual([["rejected", 404]]);
  });
});
