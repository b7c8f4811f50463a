/**
 * Drill-only instrumentation, outside the product: a metrics sink that keeps every data point,
 * and counters of calls to the Durable Object, KV and Cache API bindings. Batches are shipped to
 * the drill's collector in waitUntil, so the request path only pays for an array push.
 */
export interface Counters {
  doCalls: number;
  /** Calls to the breaker object that failed: isolates then decide alone, and the drill says so. */
  doErrors: number;
  /** Calls to the fleet routing object (ROUTING_OBJECT), counted apart: isolates re-read it in the background by design. */
  routingCalls: number;
  routingErrors: number;
  /**
   * Strong reads of the writer lease (RoutingObject.lease): the queue consumer's, once per batch, and
   * the admin writes page the drill itself samples. Counted apart from routingCalls, which is what
   * the request path's views cost.
   */
  routingLeaseReads: number;
  kvReads: number;
  kvWrites: number;
  cacheReads: number;
  cacheWrites: number;
  requests: number;
  /** Breaker object calls by origin (`doCalls:<origin>`): with several regions, each open breaker has its own budget. */
  [byObject: `doCalls:${string}`]: number;
}

type Point = AnalyticsEngineDataPoint & { timestamp: number };

/** Posts points (and the counters, when given) to the drill's collector. */
export function shipPoints(collectorUrl: string, points: Point[], counters?: Counters): Promise<void> {
  return fetch(collectorUrl, { method: "POST", body: JSON.stringify({ points, counters }), headers: { "content-type": "application/json" } }).then(
    (res) => res.body?.cancel(),
    () => {
      // The collector is gone (the drill is ending); the points are lost with it.
    },
  );
}

export class Tap {
  points: Point[] = [];
  counters: Counters = { doCalls: 0, doErrors: 0, routingCalls: 0, routingErrors: 0, routingLeaseReads: 0, kvReads: 0, kvWrites: 0, cacheReads: 0, cacheWrites: 0, requests: 0 };
  private lastFlush = 0;
  private readonly wrappedEnvs = new WeakMap<object, Record<string, unknown>>();

  /** The breaker state the last request saw, for the drill's live line (no call to the object). */
  lastBreaker = "closed";

  writeDataPoint(point: AnalyticsEngineDataPoint): void {
    const breaker = point.blobs?.[3];
    if (point.blobs?.[0] === "request" && typeof breaker === "string") this.lastBreaker = breaker;
    this.points.push({ ...point, timestamp: Date.now() });
  }

  /** Ships what was gathered, at most every 250 ms or 500 points, or now when forced. */
  flush(collectorUrl: string, force: boolean): Promise<void> | undefined {
    const now = Date.now();
    if (!force && this.points.length < 500 && now - this.lastFlush < 250) return undefined;
    this.lastFlush = now;
    const points = this.points;
    this.points = [];
    return shipPoints(collectorUrl, points, { ...this.counters });
  }

  /** The env the product sees: same bindings, but counted, and METRICS captured here. */
  wrapEnv<E extends object>(env: E): E {
    let wrapped = this.wrappedEnvs.get(env);
    if (!wrapped) {
      const source = env as unknown as Record<string, unknown>;
      wrapped = { ...source, METRICS: this };
      if (source["BREAKER"]) wrapped["BREAKER"] = this.countNamespace(source["BREAKER"] as DurableObjectNamespace, "doCalls", "doErrors");
      if (source["ROUTING_OBJECT"]) wrapped["ROUTING_OBJECT"] = this.countNamespace(source["ROUTING_OBJECT"] as DurableObjectNamespace, "routingCalls", "routingErrors");
      if (source["LKG_KV"]) wrapped["LKG_KV"] = this.countKv(source["LKG_KV"] as KVNamespace);
      this.wrappedEnvs.set(env, wrapped);
    }
    return wrapped as unknown as E;
  }

  countCaches(storage: CacheStorage): CacheStorage {
    const counters = this.counters;
    return {
      open: async (name: string) => {
        const cache = await storage.open(name);
        return {
          match: (...args: Parameters<Cache["match"]>) => {
            counters.cacheReads++;
            return cache.match(...args);
          },
          put: (...args: Parameters<Cache["put"]>) => {
            counters.cacheWrites++;
            return cache.put(...args);
          },
          delete: (...args: Parameters<Cache["delete"]>) => cache.delete(...args),
        } as Cache;
      },
      get default() {
        return storage.default;
      },
    } as CacheStorage;
  }

  private countNamespace(namespace: DurableObjectNamespace, calls: "doCalls" | "routingCalls", errors: "doErrors" | "routingErrors"): DurableObjectNamespace {
    const counters = this.counters;
    return new Proxy(namespace, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop !== "get" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
        return (id: DurableObjectId) => {
          const stub = (value as (id: DurableObjectId) => object).call(target, id);
          return new Proxy(stub, {
            get(s, method) {
              const fn = Reflect.get(s, method, s) as unknown;
              if (typeof fn !== "function" || method === "then") return fn;
              return (...args: unknown[]) => {
                if (calls === "routingCalls" && method === "lease") counters.routingLeaseReads++;
                else counters[calls]++;
                if (calls === "doCalls" && id.name !== undefined) counters[`doCalls:${id.name}`] = (counters[`doCalls:${id.name}`] ?? 0) + 1;
                // Reflect.apply, not fn.apply: on an RPC stub every property, `apply` included,
                // is a remote method, so fn.apply(...) would call a method named "apply" on the object.
                const result = Reflect.apply(fn as (...a: unknown[]) => unknown, s, args) as Promise<unknown>;
                return Promise.resolve(result).catch((err: unknown) => {
                  counters[errors]++;
                  throw err;
                });
              };
            },
          });
        };
      },
    });
  }

  private countKv(kv: KVNamespace): KVNamespace {
    const counters = this.counters;
    return new Proxy(kv, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "put" || prop === "delete") counters.kvWrites++;
          else counters.kvReads++;
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        };
      },
    });
  }
}
