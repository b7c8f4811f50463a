/**
 * The consumers against the real idempotency ledger (WriteLedger): a 503, a dead letter, its
 * replay, the delivery, a redelivery and a late dead letter, through the ledger's own states.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import type { BacklogStub, ConsumerDeps, LedgerStub } from "../src/writes/consumer.ts";
import { consumeDeadLetters, consumeWrites, ReplayPacer } from "../src/writes/consumer.ts";
import { keyLedger, type WriteLedger } from "../src/writes/ledger.ts";
import { toMessage } from "../src/writes/message.ts";
import type { QueuedWrite } from "../src/writes/types.ts";
import { FakeClock, ORIGIN_URL, scenario } from "./helpers.ts";

const SECRET = { source: "WRITE_SECRET" as const, secret: "x".repeat(32) };
/** The write's scoped key: its row in the ledger shard. */
const RECORD = "cd".repeat(32);

/** 16 random bytes as 22 characters of base64url, as the ledger's status secrets are. */
function statusSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

it("with the real ledger: a 503 is retried, a dead letter replayed and delivered once, a redelivery and a late dead letter send nothing", async () => {
  const clock = new FakeClock();
  const s = scenario("integ");
  const ns = env.WRITE_LEDGER!;
  const id = ns.idFromName(`k-${s.id}`);
  const object = ns.get(id) as DurableObjectStub<WriteLedger>;
  const stub = { ...keyLedger(object, RECORD), status: (secret: string) => object.status(secret) };
  const secret = statusSecret();
  const begun = await stub.begin({ key: "key-1", fingerprint: "a".repeat(64), kind: "write", plan: "queue", why: "writer-down", lifetimeMs: 86_400_000, statusSecret: secret });
  if (begun.kind !== "new") throw new Error(`expected a new record, got ${begun.kind}`);
  const incoming = new URL(s.url("/orders"));
  const m = await toMessage(new Request(incoming, { method: "POST", body: "{}" }), incoming, new TextEncoder().encode("{}").buffer as ArrayBuffer, { kind: "write", ledger: id.toString(), record: RECORD, key: "key-1", statusId: begun.statusId, why: "writer-down", enqueuedAt: clock.now() }, SECRET, []);
  const bns = env.WRITE_BACKLOG!;
  const backlog = bns.get(bns.idFromName(`b-${s.id}`)) as unknown as BacklogStub & { snapshot(): Promise<{ length: number; dead: number }> };
  const deps: ConsumerDeps = {
    lease: async () => ({ region: "primary", epoch: 2, frozen: false, reason: "", changedAt: 0 }),
    ledger: (msg) => keyLedger(ns.get(ns.idFromString(msg.ledger)), msg.record) as unknown as LedgerStub,
    backlog,
    origins: [{ name: "primary", url: new URL(ORIGIN_URL), weight: 1, home: true, priority: 0 }],
    originTimeoutMs: 1000,
    maxStoredResultBytes: 65536,
    sensitiveHeaders: ["x-api-key"],
    leaseTrustMs: 3000,
    secret: SECRET,
    clock,
    replayPerSecond: 10_000,
    pacer: new ReplayPacer(),
  };
  const go = async (queue: string, fn: typeof consumeWrites, attempts = 1) => {
    const batch = createMessageBatch<QueuedWrite>(queue, [{ id: "m1", timestamp: new Date(), attempts, body: m }]);
    const ctx = createExecutionContext();
    await fn(batch, deps);
    return getQueueResult(batch, ctx);
  };
  // 503 first: unclaimed, retried.
  await s.set({ mode: "status", status: 503 });
  expect((await go("edge-fallback-writes", consumeWrites)).retryMessages.length).toBe(1);
  expect(await stub.status(secret)).toMatchObject({ state: "queued", attempts: 1 });
  // Dead-lettered, then replayed (claimable again), then delivered.
  expect((await go("edge-fallback-writes-dlq", consumeDeadLetters as typeof consumeWrites)).explicitAcks).toEqual(["m1"]);
  expect(await stub.status(secret)).toMatchObject({ state: "failed" });
  expect((await backlog.snapshot()).dead).toBe(1);
  await s.set({ mode: "healthy" });
  expect((await go("edge-fallback-writes", consumeWrites, 1)).explicitAcks).toEqual(["m1"]);
  expect(await stub.status(secret)).toMatchObject({ state: "delivered", attempts: 2, result: { status: 200, epoch: 2, region: "primary" } });
  // Redelivered: not sent again.
  expect((await go("edge-fallback-writes", consumeWrites, 2)).explicitAcks).toEqual(["m1"]);
  const log = await s.log();
  expect(log.requests.filter((r) => r.headers["idempotency-key"] === '"key-1"').length).toBe(2);
  // A late dead letter of a delivered write: settled, not buried.
  expect((await go("edge-fallback-writes-dlq", consumeDeadLetters as typeof consumeWrites)).explicitAcks).toEqual(["m1"]);
  expect(await stub.status(secret)).toMatchObject({ state: "delivered" });
});
