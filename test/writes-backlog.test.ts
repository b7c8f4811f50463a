/** The backlog object: pending writes (length, oldest age), a late add after the settle, dead letters in full, counted deaths, replay bookkeeping. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import { SETTLED_MEMORY_MS, type WriteBacklog } from "../src/writes/backlog.ts";
import type { QueuedWrite } from "../src/writes/types.ts";
import { FakeClock, uniqueOriginName } from "./helpers.ts";

async function backlog() {
  const ns = env.WRITE_BACKLOG as NonNullable<Env["WRITE_BACKLOG"]>;
  const stub = ns.get(ns.idFromName(uniqueOriginName()));
  const clock = new FakeClock();
  await runInDurableObject(stub, (instance: WriteBacklog) => {
    instance.clock = clock;
  });
  return { stub, clock };
}

function message(statusId: string, body: ArrayBuffer | null = null): QueuedWrite {
  return { v: 1, kind: "webhook", ledger: "ef".repeat(32), record: "cd".repeat(32), key: "evt-1", statusId, method: "POST", path: "/hooks/payments", headers: [["content-type", "application/json"]], sealed: undefined, body, enqueuedAt: 5, why: "webhook" };
}

describe("WriteBacklog", () => {
  it("counts pending writes and their oldest time; a second add keeps the first time; settle removes them", async () => {
    const { stub } = await backlog();
    expect(await stub.snapshot()).toEqual({ length: 0, oldestAt: undefined, dead: 0, deadBytes: 0, oldestDeadAt: undefined });
    await stub.add("a", 300);
    await stub.add("b", 100);
    await stub.add("b", 900);
    expect(await stub.snapshot()).toMatchObject({ length: 2, oldestAt: 100 });
    await stub.settle(["b", "unknown"]);
    expect(await stub.snapshot()).toMatchObject({ length: 1, oldestAt: 300 });
    await stub.settle(["a"]);
    expect(await stub.snapshot()).toMatchObject({ length: 0, oldestAt: undefined });
  });

  it("an add that arrives after its write settled adds nothing, for SETTLED_MEMORY_MS", async () => {
    const { stub, clock } = await backlog();
    await stub.settle(["late"]);
    await stub.add("late", 1);
    expect((await stub.snapshot()).length).toBe(0);
    clock.advance(SETTLED_MEMORY_MS + 1);
    // Forgotten on the next settle; an add long after that is a new pending write.
    await stub.settle(["other"]);
    await stub.add("late", 2);
    expect((await stub.snapshot()).length).toBe(1);
  });

  it("keeps a dead letter in full (body bytes, fields), no longer pending; a second death replaces it and counts", async () => {
    const { stub, clock } = await backlog();
    const body = new Uint8Array([0, 255, 1, 128, 10]).buffer;
    await stub.add("d", 5);
    await stub.dead(message("d", body), "retries exhausted");
    const snapshot = await stub.snapshot();
    expect(snapshot).toMatchObject({ length: 0, dead: 1, oldestDeadAt: clock.now() });
    expect(snapshot.deadBytes).toBe(JSON.stringify({ ...message("d"), body: undefined }).length + 5);
    let [letter] = await stub.takeDead(10);
    expect(letter).toMatchObject({ reason: "retries exhausted", at: clock.now(), deaths: 1 });
    expect({ ...letter!.message, body: null }).toEqual(message("d"));
    expect([...new Uint8Array(letter!.message.body!)]).toEqual([0, 255, 1, 128, 10]);

    clock.advance(1000);
    await stub.dead(message("d"), "credentials cannot be opened");
    [letter] = await stub.takeDead(10);
    expect(letter).toMatchObject({ reason: "credentials cannot be opened", at: clock.now(), deaths: 2 });
    expect(letter!.message.body).toBeNull();
    expect((await stub.snapshot()).dead).toBe(1);
  });

  it("takeDead reads without removing (oldest first, at most 100, or one by id); replayed moves them back to pending", async () => {
    const { stub, clock } = await backlog();
    for (const id of ["x", "y", "z"]) {
      await stub.dead(message(id), "r");
      clock.advance(10);
    }
    expect((await stub.takeDead(2)).map((l) => l.message.statusId)).toEqual(["x", "y"]);
    expect((await stub.takeDead(10_000)).length).toBe(3);
    expect((await stub.takeDead(10, "z")).map((l) => l.message.statusId)).toEqual(["z"]);
    expect(await stub.takeDead(10, "nope")).toEqual([]);
    expect((await stub.snapshot()).dead).toBe(3);
    expect(await stub.replayed(["x", "z", "never-dead"])).toBe(2);
    expect(await stub.snapshot()).toMatchObject({ length: 2, oldestAt: clock.now(), dead: 1 });
    expect((await stub.takeDead(10)).map((l) => l.message.statusId)).toEqual(["y"]);
  });
});
