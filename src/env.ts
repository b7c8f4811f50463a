/** The bindings and variables the worker expects; `[vars]` are read as raw values and validated by config.ts. */
import type { BreakerObject } from "./breaker/object.ts";
import type { RoutingObject } from "./routing/object.ts";
import type { WriteLedger } from "./writes/ledger.ts";

export interface Env {
  /** Per-origin circuit breaker, the fleet's source of truth. */
  BREAKER: DurableObjectNamespace<BreakerObject>;
  /**
   * The fleet's routing controls (evacuations, drains, shedding, ramps), one object named "fleet".
   * Not `ROUTING`: that name is the ROUTING policy var, and a binding and a var cannot share it.
   */
  ROUTING_OBJECT: DurableObjectNamespace<RoutingObject>;
  /** The idempotency ledger, one object per scoped key (`idFromName(scopedKey(...))`); needed only with WRITES. */
  WRITE_LEDGER?: DurableObjectNamespace<WriteLedger>;
  /** Global tier of the last-known-good store (optional when LKG_TIERS leaves out "kv"). */
  LKG_KV?: KVNamespace;
  /** One data point per request and per breaker transition. */
  METRICS: AnalyticsEngineDataset;
  /** Bearer secret for the admin routes, set with `wrangler secret put ADMIN_TOKEN`; unset disables them. */
  ADMIN_TOKEN?: string;
  /** HMAC key for the region assignments clients carry (`wrangler secret put STICKY_SECRET`); unset: derived from ADMIN_TOKEN. */
  STICKY_SECRET?: string;
  [name: string]: unknown;
}
