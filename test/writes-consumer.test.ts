/**
 * The write queue's consumers against the real fake origin and the real backlog object: acks on
 * delivery, a redelivered batch reaching the origin once, retries with their delays, frozen and
 * promoting leases, dead letters kept in full, and their replay.
 *
 * The ledger here is an in-memory stand-in (FakeLedger, below) that answers as W1's WriteLedger
 * RPC does (claim / delivered / unclaim / deadLettered); once that class is merged, `ledgerFor`
 * can hand out `env.WRITE_LEDGER` stubs instead and every assertion stays.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index.ts";
import type { RegionConfig } from "../src/routing/types.ts";
import type { BacklogStub, ClaimResult, ConsumerDeps, ConsumerEvent, DeadLetterAnswer, LedgerStub } from "../src/writes/consumer.ts";
import { consumeDeadLetters, consumeWrites, ReplayPacer } from "../src/writes/consumer.ts";
import { toMessage, type WriteSecret } from "../src/writes/message.ts";
import { replayDeadLetters, type ReplayBacklog } from "../src/writes/replay.ts";
import type { WriteBacklog } from "../src/writes/backlog.ts";
import type { QueuedWrite, StoredResult, WriterLease } from "../src/writes/types.ts";
import { FakeClock, ORIGIN_URL, scenario } from "./helpers.ts";

const SECRET: WriteSecret = { source: "WRITE_SECRET", secret: "consumer-test-secret-32-chars!!!" };
const WRITER: RegionConfig = { name: "primary", url: new URL(ORIGIN_URL), weight: 1, home: true, priority: 0 };
const LEASE: WriterLease = { region: "primary", epoch: 3, frozen: false, reason: "initial", changedAt: 0 };

/** W1's record states and answers, in memory: one record per ledger id. */
class FakeLedger implements LedgerStub {
  state: "queued" | "delivering" | "done" | "failed" = "queued";
  attempts = 0;
  claimToken: string | undefined;
  claimUntil = 0;
  result: StoredResult | undefined;
  reason: string | undefined;
  calls: string[] = [];
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  async claim(token: string, leaseMs: number): Promise<ClaimResult> {
    this.calls.push("claim");
    const now = this.clock.now();
    if (this.state === "done") return { kind: "done" };
    if (this.state === "delivering" && now < this.claimUntil && this.claimToken !== token) return { kind: "busy", retryInMs: this.claimUntil - now };
    this.state = "delivering";
    this.attempts++;
    this.claimToken = token;
    this.claimUntil = now + leaseMs;
    return { kind: "claimed", attempt: this.attempts };
  }
  async delivered(_token: string, result: StoredResult): Promise<unknown> {
    this.calls.push("delivered");
    if (this.state !== "done") {
      this.state = "done";
      this.result = result;
    }
    return { kind: "recorded" };
  }
  async unclaim(token: string, reason: string): Promise<unknown> {
    this.calls.push("unclaim");
    if (this.state === "delivering" && this.claimToken === token) {
      this.state = "queued";
      this.claimToken = undefined;
      this.reason = reason;
    }
    return {};
  }
  async deadLettered(reason: string): Promise<DeadLetterAnswer> {
    this.calls.push("deadLettered");
    if (this.state === "done") return { kind: "already-done" };
    this.state = "failed";
    this.reason = reason;
    return { kind: "failed" };
  }
}

let seq = 0;

/** One test's world: its fake origin scenario, its own backlog object, ledgers by id, captured outcomes. */
function world(lease: () => Promise<WriterLease> = async () => LEASE) {
  const clock = new FakeClock();
  const s = scenario("wq");
  const ledgers = new Map<string, FakeLedger>();
  const ledgerFor = (id: string) => {
    let l = ledgers.get(id);
    if (!l) ledgers.set(id, (l = new FakeLedger(clock)));
    return l;
  };
  const backlogNs = env.WRITE_BACKLOG!;
  // Typed as the consumer and replay see it (RPC types widen tuples to string[][]).
  const backlog = backlogNs.get(backlogNs.idFromName(`test-${s.id}`)) as unknown as BacklogStub & ReplayBacklog & DurableObjectStub<WriteBacklog>;
  const events: ConsumerEvent[] = [];
  const slept: number[] = [];
  const deps: ConsumerDeps = {
    lease,
    ledger: (m) => ledgerFor(m.ledger),
    backlog,
    origins: [WRITER],
    originTimeoutMs: 1000,
    maxStoredResultBytes: 65536,
    sensitiveHeaders: ["x-api-key"],
    leaseTrustMs: 3000,
    secret: SECRET,
    clock,
    report: (e) => events.push(e),
    replayPerSecond: 50,
    pacer: new ReplayPacer(),
    sleep: async (ms) => {
      slept.push(ms);
    },
  };
  return {
    slept,
    clock,
    s,
    deps,
    backlog,
    events,
    ledgerFor,
    async message(path = "/orders", body = `{"n":${seq}}`): Promise<QueuedWrite> {
      const n = seq++;
      const incoming = new URL(s.url(path));
      const request = new Request(incoming, { method: "POST", headers: { authorization: `Bearer token-${n}`, "content-type": "application/json" }, body });
      const ledger = `${n.toString(16).padStart(4, "0")}${"0".repeat(60)}`;
      const message = await toMessage(request, incoming, new TextEncoder().encode(body).buffer as ArrayBuffer, { kind: "write", ledger, record: "ab".repeat(32), key: `key-${n}`, statusId: `${ledger}.s${n}`, why: "writer-down", enqueuedAt: clock.now() }, SECRET, []);
      await backlog.add(message.statusId, message.enqueuedAt);
      return message;
    },
  };
}

function batchOf(queue: string, messages: QueuedWrite[], attempts = 1): MessageBatch<QueuedWrite> {
  return createMessageBatch<QueuedWrite>(
    queue,
    messages.map((body, i) => ({ id: `msg-${body.statusId}-${i}`, timestamp: new Date(1000), attempts, body })),
  );
}

/**
 * Runs a consumer on a batch and returns getQueueResult's answer with the delays asked for. The
 * plugin's MessageBatch (createMessageBatch, @cloudflare/vitest-plugin 1.5) records retries without
 * their delaySeconds, though Miniflare's broker and Queues honour them: the delays are read from the calls.
 */
async function run(fn: (batch: MessageBatch<QueuedWrite>) => Promise<void>, batch: MessageBatch<QueuedWrite>) {
  const ctx = createExecutionContext();
  const delays = new Map<string, number | undefined>();
  let batchDelay: number | undefined;
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options) => {
      delays.set(message.id, options?.delaySeconds);
      retry(options);
    };
  }
  const retryAll = batch.retryAll.bind(batch);
  batch.retryAll = (options) => {
    batchDelay = options?.delaySeconds;
    retryAll(options);
  };
  await fn(batch);
  const result = await getQueueResult(batch, ctx);
  return {
    ...result,
    retryBatch: result.retryBatch.retry ? { retry: true, delaySeconds: batchDelay } : result.retryBatch,
    retryMessages: result.retryMessages.map((r) => ({ msgId: r.msgId, delaySeconds: delays.get(r.msgId) })),
  };
}

describe("consumeWrites", () => {
  it("delivers each message to the writer with its key, the lease's epoch and its credentials, records it and acks it", async () => {
    const w = world();
    const a = await w.message("/orders", '{"a":1}');
    const b = await w.message("/orders", '{"b":2}');
    expect((await w.backlog.snapshot()).length).toBe(2);
    w.clock.advance(1500);
    const batch = batchOf("edge-fallback-writes", [a, b]);
    const result = await run((x) => consumeWrites(x, w.deps), batch);

    expect(result.outcome).toBe("ok");
    expect(result.retryBatch.retry).toBe(false);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(batch.messages.map((m) => m.id).sort());
    const log = await w.s.log();
    expect(log.count).toBe(2);
    const byKey = new Map(log.requests.map((r) => [JSON.parse(r.headers["idempotency-key"]!) as string, r]));
    expect(byKey.get(a.key)).toMatchObject({ method: "POST", path: `/s/${w.s.id}/orders` });
    expect(byKey.get(a.key)!.headers["x-edge-write-epoch"]).toBe("3");
    expect(byKey.get(a.key)!.headers["authorization"]).toMatch(/^Bearer token-\d+$/);
    expect(byKey.get(b.key)!.headers["x-edge-write-epoch"]).toBe("3");
    const ledger = w.ledgerFor(a.ledger);
    expect(ledger.state).toBe("done");
    expect(ledger.result).toMatchObject({ status: 200, region: "primary", epoch: 3, at: w.clock.now() });
    expect(JSON.parse(atob(ledger.result!.body!))).toMatchObject({ scenario: w.s.id, method: "POST" });
    expect(ledger.result!.headers.some(([n]) => n === "set-cookie")).toBe(false);
    expect(await w.backlog.snapshot()).toMatchObject({ length: 0, dead: 0 });
    expect(w.events.map((e) => [e.outcome, e.status, e.queueDelayMs])).toEqual([
      ["delivered", 200, 1500],
      ["delivered", 200, 1500],
    ]);
  });

  it("a redelivered batch (the same messages again) reaches the origin once: acked as duplicates", async () => {
    const w = world();
    const messages = [await w.message(), await w.message(), await w.message()];
    await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", messages));
    expect((await w.s.log()).count).toBe(3);

    const again = batchOf("edge-fallback-writes", messages, 2);
    const result = await run((x) => consumeWrites(x, w.deps), again);
    expect(result.explicitAcks.sort()).toEqual(again.messages.map((m) => m.id).sort());
    expect(result.retryMessages).toEqual([]);
    expect((await w.s.log()).count).toBe(3);
    expect(w.events.slice(3).map((e) => e.outcome)).toEqual(["duplicate_dropped", "duplicate_dropped", "duplicate_dropped"]);
    for (const m of messages) expect(w.ledgerFor(m.ledger).calls).toEqual(["claim", "delivered", "claim"]);
  });

  it("origin 503: unclaimed and retried after min(2^attempt, 10) s, still pending; delivered once the origin answers", async () => {
    const w = world();
    await w.s.set({ mode: "status", status: 503 });
    const m = await w.message();
    const ledger = w.ledgerFor(m.ledger);
    const delays: (number | undefined)[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const batch = batchOf("edge-fallback-writes", [m], attempt);
      const result = await run((x) => consumeWrites(x, w.deps), batch);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages.map((r) => r.msgId)).toEqual([batch.messages[0]!.id]);
      delays.push(result.retryMessages[0]!.delaySeconds);
      expect(ledger.state).toBe("queued");
      expect(ledger.reason).toBe("writer answered 503");
    }
    expect(delays).toEqual([2, 4, 8, 10]);
    expect((await w.backlog.snapshot()).length).toBe(1);
    expect(w.events.map((e) => e.reason)).toEqual(Array(4).fill("writer answered 503"));

    await w.s.set({ mode: "healthy" });
    const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m], 5));
    expect(result.explicitAcks.length).toBe(1);
    expect(ledger.state).toBe("done");
    expect(ledger.attempts).toBe(5);
    expect((await w.backlog.snapshot()).length).toBe(0);
  });

  it("a reset connection is retried; a 500 is final (recorded with its status and acked)", async () => {
    const w = world();
    const m = await w.message();
    await w.s.set({ mode: "reset" });
    const first = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m]));
    expect(first.retryMessages.map((r) => r.delaySeconds)).toEqual([2]);
    expect(w.events[0]!.reason).toMatch(/^connect failed/);
    await w.s.set({ mode: "status", status: 500 });
    const second = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m], 2));
    expect(second.explicitAcks.length).toBe(1);
    expect(w.ledgerFor(m.ledger).result?.status).toBe(500);
    expect((await w.s.log()).count).toBe(2);
  });

  it("429, 408 and 425 are retried, never kept as the write's answer; the answer kept leaves out the configured secret headers", async () => {
    const w = world();
    const m = await w.message();
    for (const [status, attempt] of [[429, 1], [408, 2], [425, 3]] as const) {
      await w.s.set({ mode: "status", status });
      const r = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m], attempt));
      expect(r.retryMessages).toHaveLength(1);
      expect(r.explicitAcks).toEqual([]);
      expect(w.ledgerFor(m.ledger).result).toBeUndefined();
    }
    await w.s.set({ mode: "healthy", headers: { "x-api-key": "origin-secret", "x-request-id": "r-1" } });
    const done = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m], 4));
    expect(done.explicitAcks).toHaveLength(1);
    const headers = Object.fromEntries(w.ledgerFor(m.ledger).result!.headers);
    expect(headers["x-request-id"]).toBe("r-1");
    expect(headers["x-api-key"]).toBeUndefined();
  });

  it("frozen or promoting lease: the whole batch is retried after 1 s, nothing claimed, nothing sent", async () => {
    for (const lease of [
      { ...LEASE, frozen: true },
      { ...LEASE, promotion: { to: "b", from: "primary", startedAt: 0, completesAt: 5000, reason: "drill" } },
    ]) {
      const w = world(async () => lease);
      const messages = [await w.message(), await w.message()];
      const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", messages));
      expect(result.retryBatch).toEqual({ retry: true, delaySeconds: 1 });
      expect(result.explicitAcks).toEqual([]);
      expect((await w.s.log()).count).toBe(0);
      for (const m of messages) expect(w.ledgerFor(m.ledger).calls).toEqual([]);
    }
  });

  it("a promotion still draining: the batch is retried when the drain ends (rounded up to whole seconds), once, not every second", async () => {
    const w = world();
    const lease = { ...LEASE, promotion: { to: "b", from: "primary", startedAt: w.clock.now() - 1000, completesAt: w.clock.now() + 7400, reason: "auto" } };
    w.deps.lease = async () => lease;
    const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [await w.message()]));
    expect(result.retryBatch).toEqual({ retry: true, delaySeconds: 8 });
    expect(w.events.map((e) => [e.outcome, e.delaySeconds, e.reason])).toEqual([["retry", 8, "promotion to b in progress"]]);
    // A drain the lease says ends in an hour is waited for a minute at most; the next read completes it.
    lease.promotion.completesAt = w.clock.now() + 3_600_000;
    expect((await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [await w.message()]))).retryBatch.delaySeconds).toBe(60);
    expect(w.slept).toEqual([]);
  });

  it("paces the replay: a batch's messages start 1 / replay_per_second apart, and the next batch starts n paces after a batch of n", async () => {
    const w = world();
    const messages = [await w.message(), await w.message(), await w.message()];
    const first = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", messages));
    expect(first.explicitAcks.length).toBe(3);
    expect((await w.s.log()).count).toBe(3);
    // At 50 a second (the fake clock stands still): the 2nd starts 20 ms in, the 3rd 40 ms.
    expect(w.slept).toEqual([20, 40]);
    // The next batch waits for the first one's 60 ms, reads the lease again, then staggers its own.
    let leaseReads = 0;
    w.deps.lease = async () => (leaseReads++, LEASE);
    await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [await w.message(), await w.message()]));
    expect(w.slept).toEqual([20, 40, 60, 20]);
    expect(leaseReads).toBe(2);
    expect((await w.s.log()).count).toBe(5);
  });

  it("a pace slower than the lease's trust allows is squeezed into half of it, every delivery still sent, the next batch still n paces later", async () => {
    const w = world();
    // 1 a second, ten messages, a 3 s trust window: starts 150 ms apart (1.5 s / 10), the next batch 10 s later.
    w.deps.replayPerSecond = 1;
    const messages: QueuedWrite[] = [];
    for (let i = 0; i < 10; i++) messages.push(await w.message());
    const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", messages));
    expect(result.explicitAcks.length).toBe(10);
    expect((await w.s.log()).count).toBe(10);
    expect(w.slept).toEqual([150, 300, 450, 600, 750, 900, 1050, 1200, 1350]);
    await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [await w.message()]));
    expect(w.slept.at(-1)).toBe(10_000);
  });

  it("a batch that waited its turn and then finds a promotion begun is retried, nothing sent", async () => {
    const w = world();
    w.deps.pacer.reserve(10, w.clock.now(), 20);
    let reads = 0;
    w.deps.lease = async () => (reads++ === 0 ? LEASE : { ...LEASE, promotion: { to: "b", from: "primary", startedAt: 0, completesAt: 0, reason: "admin" } });
    const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [await w.message()]));
    expect(w.slept).toEqual([200]);
    expect(result.retryBatch).toEqual({ retry: true, delaySeconds: 1 });
    expect((await w.s.log()).count).toBe(0);
  });

  it("a long freeze backs off with the attempts (at most 30 s), so it does not exhaust max_retries in 100 s", async () => {
    const w = world(async () => ({ ...LEASE, frozen: true }));
    const m = await w.message();
    const delays = [];
    for (const attempts of [1, 7, 30, 99]) delays.push((await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m], attempts))).retryBatch.delaySeconds);
    expect(delays).toEqual([1, 7, 30, 30]);
  });

  it("an unreadable lease or a writer not in ORIGINS delivers nothing: retried after 1 s", async () => {
    for (const lease of [() => Promise.reject(new Error("routing object timeout")), async () => ({ ...LEASE, region: "nowhere" })]) {
      const w = world(lease);
      const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [await w.message()]));
      expect(result.retryBatch).toEqual({ retry: true, delaySeconds: 1 });
      expect((await w.s.log()).count).toBe(0);
    }
  });

  it("a write another delivery holds is retried when that claim lapses, not sent", async () => {
    const w = world();
    const m = await w.message();
    const ledger = w.ledgerFor(m.ledger);
    await ledger.claim("someone-else", 3_500);
    const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m]));
    expect(result.retryMessages.map((r) => r.delaySeconds)).toEqual([4]);
    expect((await w.s.log()).count).toBe(0);
  });

  it("a claim the ledger refuses, or answers in a way this code does not know, is retried and never sent", async () => {
    for (const answer of [{ kind: "invalid", problem: "leaseMs must be an integer" }, { kind: "claimed-maybe" }]) {
      const w = world();
      const m = await w.message();
      const ledger = w.ledgerFor(m.ledger);
      ledger.claim = async () => answer as unknown as ClaimResult;
      const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m]));
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages.map((r) => r.delaySeconds)).toEqual([10]);
      expect((await w.s.log()).count).toBe(0);
    }
  });

  it("credentials that cannot be opened (another secret) are never sent without them: dead-lettered in full, acked", async () => {
    const w = world();
    const m = await w.message();
    const batch = batchOf("edge-fallback-writes", [m]);
    const result = await run((x) => consumeWrites(x, { ...w.deps, secret: { source: "WRITE_SECRET", secret: "a-rotated-secret-of-32-chars!!!!" } }), batch);
    expect(result.explicitAcks).toEqual([batch.messages[0]!.id]);
    expect((await w.s.log()).count).toBe(0);
    expect(w.ledgerFor(m.ledger).state).toBe("failed");
    const [dead] = await w.backlog.takeDead(10);
    expect(dead!.message.statusId).toBe(m.statusId);
    expect(dead!.reason).toMatch(/authentication failed/);
    expect(await w.backlog.snapshot()).toMatchObject({ length: 0, dead: 1 });
  });

  it("a backlog that cannot settle leaves delivered messages unacked; the redelivery finds them done and acks", async () => {
    const w = world();
    const m = await w.message();
    const broken: BacklogStub = { settle: () => Promise.reject(new Error("backlog overloaded")), dead: () => Promise.reject(new Error("no")) };
    const first = await run((x) => consumeWrites(x, { ...w.deps, backlog: broken }), batchOf("edge-fallback-writes", [m]));
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages.length).toBe(1);
    const second = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", [m], 2));
    expect(second.explicitAcks.length).toBe(1);
    expect((await w.s.log()).count).toBe(1);
    expect((await w.backlog.snapshot()).length).toBe(0);
  });
});

describe("consumeDeadLetters and replay", () => {
  it("keeps a dead letter in full in the backlog, marks the ledger failed and acks", async () => {
    const w = world();
    const m = await w.message("/orders", '{"big":"' + "x".repeat(50_000) + '"}');
    w.clock.advance(60_000);
    const batch = batchOf("edge-fallback-writes-dlq", [m]);
    const result = await run((x) => consumeDeadLetters(x, w.deps), batch);
    expect(result.explicitAcks).toEqual([batch.messages[0]!.id]);
    expect(w.ledgerFor(m.ledger).state).toBe("failed");
    const snapshot = await w.backlog.snapshot();
    expect(snapshot).toMatchObject({ length: 0, oldestAt: undefined, dead: 1 });
    expect(snapshot.deadBytes).toBeGreaterThan(50_000);
    const [dead] = await w.backlog.takeDead(10);
    expect(dead!.deaths).toBe(1);
    expect({ ...dead!.message, body: null }).toEqual({ ...m, body: null });
    expect(new Uint8Array(dead!.message.body!)).toEqual(new Uint8Array(m.body!));
    expect(w.events.map((e) => e.outcome)).toEqual(["dead_lettered"]);
  });

  it("a message dead-lettered after its write was delivered (settle kept failing) is settled, not kept as dead", async () => {
    const w = world();
    const m = await w.message();
    const broken: BacklogStub = { settle: () => Promise.reject(new Error("backlog overloaded")), dead: () => Promise.reject(new Error("no")) };
    await run((x) => consumeWrites(x, { ...w.deps, backlog: broken }), batchOf("edge-fallback-writes", [m]));
    expect(w.ledgerFor(m.ledger).state).toBe("done");
    const result = await run((x) => consumeDeadLetters(x, w.deps), batchOf("edge-fallback-writes-dlq", [m]));
    expect(result.explicitAcks.length).toBe(1);
    expect(w.ledgerFor(m.ledger).state).toBe("done");
    expect(await w.backlog.snapshot()).toMatchObject({ length: 0, dead: 0 });
    expect(w.events.at(-1)).toMatchObject({ outcome: "duplicate_dropped", reason: "delivered before it was dead-lettered" });
  });

  it("a dead letter the backlog cannot keep yet is retried, never acked", async () => {
    const w = world();
    const broken: BacklogStub = { settle: async () => undefined, dead: () => Promise.reject(new Error("storage full")) };
    const result = await run((x) => consumeDeadLetters(x, { ...w.deps, backlog: broken }), batchOf("edge-fallback-writes-dlq", [await w.message()]));
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.length).toBe(1);
  });

  it("replay re-enqueues the dead letters as they were and takes them out of the dead list; the replayed write is then delivered once", async () => {
    const w = world();
    const a = await w.message();
    const b = await w.message();
    await run((x) => consumeDeadLetters(x, w.deps), batchOf("edge-fallback-writes-dlq", [a, b]));
    const sent: QueuedWrite[] = [];
    const queue = { sendBatch: async (messages: Iterable<MessageSendRequest<QueuedWrite>>) => void sent.push(...[...messages].map((m) => m.body)) };

    const one = await replayDeadLetters(w.backlog, queue as unknown as Queue<QueuedWrite>, { statusId: b.statusId });
    expect(one.replayed).toEqual([b.statusId]);
    expect(await w.backlog.snapshot()).toMatchObject({ length: 1, dead: 1 });
    const all = await replayDeadLetters(w.backlog, queue as unknown as Queue<QueuedWrite>);
    expect(all.replayed).toEqual([a.statusId]);
    expect(await w.backlog.snapshot()).toMatchObject({ length: 2, dead: 0 });
    expect(sent.map((m) => m.statusId)).toEqual([b.statusId, a.statusId]);
    expect(new Uint8Array(sent[0]!.body!)).toEqual(new Uint8Array(b.body!));

    // The failed ledger record is claimable again (W1: "a dead-lettered record is claimable: an operator replayed it").
    const result = await run((x) => consumeWrites(x, w.deps), batchOf("edge-fallback-writes", sent));
    expect(result.explicitAcks.length).toBe(2);
    expect((await w.s.log()).count).toBe(2);
    expect(await w.backlog.snapshot()).toMatchObject({ length: 0, dead: 0 });
  });
});

describe("the worker's queue handler", () => {
  it("retries dead letters, never acks them, while an object binding it needs is missing", async () => {
    const w = world();
    const batch = batchOf("edge-fallback-writes-dlq", [await w.message()]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.length).toBe(1);
  });

  it("refuses a batch from a queue it does not consume (thrown: retried, not acked unread)", async () => {
    const batch = batchOf("some-other-queue", []);
    await expect(worker.queue(batch, env)).rejects.toThrow(/has no consumer here/);
  });
});
