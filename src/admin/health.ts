/** The health page: a public status (nothing that helps reach or time the origin) and the operators' full view. */
import { objectLink } from "../breaker/link.ts";
import type { BreakerState } from "../breaker/state.ts";
import type { Env } from "../env.ts";
import type { BacklogSnapshot } from "../writes/backlog.ts";
import { effectiveLease } from "../writes/lease.ts";
import type { Runtime } from "../runtime.ts";
import { VERSION } from "../version.ts";

export interface PublicHealth {
  status: "ok" | "degraded";
  version: string;
  origins: { name: string; breaker: BreakerState["kind"] }[];
}

/**
 * What a status check needs and no more: no origin URL (a way around the edge) and no breaker
 * timing (an open breaker's `until` or a probe lease tells an attacker when to send the request
 * that wins the half-open probe). Read from the isolate's views only: an anonymous caller never
 * makes this worker call the breaker object, which tops out at about 1,000 requests/s.
 */
export function publicHealth(runtime: Runtime): PublicHealth {
  const origins = runtime.config.origins.map((origin) => ({ name: origin.name, breaker: runtime.regions.get(origin.name)!.view.state.kind }));
  return { status: statusOf(origins), version: VERSION, origins };
}

/** Everything, for holders of ADMIN_TOKEN: URLs, both breaker views with their timings, object calls, LKG counters. */
export async function fullHealth(runtime: Runtime, env: Env) {
  const { config } = runtime;
  const link = objectLink(env.BREAKER, config.breaker.objectTimeoutMs);
  const origins = await Promise.all(
    config.origins.map(async (origin, i) => {
      const view = runtime.regions.get(origin.name)!.view;
      let object: unknown;
      try {
        object = (await link.snapshot(origin.name)).state;
      } catch (err) {
        object = { error: err instanceof Error ? err.message : String(err) };
      }
      return {
        name: origin.name,
        url: origin.url.href,
        weight: origin.weight,
        routed: i === 0,
        breaker: { isolate: view.state, object, objectCalls: view.calls, lastObjectError: view.objectError ?? null },
      };
    }),
  );
  const writes = config.writes ? await writesHealth(runtime) : null;
  const status = statusOf(origins.map((o) => ({ breaker: o.breaker.isolate.kind })));
  return {
    // A dead letter is a write that needs an operator (replay it): the edge is not fine until it is.
    status: writes?.backlog !== null && (writes?.backlog?.dead ?? 0) > 0 ? "degraded" : status,
    version: VERSION,
    configDigest: runtime.digest,
    origins,
    writes,
    lkg: {
      tiers: config.lkg.tiers,
      maxAgeSeconds: config.lkg.maxAgeSeconds,
      memory: runtime.store.memoryStats() ?? null,
      counters: runtime.store.counters,
    },
  };
}

/** The writer as this isolate plans on it, and the fleet's backlog (queued writes, the oldest, dead letters). */
async function writesHealth(runtime: Runtime) {
  const reading = runtime.router.view.lease(runtime.routing.clock.now());
  const lease = effectiveLease(reading, runtime.config.writes!.initialWriter);
  let backlog: BacklogSnapshot | null = null;
  let backlogError: string | null = null;
  try {
    backlog = runtime.backlog ? await runtime.backlog() : null;
    if (!runtime.backlog) backlogError = "the WRITE_BACKLOG binding is missing";
  } catch (err) {
    backlogError = err instanceof Error ? err.message : String(err);
  }
  return { writer: lease.region, epoch: lease.epoch, frozen: lease.frozen, promotion: lease.promotion ?? null, backlog, backlogError };
}

/** Degraded while any origin's breaker (as this isolate sees it) is not closed. */
function statusOf(origins: { breaker: BreakerState["kind"] }[]): PublicHealth["status"] {
  return origins.every((o) => o.breaker === "closed") ? "ok" : "degraded";
}
