/**
 * The write targets are only worth something if a bad run fails them: a synthetic write-failover
 * run (us-east writer until it is partitioned at 10 s, eu-west promoted through the admin route,
 * epoch 2 from 12 s, the queued writes delivered there, us-east back as a follower at 20 s) passes
 * every write target, and each test below gives it exactly one defect and checks that exactly the
 * target(s) about it fail.
 */
import { describe, expect, it } from "vitest";
import type { WriteEntry } from "../lib/write-log.ts";
import type { DrillData } from "./judge/data.ts";
import { drillRouting } from "./regions.ts";
import type { Plan, RequestResult } from "./types.ts";
import type { BacklogSample, WriteRunData } from "./judge/data.ts";
import { writeTargets } from "./write-checks.ts";

const T0 = Date.parse("2026-12-01T12:00:00Z");
const PROMOTED = 12_000;

const plan: Plan = {
  name: "unit-writes",
  description: "write failover on two regions",
  regions: [{ name: "us-east", home: true }, { name: "eu-west" }],
  routing: { mode: "failover" },
  writes: { config: { routes: [{ path: "/api/", methods: ["POST"], idempotency: "required" }] }, promote: "admin", emitFrom: "eu-west", freezeFollowers: true },
  mix: { hotKeys: 1, coldKeys: 1, hotShare: 1, credentialedShare: 0, users: 1, writeShare: 0, writes: { share: 0.2, webhookShare: 0.1 } },
  phases: [
    { name: "baseline", durationS: 10, rate: 100, fault: false, baseline: true, origins: { "us-east": { mode: "healthy" }, "eu-west": { mode: "healthy" } } },
    { name: "partition", durationS: 10, rate: 100, fault: true, origins: { "us-east": { mode: "partition" } }, writeAdmin: [{ action: "promote", region: "eu-west" }] },
    { name: "returned", durationS: 10, rate: 100, fault: false, origins: { "us-east": { mode: "healthy" } } },
  ],
};

function send(at: number, kind: "write" | "webhook", ref: string, status: number, over: Partial<RequestResult["write"]> = {}, latencyMs = 5): RequestResult {
  return {
    intendedAt: at,
    sendDelayMs: 0,
    latencyMs,
    status,
    phase: at < 10_000 ? 0 : at < 20_000 ? 1 : 2,
    key: kind === "write" ? "POST /api/orders" : "POST /hooks/payments",
    method: "POST",
    user: "anonymous",
    cacheStatus: "",
    age: -1,
    originUser: "",
    originServedAt: 0,
    region: "",
    fakeRegion: "",
    write: { kind, ref, retry: false, changed: false, replayed: false, location: status === 202 ? `/__edge/writes/${ref}` : "", queuedBecause: status === 202 ? (kind === "webhook" ? "webhook" : "writer-down") : "", ...over },
  };
}

function entry(at: number, region: string, epoch: number | null, key: string, event: string | null = null, seen = false): WriteEntry {
  return { method: "POST", path: event ? "/hooks/payments" : "/api/orders", key, epoch, region, at: T0 + at, seen, event, status: 201 };
}

/** Who takes a write sent at `at`: the writer, or the queue while us-east is down and eu-west not yet promoted. */
function deliveredAt(at: number): { region: string; epoch: number; at: number; queued: boolean } {
  if (at < 10_000) return { region: "us-east", epoch: 1, at: at + 2, queued: false };
  if (at < PROMOTED) return { region: "eu-west", epoch: 2, at: PROMOTED + 100 + (at - 10_000) / 10, queued: true };
  return { region: "eu-west", epoch: 2, at: at + 2, queued: false };
}

function goodRun(): { results: RequestResult[]; w: WriteRunData } {
  const results: RequestResult[] = [];
  const logs: Record<string, WriteEntry[]> = { "us-east": [], "eu-west": [] };
  const statuses: WriteRunData["statuses"] = {};
  let last = "";
  let lastStatus = 0;
  for (let i = 0, at = 0; at < 30_000; i++, at += 100) {
    if (i % 10 === 9) {
      // A client retries its last key: the same payload is replayed, a changed one refused.
      if (i % 20 === 19) results.push(send(at, "write", last, 422, { retry: true, changed: true }));
      else results.push(send(at, "write", last, lastStatus, { retry: true, replayed: true, location: lastStatus === 202 ? `/__edge/writes/${last}` : "" }));
      continue;
    }
    const key = `k-${i}`;
    const d = deliveredAt(at);
    results.push(send(at, "write", key, d.queued ? 202 : 201));
    logs[d.region]!.push(entry(d.at, d.region, d.epoch, key));
    if (d.queued) statuses[`/__edge/writes/${key}`] = { status: 200, state: "delivered" };
    last = key;
    lastStatus = d.queued ? 202 : 201;
    if (i % 2 === 0) {
      // Webhooks are always queue-first; every fifth is a sender's retry of the one before.
      const ev = `evt-${i}:1`;
      if (i % 10 === 8) {
        results.push(send(at + 50, "webhook", `evt-${i - 2}:1`, 202, { retry: true, replayed: true }));
        statuses[`/__edge/writes/evt-${i - 2}:1`] ??= { status: 200, state: "delivered" };
        continue;
      }
      results.push(send(at + 50, "webhook", ev, 202));
      statuses[`/__edge/writes/${ev}`] = { status: 200, state: "delivered" };
      const h = deliveredAt(at + 50);
      logs[h.region]!.push(entry(h.queued ? h.at : h.at + 40, h.region, h.epoch, `sha-${i}`, ev));
    }
  }
  const samples: BacklogSample[] = [];
  for (let at = 0; at <= 34_000; at += 500) {
    const promoting = at >= 10_000 && at < PROMOTED;
    const backlog = at >= 10_000 && at < PROMOTED ? Math.round((at - 10_000) / 100) : at >= PROMOTED && at < PROMOTED + 2000 ? 3 : 0;
    samples.push({ at: T0 + at, ok: true, length: backlog, oldestAgeMs: backlog > 0 ? 500 : 0, dead: 0, region: at < PROMOTED ? "us-east" : "eu-west", epoch: at < PROMOTED ? 1 : 2, frozen: false, promoting });
  }
  return { results, w: { logs, dropped: { "us-east": 0, "eu-west": 0 }, samples, statuses } };
}

/** The drill's data for a run, with the region run (its routing and faults) when given. */
function drillData(run: { results: RequestResult[]; w: WriteRunData }, p: Plan, regionRun?: DrillData["regionRun"]): DrillData {
  return {
    plan: p,
    startedAt: T0,
    bounds: [0, 10_000, 20_000, 30_000],
    results: run.results,
    points: [],
    counters: [],
    originPerSecond: {},
    settings: { maxAgeS: 30, threshold: 5, openMaxMs: 1500, timeoutMs: 5000 },
    writes: run.w,
    ...(regionRun ? { regionRun } : {}),
  };
}

function judge(run: { results: RequestResult[]; w: WriteRunData }, p: Plan = plan) {
  return writeTargets(drillData(run, p));
}

const queuedAckOf = (run: { results: RequestResult[]; w: WriteRunData }) => judge(run).targets.find((t) => t.name === "queued write acknowledged (202) fast")!;

function failing(run: { results: RequestResult[]; w: WriteRunData }, p: Plan = plan): string[] {
  return judge(run, p)
    .targets.filter((t) => !t.pass)
    .map((t) => t.name);
}

describe("write targets", () => {
  it("a correct write failover passes every write target, and its totals count sends, acks, deliveries and duplicates", () => {
    const run = goodRun();
    const { targets, totals } = judge(run);
    expect(targets.filter((t) => !t.pass).map((t) => `${t.name}: ${t.measured}`)).toEqual([]);
    expect(targets.map((t) => t.name)).toEqual([
      "zero write loss",
      "zero duplicates",
      "origins received only the clients' writes",
      "one writer at every instant",
      "followers take no direct write",
      "webhooks delivered only from the survivor",
      "a changed payload under a used key is refused 422",
      "queued write acknowledged (202) fast",
      "backlog back to zero after the writer is usable",
      "dead-letter queue empty",
      "pre: queue_empty",
      "post: backlog_zero",
    ]);
    expect(totals["writes sent"]).toBe(270);
    expect(totals["writes acknowledged"]).toBe(270);
    expect(totals["writes delivered"]).toBe(270);
    expect(totals["writes duplicates"]).toBe(0);
    expect(totals["webhook events sent"]).toBe(120);
    expect(totals["webhook events delivered"]).toBe(120);
    expect(targets.find((t) => t.name === "one writer at every instant")!.measured).toBe("epoch 1: us-east 0.0 s-9.8 s (130); epoch 2: eu-west 12.0 s-29.8 s (260)");
  });

  it("a write acknowledged but in no origin's log fails zero write loss", () => {
    const run = goodRun();
    run.w.logs["eu-west"] = run.w.logs["eu-west"]!.filter((e) => e.key !== "k-100");
    expect(failing(run)).toEqual(["zero write loss"]);
  });

  it("a 202 whose status resource ends failed (dead-lettered) fails zero write loss, even when nothing else shows it", () => {
    const run = goodRun();
    run.w.statuses["/__edge/writes/k-101"] = { status: 200, state: "failed", reason: "dead-lettered after 100 attempts" };
    expect(failing(run)).toEqual(["zero write loss"]);
  });

  it("an acknowledged webhook event no origin received fails zero write loss", () => {
    const run = goodRun();
    run.w.logs["us-east"] = run.w.logs["us-east"]!.filter((e) => e.event !== "evt-0:1");
    expect(failing(run)).toEqual(["zero write loss"]);
  });

  it("a redelivered write reaching a second region fails zero duplicates", () => {
    const run = goodRun();
    run.w.logs["eu-west"]!.push(entry(15_000, "eu-west", 2, "k-102"));
    expect(failing(run)).toEqual(["zero duplicates"]);
  });

  it("a key repeated to the same origin (which refused it with its stored answer) still fails zero duplicates", () => {
    const run = goodRun();
    run.w.logs["eu-west"]!.push(entry(25_000, "eu-west", 2, "k-250", null, true));
    expect(failing(run)).toEqual(["zero duplicates"]);
  });

  it("a sender's retry delivered a second time fails zero duplicates", () => {
    const run = goodRun();
    run.w.logs["eu-west"]!.push(entry(26_000, "eu-west", 2, "sha-250", "evt-250:1"));
    expect(failing(run)).toEqual(["zero duplicates"]);
  });

  it("a key no client sent (the worker rewrote it) fails only the stranger target", () => {
    const run = goodRun();
    run.w.logs["eu-west"]!.push(entry(27_000, "eu-west", 2, '"k-999"'));
    expect(failing(run)).toEqual(["origins received only the clients' writes"]);
  });

  it("the old writer taking a write under its old epoch after the new one started fails one writer at every instant", () => {
    const run = goodRun();
    const e = run.w.logs["us-east"]!.find((x) => x.key === "k-50")!;
    e.at = T0 + 13_000;
    expect(failing(run)).toEqual(["one writer at every instant"]);
  });

  it("a write forwarded without x-edge-write-epoch fails one writer at every instant", () => {
    const run = goodRun();
    run.w.logs["eu-west"]!.find((x) => x.key === "k-200")!.epoch = null;
    expect(failing(run)).toEqual(["one writer at every instant"]);
  });

  it("a follower taking a direct write fails the follower target and one writer (two regions in one epoch)", () => {
    const run = goodRun();
    const moved = run.w.logs["eu-west"]!.find((x) => x.key === "k-250")!;
    run.w.logs["eu-west"] = run.w.logs["eu-west"]!.filter((x) => x !== moved);
    run.w.logs["us-east"]!.push({ ...moved, region: "us-east" });
    expect(failing(run)).toEqual(["one writer at every instant", "followers take no direct write"]);
  });

  it("a webhook delivered to the failed region after it failed fails the webhook target too", () => {
    const run = goodRun();
    const moved = run.w.logs["eu-west"]!.find((x) => x.event === "evt-250:1")!;
    run.w.logs["eu-west"] = run.w.logs["eu-west"]!.filter((x) => x !== moved);
    run.w.logs["us-east"]!.push({ ...moved, region: "us-east" });
    expect(failing(run)).toEqual(["one writer at every instant", "followers take no direct write", "webhooks delivered only from the survivor"]);
  });

  it("a webhook the failed region took in the ms before its fault reached it is no webhook after it failed; one after is", () => {
    const run = goodRun();
    const last = run.w.logs["us-east"]!.filter((x) => x.event !== null).at(-1)!;
    const withFault = (appliedAt: number): DrillData =>
      drillData(run, plan, { routing: drillRouting({ mode: "failover" }), syncMs: 1000, actions: [], faults: [{ phase: 1, region: "us-east", setting: { mode: "partition" }, appliedAt }] });
    // Logged 4 ms into the phase, the partition in place at 8 ms: the worker sent it to a healthy writer.
    last.at = T0 + 10_004;
    const webhookTarget = (d: DrillData) => writeTargets(d).targets.find((t) => t.name === "webhooks delivered only from the survivor")!;
    expect(webhookTarget(withFault(T0 + 10_008)).pass).toBe(true);
    // Without the drill's record, the phase's scheduled start: flagged.
    expect(failing(run)).toEqual(["webhooks delivered only from the survivor"]);
    // The partition in place at 2 ms: it was taken after.
    const late = webhookTarget(withFault(T0 + 10_002));
    expect(late.pass).toBe(false);
    expect(late.measured).toContain(`${last.event} at us-east 10.0 s, after it failed at 10.0 s`);
  });

  it("a webhook policy whose emit_from never held the lease fails the webhook target", () => {
    expect(failing(goodRun(), { ...plan, writes: { ...plan.writes!, emitFrom: "ap-south" } })).toEqual(["webhooks delivered only from the survivor"]);
  });

  it("a changed payload acknowledged instead of refused fails the 422 target", () => {
    const run = goodRun();
    run.results.find((r) => r.write?.changed)!.status = 201;
    expect(failing(run)).toEqual(["a changed payload under a used key is refused 422"]);
  });

  it("slow 202s (p99 above 50 ms) fail the queued-ack target", () => {
    const run = goodRun();
    const queued = run.results.filter((r) => r.status === 202);
    for (const r of queued.slice(0, Math.ceil(queued.length * 0.02))) r.latencyMs = 80;
    expect(failing(run)).toEqual(["queued write acknowledged (202) fast"]);
  });

  it("a 202 p99 over 50 ms fails whatever else the machine was doing: nothing widens the limit", () => {
    const run = goodRun();
    const queued = run.results.filter((r) => r.status === 202);
    for (const r of queued.slice(0, Math.ceil(queued.length * 0.02))) r.latencyMs = 51;
    const t = queuedAckOf(run);
    expect(t).toMatchObject({ pass: false, latency: true });
    expect(t.measured).toMatch(/^p99 51\.0 ms over \d+ 202s \(max 51\.0 ms\)$/);
  });

  it("202s that waited for a failed pass-through attempt are judged against the detection bound, apart from the queued ones", () => {
    const run = goodRun();
    const queued = run.results.filter((r) => r.status === 202 && r.write!.kind === "write");
    for (const r of queued.slice(0, Math.ceil(queued.length * 0.05))) Object.assign(r, { latencyMs: 290 }, { write: { ...r.write!, queuedBecause: "outcome-unknown" } });
    expect(failing(run)).toEqual([]);
    const after = judge(run).targets.find((t) => t.name === "write queued after a failed attempt acknowledged within the detection bound")!;
    expect(after.measured).toMatch(/^p99 290\.0 ms over \d+ 202s \(max 290\.0 ms\)$/);
    for (const r of queued.slice(0, Math.ceil(queued.length * 0.05))) r.latencyMs = 900;
    expect(failing(run)).toEqual(["write queued after a failed attempt acknowledged within the detection bound"]);
  });

  it("a backlog still non-empty 30 s after the writer became usable fails the drain target (it is empty at the end)", () => {
    const run = goodRun();
    // The same 2 still queued 31 s after eu-west took the lease (the drill kept sampling while it waited for delivery).
    const stuck = (at: number) => ({ length: 2, oldestAgeMs: at - PROMOTED + 1000 });
    for (const s of run.w.samples) if (s.at - T0 >= PROMOTED) Object.assign(s, stuck(s.at - T0));
    for (let at = 34_500; at <= 43_000; at += 500) run.w.samples.push({ ...run.w.samples[run.w.samples.length - 1]!, at: T0 + at, ...(at < 43_000 ? stuck(at) : { length: 0, oldestAgeMs: 0 }) });
    expect(failing(run)).toEqual(["backlog back to zero after the writer is usable"]);
  });

  it("a steady flow of fresh webhooks (a few always queued, none older than 5 s) is a backlog caught up", () => {
    const run = goodRun();
    for (const s of run.w.samples) if (s.at - T0 >= PROMOTED + 2000) Object.assign(s, { length: 4, oldestAgeMs: 900 });
    for (let at = 34_500; at <= 43_000; at += 500) run.w.samples.push({ ...run.w.samples[run.w.samples.length - 1]!, at: T0 + at, ...(at < 43_000 ? { length: 3, oldestAgeMs: 700 } : { length: 0, oldestAgeMs: 0 }) });
    expect(failing(run)).toEqual([]);
  });

  it("a backlog left at the end fails the drain target and post: backlog_zero", () => {
    const run = goodRun();
    run.w.samples[run.w.samples.length - 1]!.length = 1;
    expect(failing(run)).toEqual(["backlog back to zero after the writer is usable", "post: backlog_zero"]);
  });

  it("a backlog waiting while the writer is down or promoting is not late: only time with a usable writer counts", () => {
    const run = goodRun();
    // Promotion took 25 s instead of 2 s: frozen all along, then drained at once.
    for (const s of run.w.samples) if (s.at - T0 >= 10_000 && s.at - T0 < 33_000) Object.assign(s, { promoting: true, length: 40, region: "us-east", epoch: 1 });
    expect(failing(run)).toEqual([]);
  });

  it("one dead letter at any time fails the dead-letter target", () => {
    const run = goodRun();
    run.w.samples[40]!.dead = 1;
    expect(failing(run)).toEqual(["dead-letter queue empty"]);
  });

  it("a backlog that is not keeping up at the baseline's end fails pre: queue_empty; a fresh one passes", () => {
    const fresh = goodRun();
    Object.assign(fresh.w.samples[19]!, { length: 4, oldestAgeMs: 4000 });
    expect(failing(fresh)).toEqual([]);
    const stuck = goodRun();
    Object.assign(stuck.w.samples[19]!, { length: 4, oldestAgeMs: 6000 });
    expect(failing(stuck)).toEqual(["pre: queue_empty"]);
  });

  it("an unreadable admin route fails every target that needs its samples", () => {
    const run = goodRun();
    run.w.samples = run.w.samples.map((s) => ({ ...s, ok: false, error: "404" }));
    expect(failing(run)).toEqual(["followers take no direct write", "webhooks delivered only from the survivor", "backlog back to zero after the writer is usable", "dead-letter queue empty", "pre: queue_empty", "post: backlog_zero"]);
  });

  it("a plan without writes has no write targets", () => {
    const { writes: _writes, ...noWrites } = plan;
    expect(judge(goodRun(), noWrites).targets).toEqual([]);
  });
});
