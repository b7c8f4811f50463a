import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import { CapturingSink } from "../src/metrics/writer.ts";
import { routingLink, RoutingObjectTimeout } from "../src/routing/link.ts";
import type { RoutingObject } from "../src/routing/object.ts";
import { FakeClock, uniqueOriginName } from "./helpers.ts";

// Far in the future, so that alarms the object schedules on this clock never fire by themselves
// during a test: each test runs them with runDurableObjectAlarm.
const FUTURE = Date.parse("2031-01-01T00:00:00Z");
const CONFIGURED = ["east", "west"];

/** A routing object of its own (the product has one, "fleet"; tests must not share it), on a fake clock and a captured sink. */
async function routingObject(clock = new FakeClock(FUTURE)) {
  const namespace = env.ROUTING_OBJECT as Env["ROUTING_OBJECT"];
  const id = namespace.idFromName(uniqueOriginName());
  const sink = new CapturingSink();
  const prepare = async () => {
    const stub = namespace.get(id);
    await runInDurableObject(stub, (instance: RoutingObject) => {
      instance.clock = clock;
      instance.sink = sink;
    });
    return stub;
  };
  return { clock, sink, id, prepare, stub: await prepare() };
}

describe("routing Durable Object", () => {
  it("applies an evacuation, persists the snapshot as one JSON row, and answers it again after a restart", async () => {
    const { stub, id, clock, prepare } = await routingObject();
    const applied = await stub.apply({ type: "evacuate", region: "east", configured: CONFIGURED, force: false });
    expect(applied.changed).toBe(true);
    expect(applied.point).toEqual({ region: "east", action: "evacuate", reason: "admin", source: "admin", percent: 0, step: 0, generation: 1 });
    const rows = await runInDurableObject(stub, (_i: RoutingObject, state) => state.storage.sql.exec("SELECT snapshot, updated_at FROM routing").toArray());
    expect(rows).toEqual([{ snapshot: JSON.stringify(applied.snapshot), updated_at: clock.t }]);

    await evictDurableObject(stub);
    // A new instance behind a new stub: it reads the row before answering anything.
    const fresh = (env.ROUTING_OBJECT as Env["ROUTING_OBJECT"]).get(id);
    expect(await fresh.snapshot()).toEqual(applied.snapshot);
    await prepare();
    // Still idempotent across the restart: the same event changes nothing.
    const again = await fresh.apply({ type: "evacuate", region: "east", configured: CONFIGURED, force: false });
    expect(again.changed).toBe(false);
    expect(again.snapshot.generation).toBe(1);
  });

  it("answers a refusal with its reason and writes nothing", async () => {
    const { stub } = await routingObject();
    await stub.apply({ type: "evacuate", region: "east", configured: CONFIGURED, force: false });
    const refused = await stub.apply({ type: "drain", region: "west", configured: CONFIGURED, force: false });
    expect(refused.refused).toBe('draining "west" would leave no active region (east is evacuated); add ?force=1 to do it anyway');
    expect(refused.snapshot.generation).toBe(1);
    expect((await stub.snapshot()).regions["west"]).toBeUndefined();
  });

  it("answers a malformed event with the problem and keeps its snapshot", async () => {
    const { stub } = await routingObject();
    const answer = await stub.apply({ type: "shed", region: "east", percent: 250, configured: CONFIGURED, force: false });
    expect(answer).toEqual({ snapshot: { generation: 0, regions: {} }, changed: false, invalid: "percent must be an integer 0..100, got 250" });
    expect(await stub.snapshot()).toEqual({ generation: 0, regions: {} });
  });

  it("moves a ramp one step per step_dwell_s on its alarm, writing one ramp_step point per step, then ramp_done; an early or repeated alarm moves nothing (the contract's default ramp: configuration without ROUTING)", async () => {
    const { stub, clock, sink } = await routingObject();
    await stub.apply({ type: "evacuate", region: "east", configured: CONFIGURED, force: false });
    const started = clock.t;
    await stub.apply({ type: "restore", region: "east" });
    const alarmAt = () => runInDurableObject(stub, (_i: RoutingObject, state) => state.storage.getAlarm());
    expect(await alarmAt()).toBe(started + 10_000);

    clock.advance(10_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.snapshot()).regions["east"]).toMatchObject({ rampStartedAt: started, rampStep: 1 });
    expect(await alarmAt()).toBe(started + 20_000);
    clock.advance(5000);
    expect(await runDurableObjectAlarm(stub)).toBe(true); // early: nothing moves, the same deadline is asked again
    expect(await alarmAt()).toBe(started + 20_000);
    clock.advance(5000);
    await runDurableObjectAlarm(stub);
    clock.advance(10_000);
    await runDurableObjectAlarm(stub);
    clock.advance(10_000);
    await runDurableObjectAlarm(stub);
    expect((await stub.snapshot()).regions["east"]).toMatchObject({ rampStartedAt: undefined, reason: "ramp:done" });
    expect(await alarmAt()).toBeNull();
    expect(sink.points.map((p) => [p.blobs, p.doubles])).toEqual([
      [["routing", "ramp_step", "step 1: 30%", "object"], [30, 1, 3]],
      [["routing", "ramp_step", "step 2: 60%", "object"], [60, 2, 4]],
      [["routing", "ramp_step", "step 3: 100%", "object"], [100, 3, 5]],
      [["routing", "ramp_done", "4 steps of 10 s", "object"], [100, 3, 6]],
    ]);
    expect(sink.points.every((p) => p.indexes?.[0] === "east")).toBe(true);
  });
});

describe("routing link", () => {
  it("an object that never answers costs a caller the time budget, then a RoutingObjectTimeout", async () => {
    const hanging = {
      idFromName: (name: string) => name,
      get: () => new Proxy({}, { get: (_t, p) => (p === "then" ? undefined : () => new Promise(() => {})) }),
    } as unknown as Env["ROUTING_OBJECT"];
    const link = routingLink(hanging, 50);
    const started = Date.now();
    await expect(link.snapshot()).rejects.toBeInstanceOf(RoutingObjectTimeout);
    await expect(link.apply({ type: "restore", region: "east" })).rejects.toThrow("routing object did not answer within 50 ms");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("reaches the one fleet object by name, the same link for the same binding and budget", async () => {
    const namespace = env.ROUTING_OBJECT as Env["ROUTING_OBJECT"];
    const link = routingLink(namespace, 1000);
    expect(routingLink(namespace, 1000)).toBe(link);
    const before = await link.snapshot();
    const stub = namespace.get(namespace.idFromName("fleet"));
    expect(await stub.snapshot()).toEqual(before);
  });
});
