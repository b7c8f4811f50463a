/** Isolate-wide state: resolved configuration, the LKG store and one Region per origin, kept across requests. */
import { objectLink } from "./breaker/link.ts";
import { TripGate } from "./breaker/trip-gate.ts";
import { BreakerView } from "./breaker/view.ts";
import { breakerPolicy } from "./breaker/policy.ts";
import type { Clock } from "./clock.ts";
import { resolveConfig, type Config, type ConfigResult, type OriginRegion } from "./config.ts";
import type { Env } from "./env.ts";
import { CacheTier, LKG_CACHE_NAME } from "./lkg/cache-tier.ts";
import { KV_GC_TTL_SECONDS, KvTier } from "./lkg/kv-tier.ts";
import { MemoryTier } from "./lkg/memory.ts";
import { HealthLatency } from "./origin/health-check.ts";
import { LatencyBaselines } from "./origin/latency.ts";
import { KeyActivity } from "./lkg/activity.ts";
import { SharedWriteRule, WriteBudget } from "./lkg/shared-write.ts";
import { LkgStore, newCounters } from "./lkg/store.ts";
import { transitionPoint } from "./metrics/schema.ts";
import { emit, type MetricsSink } from "./metrics/writer.ts";
import type { RegionsDeps } from "./admin/regions.ts";
import { routingLink, type RoutingLink } from "./routing/link.ts";
import { Router, type RegionRoute } from "./routing/router.ts";
import { withTimeout } from "./timeout.ts";
import type { BacklogSnapshot } from "./writes/backlog.ts";
import { LeaseKeeper } from "./writes/lease-keeper.ts";
import { backlogStub } from "./writes/queue-handler.ts";

export interface Deps {
  clock: Clock;
  caches: CacheStorage;
}

/** One origin region as this isolate knows it: its breaker, its evidence rules and its latency. */
export interface Region {
  origin: OriginRegion;
  /** Its breaker as this isolate sees it; owns its link to the breaker object. */
  view: BreakerView;
  /** Runs of failures held until the health check says they are about the origin. */
  gate: TripGate;
  /** How long its health path takes when up (the checks' deadline). */
  health: HealthLatency;
  /** Latency baselines per route class, and for the whole origin. */
  baselines: LatencyBaselines;
  /** Its routing state in this isolate (hysteresis, latency, the choice's input); set by the Router. */
  route?: RegionRoute;
}

/** Everything one configuration needs in this isolate; rebuilt only when the configuration changes. */
export interface Runtime {
  config: Config;
  digest: string;
  store: LkgStore;
  /** Per key: when it was last captured and how much it is asked for (healthy path, memory only). */
  activity: KeyActivity;
  /** LKG_NEW_KEYS_PER_SECOND: captures of keys this isolate holds no copy of yet. */
  newKeys: WriteBudget;
  /** Per origin name, in ORIGINS order. */
  regions: Map<string, Region>;
  /** Routing among the regions; the request path uses it only when there are several (`routed`). */
  router: Router;
  routed: boolean;
  /** What the regions admin routes read (the fleet view, its link, this isolate's reading of each region). */
  routing: RegionsDeps["routing"];
  /** The write backlog's snapshot (length, oldest, dead letters) through this env's binding, time-bounded; undefined without the binding. */
  backlog: (() => Promise<BacklogSnapshot>) | undefined;
  /** WRITES: the lease writes are planned on and the automatic promotion; undefined without WRITES. */
  writer: LeaseKeeper | undefined;
  /** The sink of the latest request, so isolate-only breaker transitions can be reported. */
  sink: MetricsSink | undefined;
}

export class Runtimes {
  private readonly byEnv = new WeakMap<object, ConfigResult>();
  private current: Runtime | undefined;
  private kv: { binding: KVNamespace; tier: KvTier } | undefined;

  readonly deps: Deps;

  constructor(deps: Deps) {
    this.deps = deps;
  }

  /** Configuration is validated once per env object, not per request. */
  resolve(env: Env): ConfigResult {
    let result = this.byEnv.get(env);
    if (!result) {
      result = resolveConfig(env, env);
      this.byEnv.set(env, result);
    }
    return result;
  }

  for(env: Env, config: Config, digest: string): Runtime {
    let runtime = this.current;
    if (!runtime || runtime.digest !== digest) {
      runtime = this.build(config, digest);
      this.current = runtime;
    }
    runtime.sink = env.METRICS;
    // The object binding can differ per env (tests pass their own): each view talks through this env's.
    const link = objectLink(env.BREAKER, config.breaker.objectTimeoutMs);
    for (const region of runtime.regions.values()) region.view.link = link;
    const routing = env.ROUTING_OBJECT ? routingLink(env.ROUTING_OBJECT, config.breaker.objectTimeoutMs) : MISSING_ROUTING_OBJECT;
    runtime.router.link = routing;
    runtime.routing.link = routing;
    runtime.store.setKv(config.lkg.tiers.includes("kv") ? this.kvTier(env) : undefined);
    const budget = config.breaker.objectTimeoutMs;
    runtime.backlog = env.WRITE_BACKLOG ? () => withTimeout(backlogStub(env).snapshot(), budget, () => new Error(`the write backlog object did not answer within ${budget} ms`)) : undefined;
    return runtime;
  }

  private build(config: Config, digest: string): Runtime {
    const { clock, caches } = this.deps;
    const tiers = LkgStore.enabledTiers(
      {
        memory: new MemoryTier(config.lkg.memoryMaxBytes),
        cache: new CacheTier(() => caches.open(LKG_CACHE_NAME), KV_GC_TTL_SECONDS),
        kv: undefined,
      },
      config.lkg.tiers,
    );
    const maxAgeMs = config.lkg.maxAgeSeconds * 1000;
    const rules = {
      cache: new SharedWriteRule(config.lkg.cacheWriteIntervalMs, maxAgeMs),
      kv: new SharedWriteRule(config.lkg.kvWriteIntervalMs, maxAgeMs),
      volatileHeaders: config.lkg.volatileHeaders,
      budgets: { cache: new WriteBudget(config.lkg.sharedWritesPerSecond), kv: new WriteBudget(config.lkg.sharedWritesPerSecond) },
    };
    const runtime: Runtime = {
      config,
      digest,
      store: new LkgStore(tiers, newCounters(), rules),
      activity: new KeyActivity(config.lkg.refreshMs),
      newKeys: new WriteBudget(config.lkg.newKeysPerSecond),
      regions: new Map(),
      router: undefined as unknown as Router,
      routed: config.origins.length > 1,
      routing: undefined as unknown as RegionsDeps["routing"],
      writer: undefined,
      backlog: undefined,
      sink: undefined,
    };
    const policy = breakerPolicy(config);
    for (const origin of config.origins) {
      const gate = new TripGate(policy.failureThreshold);
      const view = new BreakerView(origin.name, policy, {
        syncIntervalMs: config.breaker.syncIntervalMs,
        clock,
        onTransition: (t) => emit(runtime.sink, transitionPoint(t)),
      });
      // However it closed (our probe, another isolate's, an operator), a closed breaker starts
      // with no confirmation: old evidence must not let a client's failures straight through.
      view.onClosed = () => gate.reset();
      runtime.regions.set(origin.name, { origin, view, gate, health: new HealthLatency(), baselines: new LatencyBaselines() });
    }
    const router = new Router(config, [...runtime.regions.values()], clock, () => runtime.sink);
    runtime.router = router;
    if (config.writes) runtime.writer = new LeaseKeeper({ ...config, writes: config.writes }, router, clock);
    runtime.routing = {
      view: router.view,
      link: MISSING_ROUTING_OBJECT,
      regions: config.origins.map((origin) => origin.name),
      reading: (name) => {
        const region = runtime.regions.get(name);
        // As the next choice will read it (Router.inputs), not the input the last request's choice
        // read: a region that left during that request is already out.
        return { usable: region !== undefined && region.view.state.kind === "closed" && (region.route?.health.usable ?? true), latencyMs: region?.route?.latency.value };
      },
      clock,
    };
    return runtime;
  }

  /** The KV binding can differ per env (tests pass their own); one tier per binding. */
  private kvTier(env: Env): KvTier | undefined {
    if (!env.LKG_KV) return undefined;
    if (this.kv?.binding !== env.LKG_KV) this.kv = { binding: env.LKG_KV, tier: new KvTier(env.LKG_KV) };
    return this.kv.tier;
  }
}

const missing = (): Promise<never> => Promise.reject(new Error("the ROUTING_OBJECT Durable Object binding is missing (see wrangler.toml)"));

/** Without the binding every call fails as an unreachable object would: the admin routes answer 503, nothing changed. */
const MISSING_ROUTING_OBJECT: RoutingLink = { snapshot: missing, apply: missing, lease: missing };
