import { describe, expect, it } from "vitest";
import { harness, ORIGIN_URL, ORIGIN_URL_B, requestPoints, scenario, uniqueOriginName } from "./helpers.ts";

function twoRegions(routing: Record<string, unknown> = {}) {
  const home = uniqueOriginName();
  const away = uniqueOriginName();
  const h = harness({
    ORIGINS: JSON.stringify([
      { name: home, url: ORIGIN_URL, home: true },
      { name: away, url: ORIGIN_URL_B },
    ]),
    ROUTING: JSON.stringify({ mode: "failover", ...routing }),
    STICKY_SECRET: "a-test-sticky-secret-0123456789",
  });
  return { h, home, away };
}

describe("two regions", () => {
  it("answers from home, names it, and assigns the client to it", async () => {
    const { h, home } = twoRegions();
    const s = scenario("rs");
    await s.set({ mode: "healthy" });
    const res = await h.fetch(s.url("/a"));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(home);
    expect(res.headers.get("set-cookie")).toMatch(new RegExp(`^edge-region=${home}\\.\\d+\\.[A-Za-z0-9_-]+; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$`));
    const p = requestPoints(h.metrics).at(-1)!;
    expect(p.blobs!.slice(13, 16)).toEqual([home, "", "failover"]);
    expect(p.doubles!.slice(6)).toEqual([100, 1]);
  });

  it("fails an idempotent GET over to the second region when home answers 502", async () => {
    const { h, home, away } = twoRegions();
    const id = `rs-fo-${Date.now().toString(36)}`;
    const a = { set: (v: unknown) => fetch(`${ORIGIN_URL}/__control/${id}`, { method: "POST", body: JSON.stringify(v) }) };
    const b = { set: (v: unknown) => fetch(`${ORIGIN_URL_B}/__control/${id}`, { method: "POST", body: JSON.stringify(v) }) };
    await a.set({ mode: "status", status: 502 });
    await b.set({ mode: "healthy" });
    const res = await h.fetch(`https://edge.example.com/s/${id}/x`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edge-region")).toBe(away);
    const p = requestPoints(h.metrics).at(-1)!;
    expect(p.blobs!.slice(13, 16)).toEqual([away, home, "failover"]);
    expect(p.doubles!.slice(6)).toEqual([100, 2]);
  });
});
