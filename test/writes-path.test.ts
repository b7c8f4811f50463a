/**
 * The write path through the whole worker on one region: Idempotency-Key per the draft (400, 409,
 * 422, replay), pass-through with the epoch, queue-first when the writer cannot take it (202 and a
 * status resource), webhooks always queued and deduplicated by their rule, and the limits.
 */
import { describe, expect, it } from "vitest";
import { keyLedger } from "../src/writes/ledger.ts";
import { WRITE_EPOCH_HEADER } from "../src/writes/types.ts";
import { requestPoints } from "./helpers.ts";
import { CLOSED_PORT_URL } from "./regions-helpers.ts";
import { post, writeWorker } from "./writes-helpers.ts";

describe("writes that pass through to the writer", () => {
  it("forwards the key (sf-string) and the epoch, answers the origin's answer, and replays it for the same key", async () => {
    const w = writeWorker();
    const first = await w.h.fetch(w.url(), post("order-1", '{"n":1}', { [WRITE_EPOCH_HEADER]: "99" }));
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotency-replayed")).toBeNull();
    expect(first.headers.get("x-edge-region")).toBe(w.h.originName);
    const body = await first.json<{ echo: string; method: string }>();
    expect(body).toMatchObject({ echo: '{"n":1}', method: "POST" });
    const log = await w.s.log();
    expect(log.count).toBe(1);
    // The client's own epoch never reaches the origin: ours does.
    expect(log.requests[0]!.headers).toMatchObject({ "idempotency-key": '"order-1"', [WRITE_EPOCH_HEADER]: "1" });

    const again = await w.h.fetch(w.url(), post("order-1", '{"n":1}'));
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(again.headers.get("cache-control")).toBe("no-store");
    expect(await again.json()).toEqual(body);
    expect((await w.s.log()).count).toBe(1);
    expect(w.queue.sent).toEqual([]);
    expect(requestPoints(w.h.metrics).map((p) => p.blobs![16])).toEqual(["passed", "replayed"]);
  });

  it("the quoted and bare forms of one key are one key", async () => {
    const w = writeWorker();
    expect((await w.h.fetch(w.url(), post('"k-2"', "{}"))).status).toBe(200);
    const again = await w.h.fetch(w.url(), post("k-2", "{}"));
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect((await w.s.log()).count).toBe(1);
  });

  it("refuses a missing key (400) and a malformed one (400), reaching nothing", async () => {
    const w = writeWorker();
    const missing = await w.h.fetch(w.url(), post(undefined, "{}"));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: `Idempotency-Key header is required on POST /s/${w.s.id}/`, spec: "draft-ietf-httpapi-idempotency-key-header" });
    const malformed = await w.h.fetch(w.url(), post('"unterminated', "{}"));
    expect(malformed.status).toBe(400);
    expect((await malformed.json<{ error: string }>()).error).toMatch(/^Idempotency-Key is malformed: /);
    expect((await w.s.log()).count).toBe(0);
    expect(requestPoints(w.h.metrics).map((p) => p.blobs![16])).toEqual(["missing-key", "missing-key"]);
  });

  it("the same key with another payload is 422 and changes nothing", async () => {
    const w = writeWorker();
    expect((await w.h.fetch(w.url(), post("k-3", '{"amount":10}'))).status).toBe(200);
    const changed = await w.h.fetch(w.url(), post("k-3", '{"amount":1000}'));
    expect(changed.status).toBe(422);
    expect((await changed.json<{ error: string }>()).error).toBe("this Idempotency-Key was already used with a different request (method, path, content type or body)");
    const otherPath = await w.h.fetch(w.url("/refunds"), post("k-3", '{"amount":10}'));
    expect(otherPath.status).toBe(422);
    expect((await w.s.log()).count).toBe(1);
  });

  it("a retry while the first is still at the origin is 409 with Retry-After, and reaches nothing", async () => {
    const w = writeWorker();
    await w.s.set({ mode: "healthy", latencyMs: 400 });
    const slow = w.h.fetch(w.url(), post("k-4", "{}"));
    await new Promise((r) => setTimeout(r, 100));
    const during = await w.h.fetch(w.url(), post("k-4", "{}"));
    expect(during.status).toBe(409);
    expect(during.headers.get("retry-after")).toBe("1");
    expect((await slow).status).toBe(200);
    expect((await w.s.log()).count).toBe(1);
  });

  it("one client's key never replays another client's result: keys are scoped to the caller's credentials", async () => {
    const w = writeWorker();
    const alice = await w.h.fetch(w.url(), post("shared-key", "{}", { authorization: "Bearer alice" }));
    expect(alice.status).toBe(200);
    const bob = await w.h.fetch(w.url(), post("shared-key", "{}", { authorization: "Bearer bob" }));
    expect(bob.status).toBe(200);
    expect(bob.headers.get("idempotency-replayed")).toBeNull();
    expect((await w.s.log()).count).toBe(2);
  });

  it("an origin 500 is passed on and frees the key: the client's retry reaches the origin again", async () => {
    const w = writeWorker();
    await w.s.set({ mode: "status", status: 500 });
    const failed = await w.h.fetch(w.url(), post("k-5", "{}"));
    expect(failed.status).toBe(500);
    await w.s.set({ mode: "healthy" });
    const retried = await w.h.fetch(w.url(), post("k-5", "{}"));
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotency-replayed")).toBeNull();
    expect((await w.s.log()).count).toBe(2);
  });

  it("a body over the queue limit passes through while the writer is up, without dedupe", async () => {
    const w = writeWorker();
    const big = "x".repeat(2048);
    const res = await w.h.fetch(w.url(), post("k-6", big));
    expect(res.status).toBe(200);
    expect((await res.json<{ echo: string }>()).echo).toBe(big);
    expect(requestPoints(w.h.metrics).at(-1)!.blobs![16]).toBe("too-large");
  });
});

describe("writes the writer cannot take now are queued", () => {
  it("connection refused: 202 with a status resource; the message holds the body and seals the credentials", async () => {
    const w = writeWorker({ originUrl: CLOSED_PORT_URL });
    const res = await w.h.fetch(w.url("/orders?coupon=1"), post("k-7", '{"n":7}', { authorization: "Bearer secret-token", cookie: "sid=abc" }));
    expect(res.status).toBe(202);
    const body = await res.json<{ status: string; id: string; poll: string; reason: string; key_expires_at: string }>();
    expect(body.status).toBe("queued");
    expect(body.reason).toBe("the writer region could not be reached");
    expect(res.headers.get("location")).toBe(`/__edge/writes/${body.id}`);
    expect(res.headers.get("x-edge-queued")).toBe("connect-failed");
    expect(body.poll).toBe(`/__edge/writes/${body.id}`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(Date.parse(body.key_expires_at) - w.h.clock.now()).toBe(86_400_000);

    expect(w.queue.sent).toHaveLength(1);
    // Miniflare's queue turns an ArrayBuffer into {} unless the message is sent as v8.
    expect(w.queue.options).toEqual([{ contentType: "v8" }]);
    const m = w.queue.sent[0]!;
    expect(m).toMatchObject({ v: 1, kind: "write", key: "k-7", statusId: body.id, method: "POST", path: `/s/${w.s.id}/orders`, why: "connect-failed" });
    expect(new TextDecoder().decode(m.body!)).toBe('{"n":7}');
    const plain = JSON.stringify(m.headers) + JSON.stringify(m.path);
    for (const secret of ["secret-token", "sid=abc", "coupon"]) expect(plain).not.toContain(secret);
    expect(m.sealed).toMatch(/^v1\./);

    const status = await w.h.fetch(`https://edge.example.com${body.poll}`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ id: body.id, kind: "write", state: "queued", queued_because: "connect-failed", result: null });
    expect(requestPoints(w.h.metrics).map((p) => p.blobs![16])).toEqual(["queued"]);
  });

  it("a retry of a queued key gets the same 202 again, marked replayed, and queues nothing more", async () => {
    const w = writeWorker({ originUrl: CLOSED_PORT_URL });
    const first = await w.h.fetch(w.url(), post("k-8", "{}"));
    const id = (await first.json<{ id: string }>()).id;
    const again = await w.h.fetch(w.url(), post("k-8", "{}"));
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect((await again.json<{ id: string }>()).id).toBe(id);
    expect(w.queue.sent).toHaveLength(1);
  });

  it("an origin 503 leaves the outcome unknown: queued with the same key", async () => {
    const w = writeWorker();
    await w.s.set({ mode: "status", status: 503 });
    const res = await w.h.fetch(w.url(), post("k-9", "{}"));
    expect(res.status).toBe(202);
    expect(w.queue.sent[0]).toMatchObject({ key: "k-9", why: "outcome-unknown" });
    expect((await w.s.log()).count).toBe(1);
  });

  it("a body over the queue limit while the writer is down: 503 that says why, nothing queued", async () => {
    const w = writeWorker({ originUrl: CLOSED_PORT_URL });
    // The first write finds the origin unreachable; open the breaker so the plan is "queue" before the body is read.
    for (let i = 0; i < 5; i++) await w.h.fetch(w.url(), post(`warm-${i}`, "{}"));
    const res = await w.h.fetch(w.url(), post("k-10", "y".repeat(2048)));
    expect(res.status).toBe(503);
    expect((await res.json<{ error: string }>()).error).toMatch(/larger than WRITES\.max_queued_body_bytes \(1024\)/);
    expect(w.queue.sent.map((m) => m.key)).not.toContain("k-10");
  });

  it("a queue that refuses the send: 503, and the key is free for the client's retry", async () => {
    const w = writeWorker({ originUrl: CLOSED_PORT_URL });
    w.queue.refuse = true;
    const refused = await w.h.fetch(w.url(), post("k-11", "{}"));
    expect(refused.status).toBe(503);
    expect((await refused.json<{ error: string }>()).error).toMatch(/^the write was not accepted: the write queue refused it/);
    w.queue.refuse = false;
    const retried = await w.h.fetch(w.url(), post("k-11", "{}"));
    expect(retried.status).toBe(202);
    expect(retried.headers.get("idempotency-replayed")).toBeNull();
    expect(w.queue.sent).toHaveLength(1);
  });
});

describe("webhooks are always queued, once per event", () => {
  it("the dedupe key is sha256(event_id+rev); a sender's retry is acknowledged without a second message", async () => {
    const w = writeWorker();
    const event = JSON.stringify({ event_id: "evt_1", rev: 3, type: "payment.succeeded" });
    const first = await w.h.fetch(w.url("/hooks"), { method: "POST", body: event, headers: { "content-type": "application/json" } });
    expect(first.status).toBe(202);
    expect(first.headers.get("x-edge-queued")).toBe("webhook");
    const retry = await w.h.fetch(w.url("/hooks"), { method: "POST", body: JSON.stringify({ type: "payment.succeeded", rev: 3, event_id: "evt_1", delivery: 2 }), headers: { "content-type": "application/json" } });
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotency-replayed")).toBe("true");
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("evt_1+3"));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(w.queue.sent.map((m) => [m.kind, m.key, m.why])).toEqual([["webhook", hex, "webhook"]]);
    // Queue-first even with the writer healthy: the origin has seen nothing yet.
    expect((await w.s.log()).count).toBe(0);
    const next = await w.h.fetch(w.url("/hooks"), { method: "POST", body: JSON.stringify({ event_id: "evt_1", rev: 4 }) });
    expect(next.status).toBe(202);
    expect(next.headers.get("idempotency-replayed")).toBeNull();
    expect(w.queue.sent).toHaveLength(2);
  });

  it("an event without its dedupe fields, or not JSON, is 400 with the rule in the reason", async () => {
    const w = writeWorker();
    const noRev = await w.h.fetch(w.url("/hooks"), { method: "POST", body: '{"event_id":"evt_2"}' });
    expect(noRev.status).toBe(400);
    expect((await noRev.json<{ error: string }>()).error).toBe("the webhook's body has no string or number at rev (its dedupe key is sha256(event_id+rev))");
    const notJson = await w.h.fetch(w.url("/hooks"), { method: "POST", body: "event_id=1" });
    expect(notJson.status).toBe(400);
    expect(w.queue.sent).toEqual([]);
  });

  it("a header rule reads the header", async () => {
    const w = writeWorker({ webhookRule: "header:x-delivery-id" });
    expect((await w.h.fetch(w.url("/hooks"), { method: "POST", body: "{}" })).status).toBe(400);
    const res = await w.h.fetch(w.url("/hooks"), { method: "POST", body: "{}", headers: { "x-delivery-id": "d-1" } });
    expect(res.status).toBe(202);
    expect(w.queue.sent.map((m) => m.key)).toEqual(["d-1"]);
  });
});

describe("the status resource", () => {
  it("an unknown, malformed or wrong-secret id is a plain 404, and costs no object call when malformed", async () => {
    const w = writeWorker({ originUrl: CLOSED_PORT_URL });
    const res = await w.h.fetch(w.url(), post("k-12", "{}"));
    const { id } = await res.json<{ id: string }>();
    const [ledger] = id.split(".");
    for (const bad of [`${ledger}.${"A".repeat(22)}`, "not-an-id", `${"0".repeat(64)}.${"A".repeat(22)}`]) {
      const r = await w.h.fetch(`https://edge.example.com/__edge/writes/${bad}`);
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: "no such write (unknown id, or its key has expired)" });
    }
  });
});

describe("settling what the queue would otherwise send again", () => {
  it("a write released by the breaker opening is queued, and the writer's late answer settles its key", async () => {
    const w = writeWorker({ vars: { ORIGIN_SLOW_MS: "off" } });
    await w.s.set({ mode: "healthy", latencyMs: 400 });
    const pending = w.h.fetch(w.url(), post("k-late", '{"n":1}'));
    await new Promise((r) => setTimeout(r, 100));
    const opened = await w.h.fetch(`https://edge.example.com/__edge/admin/breakers/${w.h.originName}/open`, { method: "POST", headers: { authorization: "Bearer test-admin-secret" } });
    expect(opened.status).toBe(200);
    const res = await pending;
    expect(res.status).toBe(202);
    expect(res.headers.get("x-edge-queued")).toBe("outcome-unknown");
    const { poll } = await res.json<{ poll: string }>();
    // h.fetch waited for the request's background work: the late answer has been read and kept.
    const status = await w.h.fetch(`https://edge.example.com${poll}`);
    const view = await status.json<{ state: string; result: { status: number; region: string; epoch: number } }>();
    expect(view.state).toBe("delivered");
    expect(view.result).toMatchObject({ status: 200, region: w.h.originName, epoch: 1 });
    expect((await w.s.log()).count).toBe(1);
  });

  it("a webhook sender's retry of a delivered event is acknowledged without the writer's answer", async () => {
    const w = writeWorker();
    const event = JSON.stringify({ event_id: "evt_9", rev: 1 });
    expect((await w.h.fetch(w.url("/hooks"), { method: "POST", body: event })).status).toBe(202);
    const m = w.queue.sent[0]!;
    const ns = w.h.env.WRITE_LEDGER!;
    const ledger = keyLedger(ns.get(ns.idFromString(m.ledger)), m.record);
    expect((await ledger.claim("t-1", 10_000)).kind).toBe("claimed");
    await ledger.delivered("t-1", { status: 200, headers: [["content-type", "application/json"]], body: btoa('{"secret":"origin data"}'), bodyBytes: 24, region: w.h.originName, epoch: 1, at: 1 });
    const retry = await w.h.fetch(w.url("/hooks"), { method: "POST", body: event });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotency-replayed")).toBe("true");
    expect(await retry.json()).toEqual({ status: "duplicate" });
    expect(w.queue.sent).toHaveLength(1);
  });
});
