/**
 * Routing among several regions in one isolate: the inputs the choice reads (from memory only),
 * what each attempt teaches (hysteresis, ramp judge, retry budget), and the background work that
 * keeps it true (the fleet view's sync, checks of regions that left, latency samples).
 */
import { probeWithHealthCheck, healthCheckDeadline } from "../breaker/evidence.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import { routingPoint } from "./point.ts";
import { emit, type MetricsSink } from "../metrics/writer.ts";
import { checkHealth } from "../origin/health-check.ts";
import type { RequestContext } from "../request/context.ts";
import type { Region } from "../runtime.ts";
import { RegionHealth } from "./health.ts";
import { LatencyEwma, nextLeader } from "./latency.ts";
import type { RoutingLink } from "./link.ts";
import { RampJudge } from "./ramp.ts";
import { routingRules } from "./rules.ts";
import { Draws } from "./draws.ts";
import { RetryBudget } from "./retry-budget.ts";
import type { RoutingEvent } from "./state.ts";
import { AssignmentKey } from "./sticky.ts";
import type { RegionInput, RoutingPolicy } from "./types.ts";
import { RoutingView } from "./view.ts";

/** A region that left (or whose breaker is not closed) is checked at most this often per isolate. */
const RETURN_CHECK_INTERVAL_MS = 1000;
/** latency mode: each usable region's health path is timed this often per isolate (the leader's too: like is compared with like). */
const LATENCY_SAMPLE_INTERVAL_MS = 2000;

/** One region's routing state in this isolate. */
export interface RegionRoute {
  health: RegionHealth;
  latency: LatencyEwma;
  /** What the choice reads; refreshed in place by Router.inputs. */
  input: RegionInput;
  lastCheckAt: number;
  lastSampleAt: number;
}

export class Router {
  readonly policy: RoutingPolicy;
  readonly view: RoutingView;
  /** The line to the fleet routing object; connected per env, like the breaker views. */
  link: RoutingLink | undefined;
  /** Signs and checks assignments; undefined when none are issued (stick_seconds 0). */
  readonly key: AssignmentKey | undefined;
  readonly budget: RetryBudget;
  readonly judge: RampJudge;
  /** The choice's draws, evenly spread (draws.ts): a ramp step's share is its weight. */
  readonly draws = new Draws();
  leader: string | undefined;
  private leaderChangedAt = Number.NEGATIVE_INFINITY;
  readonly regions: readonly Region[];
  private readonly inputsList: RegionInput[];
  private readonly healthPath: string;
  private readonly sink: () => MetricsSink | undefined;

  constructor(config: Config, regions: readonly Region[], clock: Clock, sink: () => MetricsSink | undefined) {
    this.policy = config.routing;
    this.regions = regions;
    this.sink = sink;
    // Several regions need a path to check a region that left even when ORIGIN_HEALTH_PATH is off.
    this.healthPath = config.health.path ?? "/";
    this.view = new RoutingView({
      syncMs: config.routingSyncMs,
      clock,
      rules: routingRules(config),
      onPoint: (point) => emit(this.sink(), routingPoint(point)),
    });
    this.key = config.stickySecret && config.routing.stickMs > 0 ? new AssignmentKey(config.stickySecret, regions.map((r) => r.origin.name)) : undefined;
    this.budget = new RetryBudget(config.routing.retryBudget);
    this.judge = new RampJudge(config.routing);
    this.inputsList = [];
    for (const region of regions) {
      const input: RegionInput = {
        name: region.origin.name,
        weight: region.origin.weight,
        home: region.origin.home,
        priority: region.origin.priority,
        control: this.view.control(region.origin.name),
        rampPercent: 100,
        usable: true,
        latencyMs: undefined,
      };
      region.route = { health: new RegionHealth(config.routing), latency: new LatencyEwma(config.routing.latency.alpha), input, lastCheckAt: Number.NEGATIVE_INFINITY, lastSampleAt: Number.NEGATIVE_INFINITY };
      this.inputsList.push(input);
    }
    this.leader = regions.find((r) => r.origin.home)?.origin.name ?? regions[0]?.origin.name;
  }

  /** The choice's inputs now, from memory only (the fleet view, breaker views, hysteresis). */
  inputs(now: number): readonly RegionInput[] {
    for (const region of this.regions) {
      const route = region.route!;
      const input = route.input;
      input.control = this.view.control(input.name);
      input.rampPercent = this.view.rampPercent(input.name, now);
      input.usable = route.health.usable && region.view.state.kind === "closed";
      input.latencyMs = route.latency.value;
    }
    return this.inputsList;
  }

  /** An attempt on `region` answered well. */
  succeeded(x: RequestContext, region: Region, now: number): void {
    const route = region.route!;
    const change = route.health.success(now);
    // Held by the fleet (another isolate saw it leave) while this isolate finds it well: say so,
    // or a region whose reporting isolate went away would stay held for good.
    if (change) this.report(x, { type: "returned", region: region.origin.name, why: change.reason }, now);
    else if (route.health.usable && route.input.control.held === true) this.report(x, { type: "returned", region: region.origin.name, why: "answering" }, now);
    this.judge.record(region.origin.name, route.input.control, now, false);
  }

  /** An attempt on `region` failed (or its breaker let nothing through). */
  failed(x: RequestContext, region: Region, now: number): void {
    // Only what the breaker heard counts: a failure the trip gate holds (one route's trouble,
    // until a health check says otherwise) says nothing about the region, so a client hammering a
    // broken route cannot move it; and a stall is counted once (claimSlow), not once per request
    // caught in it, so one hiccup of this machine does not make every region leave at once.
    const last = x.trace.attempts.at(-1);
    if (last !== undefined && last.breakerHeard !== "failure" && last.failure !== "breaker_open") return;
    const route = region.route!;
    const name = region.origin.name;
    const change = route.health.failure(now, region.view.state.kind !== "closed");
    if (change) this.report(x, { type: "left", region: name, why: change.reason }, now);
    const abort = this.judge.record(name, this.view.control(name), now, true);
    if (abort) {
      this.report(x, { type: "ramp_abort", region: name, reason: abort.reason, rampStartedAt: this.view.control(name).rampStartedAt }, now);
      // The region earns its way back as after an outage: `up` successes and the dwell.
      const left = route.health.leave(now, `ramp aborted: ${abort.reason}`);
      if (left) this.report(x, { type: "left", region: name, why: left.reason }, now);
    }
  }

  private report(x: RequestContext, event: RoutingEvent, now: number): void {
    const sending = this.link ? this.view.report(this.link, event, now) : undefined;
    if (sending) x.ctx.waitUntil(sending);
  }

  /** The view's sync when due: all one region needs (its writes read the lease from the view). */
  sync(x: RequestContext, now: number): void {
    if (this.link) {
      const sync = this.view.background(this.link, now);
      if (sync) x.ctx.waitUntil(sync);
    }
  }

  /** After the answer: the view's sync when due, checks of regions that left, latency samples. */
  background(x: RequestContext, now: number): void {
    this.sync(x, now);
    const sampling = this.policy.mode === "latency";
    for (const region of this.regions) {
      const route = region.route!;
      if (!route.input.usable || region.view.state.kind !== "closed" || route.input.control.held === true) {
        if (now - route.lastCheckAt >= RETURN_CHECK_INTERVAL_MS) {
          route.lastCheckAt = now;
          x.ctx.waitUntil(this.checkReturn(x, region));
        }
      } else if (sampling && now - route.lastSampleAt >= LATENCY_SAMPLE_INTERVAL_MS) {
        route.lastSampleAt = now;
        x.ctx.waitUntil(this.sample(x, region));
      }
    }
  }

  /**
   * A region out of the choice gets no client traffic, so the isolate checks it itself: as the
   * breaker's half-open probe when the breaker wants one, else a plain health check that counts
   * toward `up`.
   */
  private async checkReturn(x: RequestContext, region: Region): Promise<void> {
    const { view } = region;
    const now = x.clock.now();
    const decision = view.decide(now);
    if (decision.kind === "reject") return;
    let ok: boolean;
    if (decision.kind === "try-probe") {
      const verdict = await view.acquireProbe(now);
      if (verdict === "reject") return;
      if (verdict === "probe") ok = await probeWithHealthCheck(x, region, this.healthPath);
      else ok = (await checkHealth(region.origin, this.healthPath, healthCheckDeadline(x, region))).ok;
    } else {
      const result = await checkHealth(region.origin, this.healthPath, healthCheckDeadline(x, region));
      region.health.record(result);
      if (result.ok) region.route!.latency.observe(result.ms);
      ok = result.ok;
    }
    const at = x.clock.now();
    if (ok) this.succeeded(x, region, at);
    else this.failed(x, region, at);
  }

  private async sample(x: RequestContext, region: Region): Promise<void> {
    const result = await checkHealth(region.origin, this.healthPath, x.runtime.config.health.timeoutMs);
    region.health.record(result);
    if (result.ok) region.route!.latency.observe(result.ms);
    this.updateLeader(x.clock.now());
  }

  /** latency mode: the leader changes only past the margin and the dwell (nextLeader); each change is a data point. */
  private updateLeader(now: number): void {
    const ewmas = new Map<string, number | undefined>();
    const usable = new Set<string>();
    for (const region of this.regions) {
      const input = region.route!.input;
      ewmas.set(input.name, region.route!.latency.value);
      if (input.usable) usable.add(input.name);
    }
    const next = nextLeader(this.leader, ewmas, usable, { ratio: this.policy.latency.switchMargin, minMs: this.policy.latency.minSwitchMs }, this.leaderChangedAt, now, this.policy.hysteresisMs);
    if (next === undefined || next === this.leader) return;
    const before = this.leader;
    this.leader = next;
    this.leaderChangedAt = now;
    const ms = ewmas.get(next);
    emit(this.sink(), routingPoint({ region: next, action: "leader", reason: `faster than ${before ?? "none"} (${ms === undefined ? "?" : Math.round(ms)} ms)`, source: "isolate", percent: 100, step: 0, generation: this.view.generation }));
  }
}
