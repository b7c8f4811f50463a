/** The idempotency ledger Durable Object: every transition of one key's record over RPC, concurrency on one key, the status secret, expiry by alarm. */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import { newStatusSecret } from "../src/writes/idempotency.ts";
import { keyLedger, type WriteLedger } from "../src/writes/ledger.ts";
import type { BeginInput } from "../src/writes/ledger-state.ts";
import type { StoredResult } from "../src/writes/types.ts";
import { FakeClock, uniqueOriginName } from "./helpers.ts";

// Far in the future, so alarms the object schedules on this clock never fire by themselves: tests run them with runDurableObjectAlarm.
const FUTURE = Date.parse("2031-01-01T00:00:00Z");
const DAY = 86_400_000;
const FP = "f".repeat(64);
const OTHER_FP = "e".repeat(64);

const RESULT: StoredResult = {
  status: 201,
  headers: [
    ["content-type", "application/json"],
    ["Set-Cookie", "sid=first-client"],
    ["location", "/orders/1"],
  ],
  body: btoa('{"id":1}'),
  bodyBytes: 8,
  region: "east",
  epoch: 3,
  at: FUTURE,
};
/** RESULT as kept: never a Set-Cookie. */
const KEPT: StoredResult = { ...RESULT, headers: [RESULT.headers[0]!, RESULT.headers[2]!] };

function namespace(): NonNullable<Env["WRITE_LEDGER"]> {
  const ns = (env as Env).WRITE_LEDGER;
  if (!ns) throw new Error("WRITE_LEDGER binding missing");
  return ns;
}

/** A ledger shard of its own, and one scoped key's record in it (the product spreads keys over LEDGER_SHARDS shards), on a fake clock. */
async function ledger(clock = new FakeClock(FUTURE)) {
  const id = namespace().idFromName(uniqueOriginName());
  const record = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const raw = namespace().get(id);
  const bind = (object: DurableObjectStub<WriteLedger>) => ({ ...keyLedger(object, record), status: (secret: string) => object.status(secret) });
  const prepare = async () => {
    const object = namespace().get(id);
    await runInDurableObject(object, (instance: WriteLedger) => {
      instance.clock = clock;
    });
    return bind(object);
  };
  const stub = await prepare();
  const rows = () => runInDurableObject(raw, (_i: WriteLedger, state) => state.storage.sql.exec<{ record: string }>("SELECT record FROM records").toArray());
  const alarmAt = () => runInDurableObject(raw, (_i: WriteLedger, state) => state.storage.getAlarm());
  return { id, clock, stub, raw, record, prepare, rows, alarmAt };
}

function input(overrides: Partial<BeginInput & { statusSecret: string }> = {}): BeginInput & { statusSecret: string } {
  return { key: "order-1", fingerprint: FP, kind: "write", plan: "pass", lifetimeMs: DAY, statusSecret: newStatusSecret(), ...overrides };
}

describe("WriteLedger: the request path", () => {
  it("a pass-through write: new, then in-flight for the same payload, mismatch for another, done with the stored result once completed (never Set-Cookie)", async () => {
    const { id, stub, clock, rows } = await ledger();
    const first = input();
    expect(await stub.begin(first)).toEqual({ kind: "new", statusId: `${id.toString()}.${first.statusSecret}`, takeover: false });
    expect(await stub.begin(input())).toEqual({ kind: "in-flight" });
    expect(await stub.begin(input({ fingerprint: OTHER_FP }))).toEqual({ kind: "mismatch" });

    clock.advance(120);
    expect(await stub.complete(RESULT)).toEqual({ kind: "recorded" });
    expect(await stub.begin(input())).toEqual({ kind: "done", result: KEPT });
    expect(await stub.begin(input({ fingerprint: OTHER_FP }))).toEqual({ kind: "mismatch" });
    expect(await stub.complete({ ...RESULT, status: 500 })).toEqual({ kind: "already-done" });

    expect(await stub.status(first.statusSecret)).toEqual({
      id: `${id.toString()}.${first.statusSecret}`,
      kind: "write",
      state: "delivered",
      acceptedAt: FUTURE,
      expiresAt: FUTURE + 120 + DAY,
      attempts: 1,
      why: undefined,
      result: KEPT,
      reason: undefined,
    });
    const saved = await rows();
    expect(saved).toHaveLength(1);
    expect(saved[0]!.record).not.toContain("first-client");
    expect(JSON.parse(saved[0]!.record)).toMatchObject({ state: "done", key: "order-1", fingerprint: FP, settledAt: FUTURE + 120 });
  });

  it("a write queued up front: new, then queued with the same status id for every retry of it", async () => {
    const { id, stub } = await ledger();
    const first = input({ plan: "queue", why: "writer-down" });
    const statusId = `${id.toString()}.${first.statusSecret}`;
    expect(await stub.begin(first)).toEqual({ kind: "new", statusId, takeover: false });
    expect(await stub.begin(input({ plan: "queue", why: "writer-down" }))).toEqual({ kind: "queued", statusId });
    // A retry while the writer is back (plan pass) is still the queued write: it is not sent twice.
    expect(await stub.begin(input({ plan: "pass" }))).toEqual({ kind: "queued", statusId });
    expect(await stub.status(first.statusSecret)).toEqual({
      id: statusId,
      kind: "write",
      state: "queued",
      acceptedAt: FUTURE,
      expiresAt: FUTURE + DAY,
      attempts: 0,
      why: "writer-down",
      result: undefined,
      reason: undefined,
    });
  });

  it("a pass-through that failed is queued (outcome unknown) and keeps its status id; queue on a done key answers its result", async () => {
    const { id, stub } = await ledger();
    const first = input();
    await stub.begin(first);
    const statusId = `${id.toString()}.${first.statusSecret}`;
    expect(await stub.markQueued("outcome-unknown")).toEqual({ kind: "queued", statusId });
    expect(await stub.markQueued("outcome-unknown")).toEqual({ kind: "queued", statusId });
    expect(await stub.begin(input())).toEqual({ kind: "queued", statusId });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "queued", why: "outcome-unknown", attempts: 1 });
    await stub.complete(RESULT);
    expect(await stub.markQueued("connect-failed")).toEqual({ kind: "done", result: KEPT });
  });

  it("two begins for one key at once: exactly one is new", async () => {
    const { stub } = await ledger();
    const answers = await Promise.all(Array.from({ length: 12 }, () => stub.begin(input())));
    expect(answers.filter((a) => a.kind === "new")).toHaveLength(1);
    expect(answers.filter((a) => a.kind === "in-flight")).toHaveLength(11);

    const queued = await ledger();
    const many = await Promise.all(Array.from({ length: 12 }, () => queued.stub.begin(input({ plan: "queue", why: "frozen" }))));
    const fresh = many.filter((a) => a.kind === "new");
    expect(fresh).toHaveLength(1);
    const statusId = fresh[0]!.kind === "new" ? fresh[0]!.statusId : "";
    expect(many.filter((a) => a.kind === "queued" && a.statusId === statusId)).toHaveLength(11);
  });

  it("release forgets an in-flight key (origin 500: the client may retry as new) and an unclaimed queued one (the enqueue failed)", async () => {
    const { id, stub } = await ledger();
    const first = input();
    await stub.begin(first);
    expect(await stub.release()).toEqual({ kind: "released" });
    expect(await stub.release()).toEqual({ kind: "gone" });
    expect(await stub.status(first.statusSecret)).toBeUndefined();
    const second = input();
    expect(await stub.begin(second)).toEqual({ kind: "new", statusId: `${id.toString()}.${second.statusSecret}`, takeover: false });

    const queued = await ledger();
    await queued.stub.begin(input({ plan: "queue", why: "writer-down" }));
    expect(await queued.stub.release()).toEqual({ kind: "released" });
    expect(await queued.rows()).toEqual([]);
    expect(await queued.alarmAt()).toBeNull();
  });

  it("release keeps a record a consumer has touched or that is settled", async () => {
    const { stub } = await ledger();
    await stub.begin(input({ plan: "queue", why: "writer-down" }));
    await stub.claim("delivery-1", 10_000);
    expect(await stub.release()).toEqual({ kind: "kept", state: "delivering" });
    await stub.unclaim("delivery-1", "origin 503");
    expect(await stub.release()).toEqual({ kind: "kept", state: "queued" });
    await stub.delivered("delivery-2", RESULT);
    expect(await stub.release()).toEqual({ kind: "kept", state: "done" });
  });

  it("a pass-through past its deadline is shown queued (outcome unknown), and a retry takes it over under the same status id", async () => {
    const { id, stub, clock } = await ledger();
    const first = input({ deliveryTimeoutMs: 1000 });
    const statusId = `${id.toString()}.${first.statusSecret}`;
    await stub.begin(first);
    clock.advance(999);
    expect(await stub.begin(input())).toEqual({ kind: "in-flight" });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "in-flight", why: undefined, attempts: 1 });
    clock.advance(1);
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "queued", why: "outcome-unknown", attempts: 1 });
    // The consumer has nothing to deliver it from but may hold a message of a queue() that came late: it may claim it now.
    expect(await stub.begin(input({ fingerprint: OTHER_FP }))).toEqual({ kind: "mismatch" });
    expect(await stub.begin(input({ deliveryTimeoutMs: 1000 }))).toEqual({ kind: "new", statusId, takeover: true });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "in-flight", attempts: 2, acceptedAt: FUTURE });
    expect(await stub.begin(input())).toEqual({ kind: "in-flight" });
    // While the new attempt holds it, a delivery must wait out its deadline.
    expect(await stub.claim("delivery-1", 10_000)).toEqual({ kind: "busy", retryInMs: 1000 });
    clock.advance(1000);
    expect(await stub.claim("delivery-1", 10_000)).toEqual({ kind: "claimed", attempt: 3 });
  });
});

describe("WriteLedger: the consumer", () => {
  it("one claim at a time; the holder's own redelivery holds the same attempt; unclaim only by the holder; delivered settles it; later deliveries are told done", async () => {
    const { id, stub, clock } = await ledger();
    const first = input();
    await stub.begin(first);
    await stub.markQueued("connect-failed");
    expect(await stub.claim("t1", 10_000)).toEqual({ kind: "claimed", attempt: 2 });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "delivering", attempts: 2 });
    expect(await stub.begin(input())).toEqual({ kind: "queued", statusId: `${id.toString()}.${first.statusSecret}` });
    expect(await stub.claim("t2", 10_000)).toEqual({ kind: "busy", retryInMs: 10_000 });
    clock.advance(4000);
    expect(await stub.claim("t2", 10_000)).toEqual({ kind: "busy", retryInMs: 6000 });
    expect(await stub.claim("t1", 10_000)).toEqual({ kind: "claimed", attempt: 2 });
    expect(await stub.unclaim("t2", "not mine")).toEqual({ kind: "not-held" });
    expect(await stub.unclaim("t1", "origin answered 503")).toEqual({ kind: "unclaimed" });
    expect(await stub.unclaim("t1", "again")).toEqual({ kind: "not-held" });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "queued", attempts: 2, reason: "origin answered 503" });

    expect(await stub.claim("t2", 10_000)).toEqual({ kind: "claimed", attempt: 3 });
    clock.advance(50);
    expect(await stub.delivered("t2", RESULT)).toEqual({ kind: "recorded" });
    expect(await stub.claim("t3", 10_000)).toEqual({ kind: "done" });
    expect(await stub.claim("t2", 10_000)).toEqual({ kind: "done" });
    expect(await stub.begin(input())).toEqual({ kind: "done", result: KEPT });
    expect(await stub.status(first.statusSecret)).toEqual({
      id: `${id.toString()}.${first.statusSecret}`,
      kind: "write",
      state: "delivered",
      acceptedAt: FUTURE,
      expiresAt: FUTURE + 4050 + DAY,
      attempts: 3,
      why: "connect-failed",
      result: KEPT,
      reason: undefined,
    });
  });

  it("an expired claim may be claimed again (attempts counted); the first final answer wins", async () => {
    const { stub, clock } = await ledger();
    const first = input({ plan: "queue", why: "writer-down" });
    await stub.begin(first);
    expect(await stub.claim("t1", 5000)).toEqual({ kind: "claimed", attempt: 1 });
    clock.advance(4999);
    expect(await stub.claim("t2", 5000)).toEqual({ kind: "busy", retryInMs: 1 });
    clock.advance(1);
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "queued", attempts: 1 });
    expect(await stub.claim("t2", 5000)).toEqual({ kind: "claimed", attempt: 2 });
    // The earlier delivery was slow, not lost: its answer is the truth about the write.
    expect(await stub.delivered("t1", RESULT)).toEqual({ kind: "recorded" });
    expect(await stub.delivered("t2", { ...RESULT, status: 200 })).toEqual({ kind: "already-done" });
    expect(await stub.unclaim("t2", "late")).toEqual({ kind: "not-held" });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "delivered", attempts: 2, result: KEPT });
  });

  it("dead-lettered: failed with its reason; an operator's replay may claim it again; a client's retry goes ahead again; a delivered key stays delivered", async () => {
    const { id, stub, clock } = await ledger();
    const first = input({ plan: "queue", why: "writer-down" });
    await stub.begin(first);
    await stub.claim("t1", 5000);
    await stub.unclaim("t1", "origin answered 502");
    clock.advance(10);
    expect(await stub.deadLettered("dead-lettered after 100 attempts")).toEqual({ kind: "failed" });
    expect(await stub.status(first.statusSecret)).toEqual({
      id: `${id.toString()}.${first.statusSecret}`,
      kind: "write",
      state: "failed",
      acceptedAt: FUTURE,
      expiresAt: FUTURE + 10 + DAY,
      attempts: 1,
      why: "writer-down",
      result: undefined,
      reason: "dead-lettered after 100 attempts",
    });
    expect(await stub.claim("replay-1", 5000)).toEqual({ kind: "claimed", attempt: 2 });
    await stub.deadLettered("dead-lettered again");
    expect(await stub.begin(input({ plan: "queue", why: "writer-down" }))).toEqual({ kind: "new", statusId: `${id.toString()}.${first.statusSecret}`, takeover: true });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "queued", reason: undefined, attempts: 2 });

    await stub.delivered("t9", RESULT);
    expect(await stub.deadLettered("a stale copy in the DLQ")).toEqual({ kind: "already-done" });
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "delivered", reason: undefined });
  });

  it("answers gone for every call on a key it does not hold (expired or never begun)", async () => {
    const { stub, rows } = await ledger();
    expect(await stub.claim("t1", 5000)).toEqual({ kind: "gone" });
    expect(await stub.delivered("t1", RESULT)).toEqual({ kind: "gone" });
    expect(await stub.unclaim("t1", "x")).toEqual({ kind: "not-held" });
    expect(await stub.deadLettered("x")).toEqual({ kind: "gone" });
    expect(await stub.markQueued("writer-down")).toEqual({ kind: "gone" });
    expect(await stub.complete(RESULT)).toEqual({ kind: "gone" });
    expect(await rows()).toEqual([]);
  });
});

describe("WriteLedger: the status secret, expiry, restarts, inputs", () => {
  it("status answers nothing for a wrong, malformed or absent secret", async () => {
    const { stub } = await ledger();
    const first = input();
    expect(await stub.status(first.statusSecret)).toBeUndefined();
    await stub.begin(first);
    expect(await stub.status(newStatusSecret())).toBeUndefined();
    expect(await stub.status(first.statusSecret.slice(0, 21))).toBeUndefined();
    expect(await stub.status(`${first.statusSecret}x`)).toBeUndefined();
    expect(await stub.status("")).toBeUndefined();
    // A second client's begin with its own secret does not get to read the first's status.
    const second = input();
    await stub.begin(second);
    expect(await stub.status(second.statusSecret)).toBeUndefined();
    expect(await stub.status(first.statusSecret)).toMatchObject({ state: "in-flight" });
  });

  it("forgets a settled key lifetimeMs after it settled, by alarm; an early or repeated alarm deletes nothing it should not", async () => {
    const { id, stub, clock, rows, alarmAt, raw } = await ledger();
    const first = input();
    await stub.begin(first);
    // An in-flight key is kept until its pass deadline (default 30 s) plus the lifetime, should its isolate die.
    expect(await alarmAt()).toBe(FUTURE + 30_000 + DAY);
    clock.advance(200);
    await stub.complete(RESULT);
    expect(await alarmAt()).toBe(FUTURE + 200 + DAY);

    clock.advance(DAY - 1);
    expect(await runDurableObjectAlarm(raw)).toBe(true);
    expect(await rows()).toHaveLength(1);
    expect(await alarmAt()).toBe(FUTURE + 200 + DAY);
    expect(await stub.begin(input())).toEqual({ kind: "done", result: KEPT });

    clock.advance(1);
    expect(await runDurableObjectAlarm(raw)).toBe(true);
    expect(await rows()).toEqual([]);
    expect(await alarmAt()).toBeNull();
    expect(await runDurableObjectAlarm(raw)).toBe(false);
    expect(await stub.status(first.statusSecret)).toBeUndefined();
    const again = input();
    expect(await stub.begin(again)).toEqual({ kind: "new", statusId: `${id.toString()}.${again.statusSecret}`, takeover: false });
  });

  it("keeps a queued key without expiry until the queue settles it", async () => {
    const { stub, clock, alarmAt, rows, raw } = await ledger();
    await stub.begin(input({ plan: "queue", why: "writer-down" }));
    expect(await alarmAt()).toBeNull();
    clock.advance(2 * DAY);
    await stub.claim("t1", 5000);
    expect(await alarmAt()).toBeNull();
    await stub.deadLettered("dead-lettered after 100 attempts");
    expect(await alarmAt()).toBe(FUTURE + 2 * DAY + DAY);
    clock.advance(DAY);
    await runDurableObjectAlarm(raw);
    expect(await rows()).toEqual([]);
  });

  it("a fresh instance reads the saved record before answering", async () => {
    const { id, stub, prepare, raw } = await ledger();
    const first = input();
    await stub.begin(first);
    await stub.complete(RESULT);
    await evictDurableObject(raw);
    const fresh = await prepare();
    expect(await fresh.begin(input())).toEqual({ kind: "done", result: KEPT });
    expect(await fresh.status(first.statusSecret)).toMatchObject({ id: `${id.toString()}.${first.statusSecret}`, state: "delivered" });
  });

  it("answers malformed begin inputs and claims with the problem named, and saves nothing", async () => {
    const { stub, rows } = await ledger();
    expect(await stub.begin(input({ statusSecret: "short" }))).toEqual({ kind: "invalid", problem: "WriteLedger.begin: statusSecret must be 22 characters of base64url (newStatusSecret())" });
    expect(await stub.begin(input({ fingerprint: "nothex" }))).toEqual({ kind: "invalid", problem: "WriteLedger.begin: fingerprint must be 64 hex characters (fingerprint())" });
    expect(await stub.begin(input({ key: "" }))).toEqual({ kind: "invalid", problem: "WriteLedger.begin: key must be 1..255 characters" });
    expect(await stub.begin(input({ plan: "queue" }))).toEqual({ kind: "invalid", problem: "WriteLedger.begin: a queued write needs its reason (why)" });
    expect(await stub.begin(input({ lifetimeMs: 0 }))).toEqual({ kind: "invalid", problem: "WriteLedger.begin: lifetimeMs must be a positive integer, got 0" });
    expect(await stub.claim("t", 0)).toMatchObject({ kind: "invalid", problem: expect.stringMatching(/^WriteLedger\.claim: needs a scoped key, a token and a positive integer leaseMs, got \["[0-9a-f]{64}","t",0\]$/) });
    expect(await rows()).toEqual([]);
  });
});
