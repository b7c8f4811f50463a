/** A failover goes only to a region that could answer: never into one that left, and a stall does not make a region leave. */
import { describe, expect, it } from "vitest";
import { CLOSED_PORT_URL, pair, twoRegions } from "./regions-helpers.ts";
import { requestPoints } from "./helpers.ts";

describe("the failover's target", () => {
  it("is not a region that left: once away failed 3 times in a row, home's 502 is passed on without trying away again", async () => {
    const { h, home, away } = twoRegions({ awayUrl: CLOSED_PORT_URL, routing: { hysteresis_s: 0 } });
    const p = pair("rt");
    await p.home.set({ mode: "status", status: 502 });
    for (let i = 0; i < 3; i++) {
      const res = await h.fetch(p.url(`/k${i}`), { headers: { authorization: "Bearer u" } });
      // Away refused the connection and no copy exists: the clean 503.
      expect(res.status).toBe(503);
      // Tried away (refused) after home's 502: two regions, the last attempt away's.
      expect(requestPoints(h.metrics).at(-1)!.doubles![7]).toBe(2);
    }
    const left = h.metrics.points.filter((pt) => pt.blobs?.[0] === "routing" && pt.blobs[1] === "left");
    // Both left: home after its three 502s, away after its three refusals.
    expect(new Set(left.map((pt) => pt.indexes![0]))).toEqual(new Set([home, away]));
    expect(left).toHaveLength(2);
    // Past the retry budget's last second: it would allow a retry again.
    h.clock.advance(2000);
    const res = await h.fetch(p.url("/k3"), { headers: { authorization: "Bearer u" } });
    expect(res.status).toBe(502);
    expect(res.headers.get("x-edge-region")).toBe(home);
    const last = requestPoints(h.metrics).at(-1)!;
    expect([last.blobs![13], last.blobs![14], last.doubles![7]]).toEqual([home, "", 1]);
  });
});
