import { describe, expect, it } from "vitest";
import { harness, scenario } from "./helpers.ts";

describe("serving the last-known-good copy", () => {
  it("serves the stored copy when the origin answers 502, with Age and Cache-Status", async () => {
    const h = harness();
    const s = scenario("lkg502");
    const first = await h.fetch(s.url("/page"));
    expect(first.status).toBe(200);
    const original = (await first.json()) as { seq: number };

    await s.set({ mode: "status", status: 502 });
    h.clock.advance(12_500);
    const res = await h.fetch(s.url("/page"));
    expect(res.status).toBe(200);
    expect(res.headers.get("age")).toBe("12");
    expect(res.headers.get("cache-status")).toBe("edge-fallback; hit; detail=stale-origin-5xx");
    expect(await res.json()).toMatchObject({ seq: original.seq, scenario: s.id });
  });
});
