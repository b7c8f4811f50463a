import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import type { RoutingLink } from "../src/routing/link.ts";
import type { RoutingObject } from "../src/routing/object.ts";
import type { RoutingEvent, RoutingPoint, RoutingRules } from "../src/routing/state.ts";
import type { RoutingSnapshot } from "../src/routing/types.ts";
import { RoutingView } from "../src/routing/view.ts";
import { FakeClock, uniqueOriginName } from "./helpers.ts";

const FUTURE = Date.parse("2031-01-01T00:00:00Z");
const RULES: RoutingRules = { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 };
const CONFIGURED = ["east", "west"];
const EVACUATE_EAST: RoutingEvent = { type: "evacuate", region: "east", configured: CONFIGURED, force: false };
const LEFT_WEST: RoutingEvent = { type: "left", region: "west", why: "3 failures in a row" };

/** A routing object of the test's own, on the test's clock, and a link to it that counts its calls. */
async function fleet(clock: FakeClock) {
  const namespace = env.ROUTING_OBJECT as Env["ROUTING_OBJECT"];
  const stub = namespace.get(namespace.idFromName(uniqueOriginName()));
  await runInDurableObject(stub, (instance: RoutingObject) => {
    instance.clock = clock;
  });
  const calls: string[] = [];
  let down = false;
  const failing = () => Promise.reject(Object.assign(new Error("Durable Object is unreachable (test)"), { retryable: true }));
  const link: RoutingLink = {
    snapshot: () => (calls.push("snapshot"), down ? failing() : stub.snapshot()),
    apply: (event) => (calls.push(`apply:${event.type}`), down ? failing() : stub.apply(event)),
    lease: (configured) => (calls.push("lease"), down ? failing() : stub.lease(configured)),
  };
  return { stub, link, calls, setDown: (value: boolean) => (down = value) };
}

function view(clock: FakeClock, points: RoutingPoint[] = [], syncMs = 1000): RoutingView {
  return new RoutingView({ syncMs, clock, rules: RULES, onPoint: (p) => points.push(p) });
}

describe("RoutingView", () => {
  it("adopts a change made through another isolate's view at its next background read", async () => {
    const clock = new FakeClock(FUTURE);
    const { link } = await fleet(clock);
    const a = view(clock);
    const b = view(clock);
    await b.background(link, clock.now());
    expect(b.control("east").admin).toBe("active");
    const outcome = await a.admin(link, EVACUATE_EAST);
    expect(outcome.kind).toBe("applied");
    expect(a.control("east").admin).toBe("evacuated");
    // b reads from memory until its next sync is due.
    expect(b.control("east").admin).toBe("active");
    expect(b.background(link, clock.now() + 500)).toBeUndefined();
    clock.advance(1000);
    await b.background(link, clock.now());
    expect(b.control("east")).toMatchObject({ admin: "evacuated", reason: "admin:evacuate" });
    expect(b.generation).toBe(1);
  });

  it("background calls the object at most once per routingSyncMs, one call in flight, and returns undefined otherwise", async () => {
    const clock = new FakeClock(FUTURE);
    const { link, calls } = await fleet(clock);
    const v = view(clock, [], 1000);
    const first = v.background(link, clock.now());
    expect(first).toBeInstanceOf(Promise);
    // While the read is out, nothing else goes, even when the interval has passed.
    expect(v.background(link, clock.now() + 5000)).toBeUndefined();
    await first;
    for (let ms = 0; ms < 1000; ms += 50) expect(v.background(link, clock.now() + ms)).toBeUndefined();
    expect(calls).toEqual(["snapshot"]);
    await v.background(link, clock.now() + 1000);
    expect(calls).toEqual(["snapshot", "snapshot"]);
    expect(v.calls).toEqual({ snapshot: 2, apply: 0, errors: 0 });
  });

  it("keeps its last snapshot when the object fails, backs off 5 s, then reads again", async () => {
    const clock = new FakeClock(FUTURE);
    const { link, calls, setDown } = await fleet(clock);
    const admin = view(clock);
    await admin.admin(link, EVACUATE_EAST);
    const v = view(clock);
    await v.background(link, clock.now());
    expect(v.control("east").admin).toBe("evacuated");
    setDown(true);
    clock.advance(1000);
    await v.background(link, clock.now());
    expect(v.control("east").admin).toBe("evacuated");
    expect(v.calls.errors).toBe(1);
    expect(v.lastError).toBe("Error: Durable Object is unreachable (test)");
    setDown(false);
    for (let s = 1; s < 5; s++) {
      clock.advance(1000);
      expect(v.background(link, clock.now())).toBeUndefined();
    }
    clock.advance(1000);
    await v.background(link, clock.now());
    expect(calls.filter((c) => c === "snapshot")).toHaveLength(3);
    expect(v.lastError).toBeUndefined();
  });

  it("report applies the event here at once, then sends it; the object's point is written once", async () => {
    const clock = new FakeClock(FUTURE);
    const { link, stub } = await fleet(clock);
    const points: RoutingPoint[] = [];
    const v = view(clock, points);
    const sending = v.report(link, LEFT_WEST, clock.now());
    // Before the object has answered, this isolate already routes by it.
    expect(v.control("west").held).toBe(true);
    expect(v.rampPercent("west", clock.now())).toBe(0);
    expect(sending).toBeInstanceOf(Promise);
    await sending;
    expect((await stub.snapshot()).regions["west"]).toMatchObject({ held: true, reason: "left:3 failures in a row" });
    expect(points).toEqual([{ region: "west", action: "left", reason: "3 failures in a row", source: "isolate", percent: 0, step: 0, generation: 1 }]);
    // The same report again changes nothing here, so nothing is sent.
    expect(v.report(link, LEFT_WEST, clock.now())).toBeUndefined();
    expect(v.calls.apply).toBe(1);
  });

  it("with the object unreachable, a report still acts here, writes its own point once, and reaches the object after the backoff", async () => {
    const clock = new FakeClock(FUTURE);
    const { link, stub, setDown, calls } = await fleet(clock);
    const points: RoutingPoint[] = [];
    const v = view(clock, points);
    setDown(true);
    await v.report(link, LEFT_WEST, clock.now());
    expect(v.control("west").held).toBe(true);
    expect(points).toEqual([{ region: "west", action: "left", reason: "3 failures in a row", source: "isolate", percent: 0, step: 0, generation: 1 }]);
    expect((await stub.snapshot()).regions["west"]).toBeUndefined();
    setDown(false);
    clock.advance(1000);
    expect(v.background(link, clock.now())).toBeUndefined(); // backing off
    clock.advance(4000);
    await v.background(link, clock.now());
    expect(calls).toEqual(["apply:left", "apply:left"]);
    expect((await stub.snapshot()).regions["west"]).toMatchObject({ held: true });
    expect(points).toHaveLength(1);
    expect(v.control("west").held).toBe(true);
  });

  it("a newer snapshot keeps this isolate's unsent reports on top of it", async () => {
    const clock = new FakeClock(FUTURE);
    const { link, setDown } = await fleet(clock);
    const other = view(clock);
    const v = view(clock);
    setDown(true);
    await v.report(link, LEFT_WEST, clock.now());
    setDown(false);
    await other.admin(link, EVACUATE_EAST);
    v.adopt(await link.snapshot());
    expect(v.generation).toBe(1);
    expect(v.control("east").admin).toBe("evacuated");
    expect(v.control("west").held).toBe(true);
  });

  it("adopts only a newer generation: a slow read answered after a newer change does not undo it", async () => {
    const clock = new FakeClock(FUTURE);
    const older: RoutingSnapshot = { generation: 1, regions: {} };
    const newer: RoutingSnapshot = { generation: 2, regions: { east: { admin: "evacuated", shedPercent: 0, rampStartedAt: undefined, reason: "admin:evacuate", changedAt: 1 } } };
    let answerSlowRead: (s: RoutingSnapshot) => void = () => {};
    const link: RoutingLink = {
      snapshot: () => new Promise((resolve) => (answerSlowRead = resolve)),
      apply: () => Promise.resolve({ snapshot: newer, changed: true }),
      lease: () => Promise.reject(new Error("not read in this test")),
    };
    const v = view(clock);
    const slow = v.background(link, clock.now());
    await v.admin(link, EVACUATE_EAST);
    answerSlowRead(older);
    await slow;
    expect(v.generation).toBe(2);
    expect(v.control("east").admin).toBe("evacuated");
  });

  it("admin changes nothing here when the object is unreachable, and says so", async () => {
    const clock = new FakeClock(FUTURE);
    const { link, setDown, stub } = await fleet(clock);
    const points: RoutingPoint[] = [];
    const v = view(clock, points);
    setDown(true);
    expect(await v.admin(link, EVACUATE_EAST)).toEqual({ kind: "unreachable", error: "Error: Durable Object is unreachable (test)", timedOut: false });
    expect(v.control("east").admin).toBe("active");
    expect(points).toEqual([]);
    expect((await stub.snapshot()).generation).toBe(0);
  });
});
