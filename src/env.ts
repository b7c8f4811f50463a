/** The bindings and variables the worker expects; `[vars]` are read as raw values and validated by config.ts. */
import type { BreakerObject } from "./breaker/object.ts";
import type { RoutingObject } from "./routing/object.ts";
import type { WriteLedger } from "./writes/ledger.ts";
import type { WriteBacklog } from "./writes/backlog.ts";
import type { QueuedWrite } from "./writes/types.ts";

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
  /** Queued writes and webhook events (queue `edge-fallback-writes`); this worker consumes it and its dead-letter queue. */
  WRITE_QUEUE?: Queue<QueuedWrite>;
  /** The fleet's pending writes and dead letters, one object named "fleet" (src/writes/backlog.ts). */
  WRITE_BACKLOG?: DurableObjectNamespace<WriteBacklog>;
  /** Seals the credentials of queued writes (`wrangler secret put WRITE_SECRET`, at least 16 characters); unset: derived from ADMIN_TOKEN. */
  WRITE_SECRET?: string;
  [name: string]: unknown;
}
