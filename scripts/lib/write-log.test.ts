/** The fake origin's write store: applied once per key, every arrival logged, nothing logged that it did not answer in full. */
import { afterAll, describe, expect, it } from "vitest";
import { startFakeOrigin, type FakeOrigin } from "./fake-origin.ts";
import type { WriteEntry } from "./write-log.ts";

const started: FakeOrigin[] = [];
afterAll(async () => {
  for (const o of started) await o.close();
});

async function origin(): Promise<FakeOrigin> {
  const o = await startFakeOrigin(0, "127.0.0.1", { region: "eu-west", writes: true });
  started.push(o);
  return o;
}

const post = (o: FakeOrigin, path: string, headers: Record<string, string>, body: string) =>
  fetch(`${o.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body, signal: AbortSignal.timeout(2000) });

async function log(o: FakeOrigin): Promise<WriteEntry[]> {
  return ((await (await fetch(`${o.url}/__writes`)).json()) as { writes: WriteEntry[] }).writes;
}

describe("fake origin writes", () => {
  it("applies a key once: 201 echoing the key, then the stored answer again, both logged with epoch, region and seen", async () => {
    const o = await origin();
    const first = await post(o, "/api/orders", { "idempotency-key": "k-1", "x-edge-write-epoch": "2", authorization: "Bearer user-3" }, '{"qty":1}');
    expect(first.status).toBe(201);
    expect(first.headers.get("x-origin-replayed")).toBeNull();
    expect(first.headers.get("x-origin-user")).toBe("auth:user-3");
    const body = (await first.json()) as Record<string, unknown>;
    expect(body).toEqual({ key: "k-1", region: "eu-west", epoch: 2, seq: 1, method: "POST", path: "/api/orders", user: "auth:user-3" });
    const again = await post(o, "/api/orders", { "idempotency-key": '"k-1"', "x-edge-write-epoch": "3" }, '{"qty":2}');
    expect(again.status).toBe(201);
    expect(again.headers.get("x-origin-replayed")).toBe("true");
    expect(await again.json()).toEqual(body);
    const entries = await log(o);
    expect(entries.map((e) => [e.key, e.epoch, e.region, e.seen, e.status, e.event])).toEqual([
      ["k-1", 2, "eu-west", false, 201, null],
      ["k-1", 3, "eu-west", true, 201, null],
    ]);
    expect(entries[0]!.at).toBeGreaterThan(Date.now() - 5000);
  });

  it("logs a webhook's event_id:rev and a write without epoch as undefined", async () => {
    const o = await origin();
    await post(o, "/hooks/payments", { "idempotency-key": "abc" }, '{"event_id":"evt-7","rev":2,"amount":5}');
    const [e] = await log(o);
    expect(e).toMatchObject({ key: "abc", epoch: null, event: "evt-7:2", seen: false, path: "/hooks/payments" });
  });

  it("neither applies nor logs a write it does not answer in full, and forgets everything on reset", async () => {
    const o = await origin();
    await fetch(`${o.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "status", status: 503 }) });
    expect((await post(o, "/api/orders", { "idempotency-key": "k-2" }, "{}")).status).toBe(503);
    await fetch(`${o.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "blackhole" }) });
    await expect(post(o, "/api/orders", { "idempotency-key": "k-2" }, "{}").then((r) => r.status)).rejects.toThrow();
    expect(await log(o)).toEqual([]);
    await fetch(`${o.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "healthy" }) });
    expect((await post(o, "/api/orders", { "idempotency-key": "k-2" }, "{}")).headers.get("x-origin-replayed")).toBeNull();
    expect(await log(o)).toHaveLength(1);
    expect((await fetch(`${o.url}/__writes/reset`, { method: "POST" })).status).toBe(200);
    expect(await log(o)).toEqual([]);
    // After the reset the key is new again.
    expect((await post(o, "/api/orders", { "idempotency-key": "k-2" }, "{}")).headers.get("x-origin-replayed")).toBeNull();
  });

  it("an origin without writes answers writes as before and has no log", async () => {
    const o = await startFakeOrigin();
    started.push(o);
    const res = await fetch(`${o.url}/orders`, { method: "POST", headers: { "idempotency-key": "k" }, body: "{}" });
    expect(res.status).toBe(200);
    expect((await fetch(`${o.url}/__writes`)).status).toBe(200); // an ordinary path of the default scenario
    expect((await (await fetch(`${o.url}/__writes`)).json()) as Record<string, unknown>).not.toHaveProperty("writes");
  });
});
