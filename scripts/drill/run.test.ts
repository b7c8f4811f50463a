/** The runner's multi-region origins: one process per region, each naming itself, and a collector of their own. */
import { describe, expect, it } from "vitest";
import { startRegionOrigins } from "./run.ts";

describe("region origins", () => {
  it("starts one fake origin process per region, each answering with its own x-fake-region, and a collector", async () => {
    const started = await startRegionOrigins(["us-east", "eu-west", "ap-south"]);
    try {
      expect(Object.keys(started.origins)).toEqual(["us-east", "eu-west", "ap-south"]);
      expect(new Set(started.pids).size).toBe(4);
      expect(new Set(Object.values(started.origins)).size).toBe(3);
      for (const [region, url] of Object.entries(started.origins)) {
        const res = await fetch(`${url}/hot/1`);
        expect([res.status, res.headers.get("x-fake-region")]).toEqual([200, region]);
      }
      const collected = (await (await fetch(`${started.collector}/points`)).json()) as unknown;
      expect(collected).toEqual({ points: [], counters: [] });
    } finally {
      started.stop();
    }
  });
});
