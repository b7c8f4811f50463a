/** The operators' dead-letter routes through the whole worker: listing without secrets, replay of all or one, and every refusal. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import type { QueuedWrite } from "../src/writes/types.ts";
import { ADMIN_HEADERS, harness } from "./helpers.ts";

const BASE = "https://edge.example.com/__edge/admin/writes/dead";
let seq = 0;

function message(overrides: Partial<QueuedWrite> = {}): QueuedWrite {
  const n = seq++;
  return {
    v: 1,
    kind: "write",
    ledger: "cd".repeat(32),
    record: "ef".repeat(32),
    key: `k-${n}`,
    statusId: `${"cd".repeat(32)}.dead-${n}`,
    method: "POST",
    path: "/api/orders",
    headers: [["content-type", "application/json"]],
    sealed: "v1.c2VhbGVkLWNyZWRlbnRpYWxz",
    body: new TextEncoder().encode(`{"secret-body":${n}}`).buffer as ArrayBuffer,
    enqueuedAt: 1_000 + n,
    why: "writer-down",
    ...overrides,
  };
}

/** The fleet backlog (this file's storage is its own), a queue that records what it is sent, and a worker over both. */
function setup(queue?: { sendBatch(messages: Iterable<MessageSendRequest<QueuedWrite>>): Promise<void> }) {
  const sent: QueuedWrite[] = [];
  const recording = { sendBatch: async (messages: Iterable<MessageSendRequest<QueuedWrite>>) => void sent.push(...[...messages].map((m) => m.body)) };
  const h = harness({ WRITE_QUEUE: queue ?? recording });
  const ns = env.WRITE_BACKLOG as NonNullable<Env["WRITE_BACKLOG"]>;
  const backlog = ns.get(ns.idFromName("fleet"));
  return { h, sent, backlog };
}

async function drain(backlog: ReturnType<typeof setup>["backlog"]): Promise<void> {
  const left = await backlog.takeDead(100);
  await backlog.replayed(left.map((l) => l.message.statusId));
  await backlog.settle(left.map((l) => l.message.statusId));
}

describe("dead-letter admin routes", () => {
  it("refuse without the admin token, before reading anything", async () => {
    const { h } = setup();
    for (const [method, path] of [
      ["GET", ""],
      ["POST", "/replay"],
    ] as const) {
      const none = await h.fetch(`${BASE}${path}`, { method });
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="edge-fallback admin"');
      const wrong = await h.fetch(`${BASE}${path}`, { method, headers: { authorization: "Bearer nope" } });
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toEqual({ error: "wrong bearer token" });
    }
  });

  it("list dead letters with why they died, never their headers, credentials or body", async () => {
    const { h, backlog } = setup();
    await drain(backlog);
    const m = message();
    await backlog.dead(m, "delivery retries exhausted");
    const res = await h.fetch(BASE, { headers: ADMIN_HEADERS });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(text).not.toContain("c2VhbGVk");
    expect(text).not.toContain("secret-body");
    const body = JSON.parse(text) as { backlog: { dead: number }; dead: Record<string, unknown>[] };
    expect(body.backlog.dead).toBe(1);
    expect(body.dead).toEqual([
      { id: m.statusId, kind: "write", method: "POST", path: "/api/orders", why: "writer-down", enqueuedAt: m.enqueuedAt, bodyBytes: m.body!.byteLength, reason: "delivery retries exhausted", deadAt: expect.any(Number), deaths: 1 },
    ]);
  });

  it("replay one by id: re-enqueued as it was, out of the dead list, pending again; 404 for an id not dead", async () => {
    const { h, sent, backlog } = setup();
    await drain(backlog);
    const a = message();
    const b = message();
    await backlog.dead(a, "x");
    await backlog.dead(b, "x");
    const res = await h.fetch(`${BASE}/replay`, { method: "POST", headers: ADMIN_HEADERS, body: JSON.stringify({ id: b.statusId }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ replayed: [b.statusId], remaining: 1 });
    expect(sent.map((m) => m.statusId)).toEqual([b.statusId]);
    expect({ ...sent[0], body: null }).toEqual({ ...b, body: null });
    expect(new Uint8Array(sent[0]!.body!)).toEqual(new Uint8Array(b.body!));
    expect(await backlog.snapshot()).toMatchObject({ length: 1, dead: 1 });

    const again = await h.fetch(`${BASE}/replay`, { method: "POST", headers: ADMIN_HEADERS, body: JSON.stringify({ id: b.statusId }) });
    expect(again.status).toBe(404);
    expect(sent.length).toBe(1);
  });

  it("replay all: every dead letter, oldest first", async () => {
    const { h, sent, backlog } = setup();
    await drain(backlog);
    const letters = [message(), message(), message()];
    for (const m of letters) await backlog.dead(m, "x");
    const res = await h.fetch(`${BASE}/replay`, { method: "POST", headers: ADMIN_HEADERS });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ replayed: letters.map((m) => m.statusId), remaining: 0 });
    expect(sent.map((m) => m.statusId)).toEqual(letters.map((m) => m.statusId));
  });

  it("a queue that refuses the send leaves the dead letters where they were (503)", async () => {
    const { h, backlog } = setup({ sendBatch: () => Promise.reject(new Error("queue overloaded")) });
    await drain(backlog);
    const m = message();
    await backlog.dead(m, "x");
    const res = await h.fetch(`${BASE}/replay`, { method: "POST", headers: ADMIN_HEADERS });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({ error: "write backlog or queue unreachable", detail: "queue overloaded" });
    expect(await backlog.snapshot()).toMatchObject({ dead: 1 });
  });

  it("refuse bodies that are not an id, too large, or unknown fields; 503 without the queue binding", async () => {
    const { h, sent } = setup();
    const post = (body: string, headers: Record<string, string> = {}) => h.fetch(`${BASE}/replay`, { method: "POST", headers: { ...ADMIN_HEADERS, ...headers }, body });
    expect((await post("{nope")).status).toBe(400);
    expect((await post("[]")).status).toBe(400);
    expect(await (await post('{"id":"a","all":true}')).json()).toEqual({ error: 'unknown field "all": replay takes no body (all dead letters, 100 per call) or {"id": "<status id>"}' });
    expect((await post('{"id":42}')).status).toBe(400);
    expect((await post(JSON.stringify({ id: "x".repeat(129) }))).status).toBe(400);
    expect((await post(JSON.stringify({ id: "x".repeat(2000) }))).status).toBe(413);
    expect(sent).toEqual([]);

    const bare = harness({ WRITE_QUEUE: undefined });
    const res = await bare.fetch(`${BASE}/replay`, { method: "POST", headers: ADMIN_HEADERS });
    expect(res.status).toBe(503);
  });
});
