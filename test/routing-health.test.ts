/** RegionHealth on its own: leave after `down` failures, return after `up` successes and the dwell, one change per dwell, an open breaker at once. */
import { describe, expect, it } from "vitest";
import { RegionHealth } from "../src/routing/health.ts";

const POLICY = { down: 3, up: 2, hysteresisMs: 30_000 };
const T0 = 1_000_000;

describe("RegionHealth", () => {
  it("leaves on the third failure in a row, not before; a success in between starts the count again", () => {
    const h = new RegionHealth(POLICY);
    expect(h.failure(T0)).toBeUndefined();
    expect(h.failure(T0 + 1)).toBeUndefined();
    expect(h.success(T0 + 2)).toBeUndefined();
    expect(h.failure(T0 + 3)).toBeUndefined();
    expect(h.failure(T0 + 4)).toBeUndefined();
    expect(h.usable).toBe(true);
    expect(h.failure(T0 + 5)).toEqual({ change: "left", reason: "3 failures in a row" });
    expect(h.usable).toBe(false);
    // Further failures while out change nothing.
    expect(h.failure(T0 + 6)).toBeUndefined();
  });

  it("returns after 2 successes in a row AND 30 s since it left", () => {
    const h = new RegionHealth(POLICY);
    for (let i = 0; i < 3; i++) h.failure(T0);
    expect(h.success(T0 + 1000)).toBeUndefined();
    expect(h.success(T0 + 2000)).toBeUndefined(); // two in a row, but only 2 s out
    expect(h.success(T0 + 29_999)).toBeUndefined();
    expect(h.usable).toBe(false);
    expect(h.success(T0 + 30_000)).toEqual({ change: "returned", reason: "4 successes in a row" });
    expect(h.usable).toBe(true);
  });

  it("a failure while out starts the successes again", () => {
    const h = new RegionHealth(POLICY);
    for (let i = 0; i < 3; i++) h.failure(T0);
    h.success(T0 + 40_000);
    h.failure(T0 + 40_001);
    expect(h.success(T0 + 40_002)).toBeUndefined();
    expect(h.success(T0 + 40_003)).toEqual({ change: "returned", reason: "2 successes in a row" });
  });

  it("at most one change per 30 s: a region that just returned does not leave again on 3 failures until the dwell has passed", () => {
    const h = new RegionHealth(POLICY);
    for (let i = 0; i < 3; i++) h.failure(T0);
    h.success(T0 + 30_000);
    expect(h.success(T0 + 30_001)?.change).toBe("returned");
    const back = T0 + 30_001;
    for (let i = 0; i < 10; i++) expect(h.failure(back + 1000 + i)).toBeUndefined();
    expect(h.usable).toBe(true);
    expect(h.failure(back + 30_000)).toEqual({ change: "left", reason: "11 failures in a row" });
  });

  it("leaves at once, dwell or not, when the region's breaker is open", () => {
    const h = new RegionHealth(POLICY);
    for (let i = 0; i < 3; i++) h.failure(T0);
    h.success(T0 + 30_000);
    h.success(T0 + 30_001);
    expect(h.usable).toBe(true);
    expect(h.failure(T0 + 30_002, true)).toEqual({ change: "left", reason: "breaker open" });
    expect(h.usable).toBe(false);
    // The return still waits for the dwell from that moment.
    h.success(T0 + 31_000);
    expect(h.success(T0 + 32_000)).toBeUndefined();
    h.success(T0 + 60_002);
    expect(h.usable).toBe(true);
  });

  it("with down 1 and no dwell, one failure leaves and up successes return at once", () => {
    const h = new RegionHealth({ down: 1, up: 1, hysteresisMs: 0 });
    expect(h.failure(T0)?.change).toBe("left");
    expect(h.success(T0)?.change).toBe("returned");
  });
});
