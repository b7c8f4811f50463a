/**
 * The regions routes' view, link and region list, built once per runtime. A stopgap: the runtime
 * being reshaped into per-region objects will carry these itself (`runtime.routing`), and this
 * file goes away; until then, the routes work in the worker as it is.
 */
import { systemClock } from "../clock.ts";
import type { Env } from "../env.ts";
import { emit } from "../metrics/writer.ts";
import { routingLink, type RoutingLink } from "../routing/link.ts";
import { routingPoint } from "../routing/point.ts";
import { routingRules, routingSyncMs } from "../routing/rules.ts";
import { RoutingView } from "../routing/view.ts";
import type { Runtime } from "../runtime.ts";
import type { RegionsDeps } from "./regions.ts";

const built = new WeakMap<Runtime, RegionsDeps["routing"]>();

export function regionsDeps(runtime: Runtime, env: Env): RegionsDeps["routing"] {
  let deps = built.get(runtime);
  if (!deps) {
    const { config } = runtime;
    const view = new RoutingView({
      syncMs: routingSyncMs(config),
      clock: systemClock,
      rules: routingRules(config),
      onPoint: (point) => emit(runtime.sink, routingPoint(point)),
    });
    deps = {
      view,
      link: env.ROUTING_OBJECT ? routingLink(env.ROUTING_OBJECT, config.breaker.objectTimeoutMs) : missingBinding,
      regions: config.origins.map((origin) => origin.name),
      // Until per-region hysteresis and latency join the runtime, usable is what the breaker view says.
      reading: (region) => ({ usable: runtime.views.get(region)?.state.kind === "closed", latencyMs: undefined }),
      clock: systemClock,
    };
    built.set(runtime, deps);
  }
  return deps;
}

/** Without the binding every call fails as an unreachable object would: 503, nothing changed. */
const missingBinding: RoutingLink = {
  snapshot: () => Promise.reject(new Error("the ROUTING_OBJECT Durable Object binding is missing (see wrangler.toml)")),
  apply: () => Promise.reject(new Error("the ROUTING_OBJECT Durable Object binding is missing (see wrangler.toml)")),
};
