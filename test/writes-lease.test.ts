import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { routingPoint } from "../src/routing/point.ts";
import { apply, EMPTY_SNAPSHOT, eventProblem, type LeaseConfig, type LeaseEvent, type RoutingEvent, type RoutingRules } from "../src/routing/state.ts";
import type { RoutingSnapshot } from "../src/routing/types.ts";
import { RoutingView } from "../src/routing/view.ts";
import type { RoutingLink } from "../src/routing/link.ts";
import { AUTO_PROMOTE_INTERVAL_MS, AutoPromoter, effectiveLease, survivorFor, writePlan, type Candidate } from "../src/writes/lease.ts";
import { leaseConfig, leaseSettings } from "../src/writes/lease-settings.ts";
import type { WriterLease } from "../src/writes/types.ts";
import { FakeClock } from "./helpers.ts";

const RULES: RoutingRules = { gradualWeights: [10, 30, 60, 100], stepDwellMs: 10_000, hysteresisMs: 30_000 };
const T = 1_000_000;
const CONFIGURED: LeaseConfig = { writer: "east", regions: ["east", "west", "north"] };
const DRAIN = 9000;
const SEED = 20261122;

const promote = (to: string, extra: Partial<Extract<LeaseEvent, { type: "promote" }>> = {}): RoutingEvent => ({ type: "promote", to, reason: "test", source: "admin", drainMs: DRAIN, configured: CONFIGURED, ...extra });
const complete: RoutingEvent = { type: "promote_complete", configured: CONFIGURED };
const freeze = (reason = "drill"): RoutingEvent => ({ type: "freeze", reason, configured: CONFIGURED });
const unfreeze = (reason = "drill over"): RoutingEvent => ({ type: "unfreeze", reason, configured: CONFIGURED });

function leaseAfter(steps: [RoutingEvent, number][], from: RoutingSnapshot = EMPTY_SNAPSHOT): RoutingSnapshot {
  return steps.reduce((snapshot, [event, now]) => {
    const result = apply(snapshot, event, now, RULES);
    expect(result.refused).toBeUndefined();
    return result.snapshot;
  }, from);
}

describe("writer lease reducer", () => {
  it("a fleet that never promoted has the configured writer at epoch 1, not frozen, without a stored lease", () => {
    expect(effectiveLease(EMPTY_SNAPSHOT, "east")).toEqual({ region: "east", epoch: 1, frozen: false, reason: "initial", changedAt: 0 });
    expect(EMPTY_SNAPSHOT.writer).toBeUndefined();
  });

  it("promote freezes writes for drainMs with a point (percent = epoch), then promote_complete moves the lease and adds one to the epoch, not a moment earlier", () => {
    const started = apply(EMPTY_SNAPSHOT, promote("west", { reason: "admin: drill" }), T, RULES);
    expect(started.changed).toBe(true);
    expect(started.snapshot).toEqual({
      generation: 1,
      regions: {},
      writer: { region: "east", epoch: 1, frozen: false, reason: "promote:admin: drill", changedAt: T, promotion: { to: "west", from: "east", startedAt: T, completesAt: T + DRAIN, reason: "admin: drill" } },
    });
    expect(started.point).toEqual({ region: "west", action: "promote", reason: "east -> west: admin: drill", source: "admin", percent: 1, step: 0, generation: 1 });
    // While draining, the writer is still east and no write passes anywhere.
    expect(writePlan(effectiveLease(started.snapshot, "east"), T, T + 1, true, 3000)).toEqual({ kind: "queue", why: "promoting" });

    const early = apply(started.snapshot, complete, T + DRAIN - 1, RULES);
    expect(early).toEqual({ snapshot: started.snapshot, changed: false });

    const done = apply(started.snapshot, complete, T + DRAIN, RULES);
    expect(done.snapshot).toEqual({ generation: 2, regions: {}, writer: { region: "west", epoch: 2, frozen: false, reason: "promoted:admin: drill", changedAt: T + DRAIN } });
    expect(done.point).toEqual({ region: "west", action: "promote_done", reason: "east -> west: admin: drill", source: "object", percent: 2, step: 0, generation: 2 });
    expect(routingPoint(done.point!)).toEqual({ indexes: ["west"], blobs: ["routing", "promote_done", "east -> west: admin: drill", "object"], doubles: [2, 0, 2] });
    // Alarms run at least once: a second completion changes nothing.
    expect(apply(done.snapshot, complete, T + DRAIN + 5, RULES)).toEqual({ snapshot: done.snapshot, changed: false });
    expect(writePlan(effectiveLease(done.snapshot, "east"), T + DRAIN, T + DRAIN + 1, true, 3000)).toEqual({ kind: "pass", region: "west", epoch: 2 });
  });

  it("a repeated promotion to the region already being promoted changes nothing (many isolates report the same failure)", () => {
    const started = leaseAfter([[promote("west", { source: "isolate", from: "east", expectedEpoch: 1 }), T]]);
    expect(apply(started, promote("west", { source: "isolate", from: "east", expectedEpoch: 1 }), T + 100, RULES)).toEqual({ snapshot: started, changed: false });
  });

  it("refuses (409 reasons): an unconfigured region, the writer itself, another promotion under way, a stale expectedEpoch, a wrong from; nothing changes", () => {
    const draining = leaseAfter([[promote("west"), T]]);
    const done = leaseAfter([[complete, T + DRAIN]], draining);
    const cases: [RoutingSnapshot, RoutingEvent, string][] = [
      [EMPTY_SNAPSHOT, promote("south"), 'region "south" is not configured (ORIGINS: east, west, north)'],
      [EMPTY_SNAPSHOT, promote("east"), 'region "east" is the writer already (epoch 1)'],
      [draining, promote("north"), `a promotion from "east" to "west" is in progress (completes at ${new Date(T + DRAIN).toISOString()})`],
      [done, promote("north", { expectedEpoch: 1 }), "the lease is at epoch 2, not 1: it changed since it was read"],
      [done, promote("north", { from: "east" }), 'the writer is "west", not "east"'],
      [done, promote("west", { from: "west", expectedEpoch: 2 }), 'region "west" is the writer already (epoch 2)'],
    ];
    for (const [snapshot, event, refused] of cases) {
      const result = apply(snapshot, event, T + DRAIN + 1, RULES);
      expect(result).toEqual({ snapshot, changed: false, refused });
    }
  });

  it("freeze and unfreeze flip `frozen` once each, on the writer, with points; a promotion keeps the freeze", () => {
    const frozen = apply(EMPTY_SNAPSHOT, freeze("freeze_writes_on_followers"), T, RULES);
    expect(frozen.snapshot.writer).toEqual({ region: "east", epoch: 1, frozen: true, reason: "freeze:freeze_writes_on_followers", changedAt: T });
    expect(frozen.point).toEqual({ region: "east", action: "freeze", reason: "freeze_writes_on_followers", source: "admin", percent: 1, step: 0, generation: 1 });
    expect(apply(frozen.snapshot, freeze(), T + 1, RULES)).toEqual({ snapshot: frozen.snapshot, changed: false });
    expect(writePlan(effectiveLease(frozen.snapshot, "east"), T, T, true, 3000)).toEqual({ kind: "queue", why: "frozen" });

    const promoted = leaseAfter([[promote("north"), T + 10], [complete, T + 10 + DRAIN]], frozen.snapshot);
    expect(promoted.writer).toMatchObject({ region: "north", epoch: 2, frozen: true });
    const thawed = apply(promoted, unfreeze(), T + 20_000, RULES);
    expect(thawed.snapshot.writer).toEqual({ region: "north", epoch: 2, frozen: false, reason: "unfreeze:drill over", changedAt: T + 20_000 });
    expect(thawed.point).toMatchObject({ region: "north", action: "unfreeze", percent: 2 });
    expect(apply(thawed.snapshot, unfreeze(), T + 20_001, RULES).changed).toBe(false);
  });

  it("a promotion to a region configuration dropped while it drained is cancelled at completion: the lease and epoch stay", () => {
    const draining = leaseAfter([[promote("north"), T]]);
    const shrunk: LeaseConfig = { writer: "east", regions: ["east", "west"] };
    const cancelled = apply(draining, { type: "promote_complete", configured: shrunk }, T + DRAIN, RULES);
    expect(cancelled.snapshot.writer).toEqual({ region: "east", epoch: 1, frozen: false, reason: 'promote:cancelled: "north" is no longer configured', changedAt: T + DRAIN });
    expect(cancelled.point).toMatchObject({ region: "east", action: "promote_done", percent: 1, source: "object" });
  });

  it("region events keep the lease: an evacuation or ramp step never drops `writer`", () => {
    const draining = leaseAfter([[promote("west"), T]]);
    const evacuated = leaseAfter([[{ type: "evacuate", region: "north", configured: CONFIGURED.regions, force: false }, T + 1]], draining);
    expect(evacuated.writer).toEqual(draining.writer);
    expect(evacuated.generation).toBe(2);
  });

  it("refuses malformed lease events before they touch the row", () => {
    const cases: [unknown, string][] = [
      [{ type: "promote", to: "west", reason: "x", source: "admin", drainMs: DRAIN, configured: { writer: "east", regions: [] } }, "configured.regions must be the list of configured region names"],
      [{ type: "freeze", reason: "x", configured: { writer: "south", regions: ["east"] } }, 'configured.writer must be one of configured.regions, got "south"'],
      [{ type: "promote", to: "we st", reason: "x", source: "admin", drainMs: DRAIN, configured: CONFIGURED }, `to must be 1-63 letters, digits, '-' or '_', got "we st"`],
      [{ type: "promote", to: "west", from: 7, reason: "x", source: "admin", drainMs: DRAIN, configured: CONFIGURED }, "from must be a region name, got 7"],
      [{ type: "promote", to: "west", expectedEpoch: 0, reason: "x", source: "admin", drainMs: DRAIN, configured: CONFIGURED }, "expectedEpoch must be a whole number from 1, got 0"],
      [{ type: "promote", to: "west", reason: "x", source: "object", drainMs: DRAIN, configured: CONFIGURED }, 'source must be "admin" or "isolate", got "object"'],
      [{ type: "promote", to: "west", reason: "x", source: "admin", drainMs: -1, configured: CONFIGURED }, "drainMs must be whole ms 0..3600000, got -1"],
      [{ type: "promote", to: "west", reason: "x", source: "admin", drainMs: 1.5, configured: CONFIGURED }, "drainMs must be whole ms 0..3600000, got 1.5"],
      [{ type: "unfreeze", reason: "r".repeat(201), configured: CONFIGURED }, "reason must be a string of at most 200 characters"],
    ];
    for (const [event, problem] of cases) expect(eventProblem(event as RoutingEvent, EMPTY_SNAPSHOT)).toBe(problem);
    expect(eventProblem(promote("west"), EMPTY_SNAPSHOT)).toBeUndefined();
    expect(eventProblem(complete, EMPTY_SNAPSHOT)).toBeUndefined();
  });
});

describe("writer lease reducer properties (fast-check, seeded)", () => {
  const names = ["east", "west", "north", "south"]; // south is never configured
  /** Mostly absent: a promote naming a from or an epoch is usually refused, and the property needs many that complete. */
  const sometimes = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
  const event: fc.Arbitrary<RoutingEvent> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        type: fc.constant("promote" as const),
        to: fc.constantFrom(...names),
        from: sometimes(fc.constantFrom(...names)),
        expectedEpoch: sometimes(fc.integer({ min: 1, max: 4 })),
        reason: fc.constantFrom("admin", "auto: east breaker open"),
        source: fc.constantFrom("admin" as const, "isolate" as const),
        drainMs: fc.integer({ min: 0, max: 12_000 }),
        configured: fc.constant(CONFIGURED),
      }),
    },
    { weight: 4, arbitrary: fc.constant(complete) },
    { weight: 1, arbitrary: fc.constantFrom(freeze(), unfreeze()) },
    {
      weight: 1,
      arbitrary: fc.record({ type: fc.constantFrom("evacuate" as const, "drain" as const), region: fc.constantFrom(...CONFIGURED.regions), configured: fc.constant(CONFIGURED.regions), force: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("restore" as const), region: fc.constantFrom(...CONFIGURED.regions) }) },
  );
  const steps = fc.array(fc.tuple(event, fc.integer({ min: 0, max: 8000 })), { minLength: 5, maxLength: 80 });

  it("exactly one writer, always a configured region; the epoch grows by exactly one per completed promotion and never otherwise; a change is one generation", () => {
    let promotionsCompleted = 0;
    let refusals = 0;
    fc.assert(
      fc.property(steps, (sequence) => {
        let snapshot = EMPTY_SNAPSHOT;
        let now = T;
        let completed = 0;
        // Which region may take writes under each epoch: at most one, ever (no two writers).
        const writerOfEpoch = new Map<number, string>();
        for (const [e, dt] of sequence) {
          now += dt;
          const before = effectiveLease(snapshot, CONFIGURED.writer);
          const result = apply(snapshot, e, now, RULES);
          const after = effectiveLease(result.snapshot, CONFIGURED.writer);
          expect(typeof after.region).toBe("string");
          expect(CONFIGURED.regions).toContain(after.region);
          expect(result.snapshot.generation).toBe(snapshot.generation + (result.changed ? 1 : 0));
          if (!result.changed) expect(result.snapshot).toBe(snapshot);
          if (result.point?.action === "promote_done" && after.epoch > before.epoch) completed++;
          if (result.refused) refusals++;
          expect(after.epoch).toBe(1 + completed);
          expect(after.epoch - before.epoch).toBe(result.point?.action === "promote_done" && after.region !== before.region ? 1 : 0);
          // A promotion names the writer it moves from and a configured region it moves to, drains as long as asked, and completes no earlier.
          if (after.promotion) {
            expect(after.promotion.from).toBe(after.region);
            expect(CONFIGURED.regions).toContain(after.promotion.to);
            expect(after.promotion.to).not.toBe(after.region);
            if (!before.promotion && e.type === "promote") expect(after.promotion).toMatchObject({ startedAt: now, completesAt: now + e.drainMs });
          }
          if (after.region !== before.region) expect(now).toBeGreaterThanOrEqual(before.promotion!.completesAt);
          const plan = writePlan(after, now, now, true, 3000);
          if (plan.kind === "pass") {
            expect(plan.region).toBe(after.region);
            const known = writerOfEpoch.get(plan.epoch);
            if (known !== undefined) expect(plan.region).toBe(known);
            writerOfEpoch.set(plan.epoch, plan.region);
          } else {
            expect(after.frozen || after.promotion !== undefined).toBe(true);
          }
          snapshot = result.snapshot;
        }
        promotionsCompleted += completed;
      }),
      { seed: SEED, numRuns: 400 },
    );
    // The sequences reach what the property is about: many completed promotions, and refusals.
    expect(promotionsCompleted).toBeGreaterThan(200);
    expect(refusals).toBeGreaterThan(200);
  });
});

describe("writePlan", () => {
  const lease: WriterLease = { region: "east", epoch: 3, frozen: false, reason: "promoted:x", changedAt: T };
  const promotion = { to: "west", from: "east", startedAt: T, completesAt: T + DRAIN, reason: "x" };

  it("frozen, then promoting, then a copy older than the trust window, then the writer's health decide; else pass with the epoch", () => {
    const cases: [WriterLease, number, boolean, ReturnType<typeof writePlan>][] = [
      [{ ...lease, frozen: true, promotion }, T - 10_000, false, { kind: "queue", why: "frozen" }],
      [{ ...lease, promotion }, T - 10_000, false, { kind: "queue", why: "promoting" }],
      [lease, T - 3001, false, { kind: "queue", why: "lease-unknown" }],
      [lease, Number.NEGATIVE_INFINITY, true, { kind: "queue", why: "lease-unknown" }],
      [lease, T - 3000, false, { kind: "queue", why: "writer-down" }],
      [lease, T - 3000, true, { kind: "pass", region: "east", epoch: 3 }],
    ];
    for (const [l, readAt, usable, plan] of cases) expect(writePlan(l, readAt, T, usable, 3000)).toEqual(plan);
  });
});

describe("survivorFor", () => {
  it("takes the first usable region other than the writer by priority, ties in ORIGINS order", () => {
    const c = (name: string, usable: boolean, priority: number): Candidate => ({ name, usable, priority });
    expect(survivorFor([c("east", true, 0), c("west", true, 2), c("north", true, 1)], "east")).toBe("north");
    expect(survivorFor([c("east", false, 0), c("west", true, 1), c("north", true, 1)], "east")).toBe("west");
    expect(survivorFor([c("east", false, 0), c("west", false, 1), c("north", true, 5)], "east")).toBe("north");
    expect(survivorFor([c("east", false, 0), c("west", false, 1)], "east")).toBeUndefined();
    expect(survivorFor([c("east", true, 0)], "east")).toBeUndefined();
  });
});

describe("AutoPromoter", () => {
  const lease: WriterLease = { region: "east", epoch: 4, frozen: false, reason: "x", changedAt: 0 };
  const survivors: Candidate[] = [
    { name: "east", usable: false, priority: 0 },
    { name: "west", usable: true, priority: 1 },
  ];

  function promoter() {
    const clock = new FakeClock(T);
    const unknown: number[] = [];
    const auto = new AutoPromoter({ clock, configured: CONFIGURED, drainMs: DRAIN, trustMs: 3000, onUnknown: (until) => unknown.push(until) });
    return { clock, unknown, auto };
  }

  it("reports one promotion to the survivor with the epoch it read, at most once per 2 s", async () => {
    const { auto, clock } = promoter();
    const sent: LeaseEvent[] = [];
    const report = (e: LeaseEvent) => (sent.push(e), Promise.resolve());
    await auto.consider(clock.t, "east", false, survivors, lease, report);
    expect(sent).toEqual([{ type: "promote", to: "west", from: "east", expectedEpoch: 4, reason: "auto: east breaker open", source: "isolate", drainMs: DRAIN, configured: CONFIGURED }]);
    expect(auto.consider(clock.t + AUTO_PROMOTE_INTERVAL_MS - 1, "east", false, survivors, lease, report)).toBeUndefined();
    await auto.consider(clock.t + AUTO_PROMOTE_INTERVAL_MS, "east", false, survivors, lease, report);
    expect(sent).toHaveLength(2);
  });

  it("reports nothing while the writer is usable, writes are frozen, a promotion is under way, or no survivor is usable", () => {
    const { auto, clock } = promoter();
    const report = () => Promise.reject(new Error("must not be called"));
    expect(auto.consider(clock.t, "east", true, survivors, lease, report)).toBeUndefined();
    expect(auto.consider(clock.t, "east", false, survivors, { ...lease, frozen: true }, report)).toBeUndefined();
    expect(auto.consider(clock.t, "east", false, survivors, { ...lease, promotion: { to: "west", from: "east", startedAt: 0, completesAt: 1, reason: "x" } }, report)).toBeUndefined();
    expect(auto.consider(clock.t, "east", false, [{ name: "west", usable: false, priority: 1 }], lease, report)).toBeUndefined();
  });

  it("a report that fails or times out marks the lease unknown for the trust window from when it failed, and never rejects", async () => {
    const { auto, clock, unknown } = promoter();
    let fail: (err: Error) => void = () => {};
    const pending = auto.consider(clock.t, "east", false, survivors, lease, () => new Promise<void>((_, reject) => (fail = reject)));
    clock.advance(250);
    fail(new Error("routing object did not answer within 250 ms"));
    await expect(pending).resolves.toBeUndefined();
    expect(unknown).toEqual([T + 250 + 3000]);
  });
});

describe("RoutingView lease", () => {
  it("remembers when it last read the object (the call's start) and trusts no copy while a lease change is unknown", async () => {
    const clock = new FakeClock(T);
    const writer: WriterLease = { region: "west", epoch: 2, frozen: false, reason: "promoted:x", changedAt: 5 };
    let answer: (s: RoutingSnapshot) => void = () => {};
    const link: RoutingLink = {
      snapshot: () => new Promise((resolve) => (answer = resolve)),
      apply: () => Promise.reject(new Error("unused")),
      lease: () => Promise.reject(new Error("unused")),
    };
    const view = new RoutingView({ syncMs: 1000, clock, rules: RULES, onPoint: () => {} });
    expect(view.lease(clock.t)).toEqual({ writer: undefined, readAt: Number.NEGATIVE_INFINITY });
    const work = view.background(link, clock.t)!;
    clock.advance(400);
    answer({ generation: 3, regions: {}, writer });
    await work;
    expect(view.readAt).toBe(T);
    expect(view.lease(clock.t)).toEqual({ writer, readAt: T });
    view.markLeaseUnknown(clock.t + 3000);
    expect(view.leaseUnknownUntil).toBe(T + 3400);
    expect(view.lease(T + 3399).readAt).toBe(Number.NEGATIVE_INFINITY);
    expect(writePlan(effectiveLease(view.lease(T + 3399), "east"), view.lease(T + 3399).readAt, T + 3399, true, 3000)).toEqual({ kind: "queue", why: "lease-unknown" });
    expect(view.lease(T + 3400)).toEqual({ writer, readAt: T });
  });
});

describe("lease settings", () => {
  const origins = [
    { name: "east", url: new URL("https://east.example"), weight: 1, home: false, priority: 0 },
    { name: "west", url: new URL("https://west.example"), weight: 1, home: true, priority: 1 },
  ];

  it("without WRITES: the home region writes first, trust is 3 syncs, the drain is trust + ORIGIN_TIMEOUT_MS + 1 s", () => {
    const config = { origins, routingSyncMs: 1000, originTimeoutMs: 5000 };
    expect(leaseSettings(config)).toEqual({ initialWriter: "west", leaseTrustMs: 3000, promotionDrainMs: 9000 });
    expect(leaseConfig(config)).toEqual({ writer: "west", regions: ["east", "west"] });
  });

  it("with WRITES: its resolved values", () => {
    const config = { origins, routingSyncMs: 1000, originTimeoutMs: 5000, writes: { initialWriter: "east", leaseTrustMs: 1500, promotionDrainMs: 4000 } };
    expect(leaseSettings(config)).toEqual({ initialWriter: "east", leaseTrustMs: 1500, promotionDrainMs: 4000 });
  });
});
