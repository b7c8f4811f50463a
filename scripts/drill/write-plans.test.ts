/** The write drills' plans, their load mix and the worker settings they run with (issue 11). */
import { describe, expect, it } from "vitest";
import { requestMaker } from "./mix.ts";
import { loadPlan, validatePlan } from "./plan.ts";
import type { RequestSpec } from "./load.ts";
import { parseWritesAdmin, writesVar } from "./write-run.ts";

const WRITES = {
  routes: [{ path: "/api/", methods: ["POST", "PUT", "PATCH", "DELETE"], idempotency: "required" }],
  webhooks: [{ path: "/hooks/payments", dedupe_key: "sha256(event_id+rev)" }],
  writer: "us-east",
};

describe("write plans", () => {
  it("write-failover: the writer partitioned, auto-promotion, the old writer back; the worker gets the contract's WRITES with auto_promote", async () => {
    const plan = await loadPlan("write-failover");
    expect(plan.writes).toEqual({ config: WRITES, promote: "auto", freezeFollowers: true });
    expect(JSON.parse(writesVar(plan)!)).toEqual({ ...WRITES, auto_promote: true });
    expect(plan.phases.map((p) => [p.name, p.durationS, p.origins["us-east"]?.mode, p.writeAdmin ?? []])).toEqual([
      ["baseline", 12, "healthy", []],
      ["writer-partitioned", 20, "partition", []],
      ["old-writer-back", 16, "healthy", []],
    ]);
  });

  it("webhook-reroute: the region fails, an operator promotes the survivor, webhooks only from there", async () => {
    const plan = await loadPlan("webhook-reroute");
    expect(plan.writes).toEqual({ config: WRITES, promote: "admin", emitFrom: "eu-west", freezeFollowers: true });
    expect(JSON.parse(writesVar(plan)!)).toEqual({ ...WRITES, auto_promote: false });
    expect(plan.phases[1]!.writeAdmin).toEqual([{ action: "promote", region: "eu-west", reason: "drill D: us-east failed; webhooks only from the survivor" }]);
    expect(plan.mix.writes!.webhookShare).toBeGreaterThan(plan.mix.writes!.share);
  });

  it("a calibrated rate below the plan's scales the replay rate with it (never below 1 a second), the plan's or the product default's", async () => {
    const plan = await loadPlan("write-failover");
    // The product default (50 a second) when the plan sets none; unchanged at the plan's own rate.
    expect(JSON.parse(writesVar(plan)!).replay_per_second).toBeUndefined();
    expect(JSON.parse(writesVar(plan, 0.5)!).replay_per_second).toBe(25);
    expect(JSON.parse(writesVar(plan, 0.001)!).replay_per_second).toBe(1);
    const paced = { ...plan, writes: { ...plan.writes!, config: { ...plan.writes!.config, replay_per_second: 25 } } };
    expect(JSON.parse(writesVar(paced, 1)!).replay_per_second).toBe(25);
    expect(JSON.parse(writesVar(paced, 0.5)!).replay_per_second).toBe(13);
  });

  it("a plan without writes gives the worker no WRITES", async () => {
    expect(writesVar(await loadPlan("regions"))).toBeUndefined();
  });

  it("names every problem of a plan's writes at once", () => {
    const problems = validatePlan({
      name: "x",
      description: "",
      regions: [{ name: "us-east" }, { name: "eu-west" }],
      writes: { config: { writer: "mars", auto_promote: true }, promote: "sometimes", emitFrom: "ap-south", freezeFollowers: false, extra: 1 },
      mix: { hotKeys: 1, coldKeys: 1, hotShare: 1, credentialedShare: 0, users: 1, writeShare: 0, writes: { share: 0.8, webhookShare: 0.4, retryShare: 0.9, path: "api", speed: 1 } },
      phases: [{ name: "a", durationS: 5, rate: 10, fault: false, baseline: true, origins: {}, writeAdmin: [{ action: "promote", region: "mars" }, { action: "freeze", region: "us-east" }, { action: "demote" }] }],
    });
    expect(problems).toEqual([
      "mix.writes.share + webhookShare must be at most 1, got 1.2000000000000002",
      "mix.writes.retryShare must be a share from 0 to 0.5, got 0.9",
      'mix.writes.path must be a path, got "api"',
      "mix.writes.speed is not a write mix field",
      "writes.config.auto_promote is set by the drill from writes.promote",
      'writes.config.writer must be one of the regions (us-east, eu-west), got "mars"',
      'writes.promote must be "auto" (the worker promotes on the writer\'s breaker) or "admin" (the phases\' writeAdmin), got "sometimes"',
      'writes.emitFrom must be one of the regions (us-east, eu-west), got "ap-south"',
      "writes.freezeFollowers can only be true: a follower never takes a direct write (one writer region), got false",
      "writes.extra is not a writes field",
      'phases[0].writeAdmin[0].region must be one of us-east, eu-west, got "mars"',
      "phases[0].writeAdmin[1].region is for promote only",
      'phases[0].writeAdmin[2].action must be one of promote, freeze, unfreeze, got "demote"',
    ]);
  });

  it("writes need a multi-region plan with writes", () => {
    const problems = validatePlan({ name: "x", description: "", writes: { config: {}, promote: "auto" }, mix: { hotKeys: 1, coldKeys: 1, hotShare: 1, credentialedShare: 0, users: 1, writeShare: 0, writes: { share: 0.1, webhookShare: 0 } }, phases: [{ name: "a", durationS: 5, rate: 10, fault: false, baseline: true, origins: {}, writeAdmin: [{ action: "freeze" }] }] });
    expect(problems).toEqual(["writes needs regions (a multi-region plan): one writer among several regions", "phases[0].writeAdmin needs writes and regions"]);
    expect(validatePlan({ name: "x", description: "", mix: { hotKeys: 1, coldKeys: 1, hotShare: 1, credentialedShare: 0, users: 1, writeShare: 0, writes: { share: 0.1, webhookShare: 0 } }, phases: [{ name: "a", durationS: 5, rate: 10, fault: false, baseline: true, origins: {} }] })).toEqual([
      "mix.writes needs writes (the worker's WRITES setting)",
    ]);
  });
});

describe("the write mix", () => {
  async function sample(n = 20_000): Promise<RequestSpec[]> {
    const plan = await loadPlan("write-failover");
    const make = requestMaker(plan.mix, () => true, undefined, "n0nce");
    return Array.from({ length: n }, (_, i) => make(i));
  }

  it("sends writes, retries and webhooks in the plan's shares, with a per-run nonce in every key", async () => {
    const specs = await sample();
    const writes = specs.filter((s) => s.write?.kind === "write");
    const hooks = specs.filter((s) => s.write?.kind === "webhook");
    // 15 % and 5 % of 20,000, within sampling noise.
    expect(writes.length).toBeGreaterThan(2700);
    expect(writes.length).toBeLessThan(3300);
    expect(hooks.length).toBeGreaterThan(850);
    expect(hooks.length).toBeLessThan(1150);
    const retries = writes.filter((s) => s.write!.retry);
    expect(retries.length / writes.length).toBeGreaterThan(0.08);
    expect(retries.length / writes.length).toBeLessThan(0.12);
    const changed = retries.filter((s) => s.write!.changed);
    expect(changed.length / retries.length).toBeGreaterThan(0.22);
    expect(changed.length / retries.length).toBeLessThan(0.38);
    expect(writes.every((s) => s.write!.ref.startsWith("n0nce-w"))).toBe(true);
    expect(hooks.every((s) => s.write!.ref.startsWith("evt-n0nce-"))).toBe(true);
    // The other requests are the plan's reads, unchanged.
    expect(specs.filter((s) => !s.write).every((s) => s.method === "GET")).toBe(true);
  });

  it("a new write has a key of its own; a retry resends an earlier key, with its credentials, and the same body unless changed", async () => {
    const specs = await sample();
    const writes = specs.filter((s) => s.write?.kind === "write");
    const first = new Map<string, RequestSpec>();
    for (const s of writes) {
      expect(s.method).toBe("POST");
      expect(s.path).toBe("/api/orders");
      expect(s.headers["idempotency-key"]).toBe(`"${s.write!.ref}"`);
      expect(s.headers["content-type"]).toBe("application/json");
      const earlier = first.get(s.write!.ref);
      if (!s.write!.retry) {
        expect(earlier).toBeUndefined();
        first.set(s.write!.ref, s);
        continue;
      }
      expect(earlier).toBeDefined();
      expect(s.user).toBe(earlier!.user);
      expect(s.headers["authorization"]).toBe(earlier!.headers["authorization"]);
      if (s.write!.changed) expect(s.body).not.toBe(earlier!.body);
      else expect(s.body).toBe(earlier!.body);
    }
    expect(first.size).toBe(writes.filter((s) => !s.write!.retry).length);
  });

  it("a webhook is {event_id, rev, ...} without a key; a sender's retry resends the same event; a new revision is a new event", async () => {
    const specs = await sample();
    const hooks = specs.filter((s) => s.write?.kind === "webhook");
    const bodies = new Map<string, string>();
    let revisions = 0;
    for (const s of hooks) {
      expect(s.path).toBe("/hooks/payments");
      expect(s.headers["idempotency-key"]).toBeUndefined();
      const body = JSON.parse(s.body!) as { event_id: string; rev: number };
      expect(s.write!.ref).toBe(`${body.event_id}:${body.rev}`);
      if (s.write!.retry) expect(bodies.get(s.write!.ref)).toBe(s.body);
      else {
        expect(bodies.has(s.write!.ref)).toBe(false);
        bodies.set(s.write!.ref, s.body!);
        if (body.rev > 1) revisions++;
      }
    }
    expect(revisions).toBeGreaterThan(20);
    expect(hooks.filter((s) => s.write!.retry).length / hooks.length).toBeGreaterThan(0.15);
  });

  it("two makers (the calibration's and the run's) never share a key", async () => {
    const plan = await loadPlan("write-failover");
    const a = requestMaker(plan.mix);
    const b = requestMaker(plan.mix);
    const refs = (make: (i: number) => RequestSpec) => new Set(Array.from({ length: 2000 }, (_, i) => make(i).write?.ref).filter((r) => r !== undefined));
    const ra = refs(a);
    expect([...refs(b)].filter((r) => ra.has(r))).toEqual([]);
  });
});

describe("GET /__edge/admin/writes as the drill reads it", () => {
  it("reads the lease and the backlog, a promotion in progress and frozen writes", () => {
    const text = JSON.stringify({ lease: { region: "us-east", epoch: 1, frozen: true, promotion: { to: "eu-west" } }, backlog: { length: 7, oldestAt: 1, dead: 2 } });
    expect(parseWritesAdmin(200, text, 5)).toEqual({ at: 5, ok: true, length: 7, oldestAgeMs: 4, dead: 2, region: "us-east", epoch: 1, frozen: true, promoting: true });
    const empty = JSON.stringify({ lease: { region: "eu-west", epoch: 2, frozen: false, promotion: null }, backlog: { length: 0, oldestAt: null, dead: 1 } });
    expect(parseWritesAdmin(200, empty, 6)).toEqual({ at: 6, ok: true, length: 0, oldestAgeMs: 0, dead: 1, region: "eu-west", epoch: 2, frozen: false, promoting: false });
  });

  it("an answer without a lease or a backlog, a refusal or garbage is an unreadable sample that says what it got", () => {
    expect(parseWritesAdmin(404, "not found", 1)).toMatchObject({ ok: false, error: "404 not found" });
    expect(parseWritesAdmin(200, "<html>", 1)).toMatchObject({ ok: false, error: "not JSON: <html>" });
    expect(parseWritesAdmin(200, '{"lease":{"region":"us-east"}}', 1)).toMatchObject({ ok: false });
    expect(parseWritesAdmin(200, '{"lease":null,"objectError":"timed out","backlog":{"length":0,"dead":0}}', 1)).toMatchObject({ ok: false, error: 'no lease (objectError: "timed out")' });
    expect(parseWritesAdmin(200, '{"lease":{"region":"a","epoch":1},"backlog":null,"backlogError":"gone"}', 1)).toMatchObject({ ok: false, error: 'no backlog (backlogError: "gone")' });
    expect(parseWritesAdmin(0, "ECONNREFUSED", 1)).toMatchObject({ ok: false, error: "no answer ECONNREFUSED" });
  });
});
