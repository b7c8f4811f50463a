/** A failover answer does not pin a new client away from home after one blip; once home has left, it does. */
import { describe, expect, it } from "vitest";
import { pair, twoRegions } from "./regions-helpers.ts";

describe("assignment after a failover", () => {
  it("is not given for one blip at home, and is given to away once home has left", async () => {
    const { h, away } = twoRegions({ routing: { hysteresis_s: 0 } });
    const p = pair("as");
    await p.home.set({ mode: "status", status: 502 });
    await p.away.set({ mode: "healthy" });
    const blip = await h.fetch(p.url("/a0"));
    expect(blip.status).toBe(200);
    expect(blip.headers.get("x-edge-region")).toBe(away);
    expect(blip.headers.get("set-cookie")).toBeNull();
    await h.fetch(p.url("/a1"));
    // The third failure in a row: home leaves (down 3), and this answer assigns the client to away.
    const third = await h.fetch(p.url("/a2"));
    expect(third.headers.get("x-edge-region")).toBe(away);
    expect(third.headers.get("set-cookie")).toMatch(new RegExp(`^edge-region=${away}\\.`));
  });
});
