import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BreakerObject } from "../src/breaker/object.ts";
import { FakeClock, uniqueOriginName } from "./helpers.ts";

// wrangler.toml: threshold 5, open 5000 ms, max 60000 ms; vitest.config.ts: origin timeout 1000 ms (lease 2000 ms).
async function objectWithClock(clock: FakeClock) {
  const name = uniqueOriginName();
  const stub = env.BREAKER.get(env.BREAKER.idFromName(name));
  await runInDurableObject(stub, (instance: BreakerObject) => {
    instance.clock = clock;
  });
  return { name, stub };
}

describe("breaker Durable Object", () => {
  it("opens after 5 reported consecutive failures and persists the state in SQLite", async () => {
    const clock = new FakeClock(1_000_000);
    const { name, stub } = await objectWithClock(clock);
    expect((await stub.report(name, [{ outcome: "failure", count: 4, probe: false }])).state).toEqual({ kind: "closed", failures: 4 });
    const snap = await stub.report(name, [{ outcome: "failure", count: 1, probe: false }]);
    expect(snap.state).toEqual({ kind: "open", openedAt: 1_000_000, until: 1_005_000, attempt: 1 });
    const rows = await runInDurableObject(stub, (_i: BreakerObject, state) => state.storage.sql.exec("SELECT origin, state FROM breaker").toArray());
    expect(rows).toEqual([{ origin: name, state: JSON.stringify(snap.state) }]);
  });

  it("a success between failures resets the count, in the order reported", async () => {
    const { name, stub } = await objectWithClock(new FakeClock());
    const snap = await stub.report(name, [
      { outcome: "failure", count: 4, probe: false },
      { outcome: "success", count: 1, probe: false },
      { outcome: "failure", count: 2, probe: false },
    ]);
    expect(snap.state).toEqual({ kind: "closed", failures: 2 });
  });

  it("grants exactly one probe fleet-wide among concurrent callers", async () => {
    const clock = new FakeClock(0);
    const { name, stub } = await objectWithClock(clock);
    await stub.report(name, [{ outcome: "failure", count: 5, probe: false }]);
    expect((await stub.acquireProbe(name)).granted).toBe(false);
    clock.advance(5000);
    const results = await Promise.all(Array.from({ length: 20 }, () => stub.acquireProbe(name)));
    expect(results.filter((r) => r.granted)).toHaveLength(1);
    expect(results[results.length - 1]!.snapshot.state).toEqual({ kind: "half-open", probeLeaseUntil: 7000, attempt: 1 });
  });

  it("a failed probe re-opens for twice as long; a successful one closes", async () => {
    const clock = new FakeClock(0);
    const { name, stub } = await objectWithClock(clock);
    await stub.report(name, [{ outcome: "failure", count: 5, probe: false }]);
    clock.advance(5000);
    expect((await stub.acquireProbe(name)).granted).toBe(true);
    clock.advance(300);
    expect((await stub.report(name, [{ outcome: "failure", count: 1, probe: true }])).state).toEqual({ kind: "open", openedAt: 5300, until: 15300, attempt: 2 });
    clock.advance(10_000);
    expect((await stub.acquireProbe(name)).granted).toBe(true);
    expect((await stub.report(name, [{ outcome: "success", count: 1, probe: true }])).state).toEqual({ kind: "closed", failures: 0 });
  });

  it("restores a half-open breaker as open after the object restarts, granting no early second probe", async () => {
    const clock = new FakeClock(0);
    const { name, stub } = await objectWithClock(clock);
    await stub.report(name, [{ outcome: "failure", count: 5, probe: false }]);
    clock.advance(5000);
    expect((await stub.acquireProbe(name)).granted).toBe(true);
    await evictDurableObject(stub);
    // A new instance: give it the same clock again, then read what it restored.
    await runInDurableObject(stub, (instance: BreakerObject) => {
      instance.clock = clock;
    });
    expect((await stub.snapshot(name)).state).toEqual({ kind: "open", openedAt: 7000, until: 7000, attempt: 1 });
    clock.advance(1000);
    expect((await stub.acquireProbe(name)).granted).toBe(false);
    clock.advance(1000);
    expect((await stub.acquireProbe(name)).granted).toBe(true);
  });

  it("counts a probe that never reports back as failed when its lease alarm fires, once", async () => {
    const clock = new FakeClock(0);
    const { name, stub } = await objectWithClock(clock);
    await stub.report(name, [{ outcome: "failure", count: 5, probe: false }]);
    clock.advance(5000);
    expect((await stub.acquireProbe(name)).granted).toBe(true);
    clock.advance(2000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = (await stub.snapshot(name)).state;
    expect(after).toEqual({ kind: "open", openedAt: 7000, until: 17000, attempt: 2 });
    // Alarms run at least once: running it again changes nothing.
    await runInDurableObject(stub, (instance: BreakerObject) => instance.alarm());
    expect((await stub.snapshot(name)).state).toEqual(after);
  });

  it("force open, close and reset", async () => {
    const clock = new FakeClock(0);
    const { name, stub } = await objectWithClock(clock);
    expect((await stub.force(name, "open")).state).toEqual({ kind: "open", openedAt: 0, until: 5000, attempt: 1 });
    expect((await stub.force(name, "close")).state).toEqual({ kind: "closed", failures: 0 });
    await stub.report(name, [{ outcome: "failure", count: 3, probe: false }]);
    expect((await stub.force(name, "reset")).state).toEqual({ kind: "closed", failures: 0 });
  });
});
