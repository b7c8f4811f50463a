/** The fake origin as a named region: every answer names its region; an unnamed origin answers as before. */
import { afterAll, describe, expect, it } from "vitest";
import { startFakeOrigin, type FakeOrigin } from "./fake-origin.ts";

const started: FakeOrigin[] = [];
afterAll(async () => {
  for (const o of started) await o.close();
});

async function origin(region?: string): Promise<FakeOrigin> {
  const o = await startFakeOrigin(0, "127.0.0.1", region ? { region } : {});
  started.push(o);
  return o;
}

describe("fake origin regions", () => {
  it("names its region in x-fake-region on healthy answers, fixed statuses and the origin's own headers alike", async () => {
    const o = await origin("eu-west");
    const ok = await fetch(`${o.url}/hot/1`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-fake-region")).toBe("eu-west");
    expect((await ok.json()) as unknown).toMatchObject({ path: "/hot/1", version: "v1" });
    await fetch(`${o.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "status", status: 503, headers: { "x-extra": "1" } }) });
    const failed = await fetch(`${o.url}/hot/1`);
    expect(failed.status).toBe(503);
    expect(failed.headers.get("x-fake-region")).toBe("eu-west");
    expect(failed.headers.get("x-extra")).toBe("1");
    // The control API reports the setting as it was given, without the region's header.
    const control = (await (await fetch(`${o.url}/__control/default?detail=0`)).json()) as { setting: unknown };
    expect(control.setting).toEqual({ mode: "status", status: 503, headers: { "x-extra": "1" } });
  });

  it("an unnamed origin sends no x-fake-region", async () => {
    const o = await origin();
    const res = await fetch(`${o.url}/hot/1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-fake-region")).toBeNull();
  });
});
