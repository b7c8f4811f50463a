import { describe, expect, it } from "vitest";
import { isolateRegion, lastRouted, pair, routingPoints, twoRegions } from "./regions-helpers.ts";

describe("the regions page's reading of this isolate", () => {
  it("shows a region that left by hysteresis (down failures, breaker still closed) as unusable at once, as the next choice will treat it", async () => {
    const { h, home, away } = twoRegions({ routing: { down: 3 } });
    const s = pair("pg-left");
    await s.home.set({ mode: "status", status: 502 });
    for (let i = 0; i < 3; i++) await (await h.fetch(s.url("/x"))).arrayBuffer();
    expect(routingPoints(h.metrics)).toEqual([[home, "left", "3 failures in a row", "isolate", 0, 0]]);
    expect(await isolateRegion(h, home)).toMatchObject({ usable: false, rampPercent: 0, control: { held: true } });
    await (await h.fetch(s.url("/x"))).arrayBuffer();
    expect(lastRouted(h.metrics)).toEqual({ answered: away, from: "", reason: "failover", ramp: 100, tried: 1 });
    expect(await isolateRegion(h, home)).toMatchObject({ usable: false });
  });
});
