/** The isolate's line to the fleet routing object: typed RPC with a time budget, so bookkeeping can never hang a request. */
import type { Env } from "../env.ts";
import { withTimeout } from "../timeout.ts";
import { ROUTING_OBJECT_NAME } from "./object.ts";
import type { WriterLease } from "../writes/types.ts";
import type { Applied, LeaseConfig, RoutingEvent } from "./state.ts";
import type { RoutingSnapshot } from "./types.ts";

export interface RoutingLink {
  snapshot(): Promise<RoutingSnapshot>;
  apply(event: RoutingEvent): Promise<Applied>;
  /** The write lease, read strongly (the queue consumer's one read per batch, the admin page); an overdue promotion completes first. */
  lease(configured: LeaseConfig): Promise<WriterLease>;
}

export class RoutingObjectTimeout extends Error {
  constructor(ms: number) {
    super(`routing object did not answer within ${ms} ms`);
    this.name = "RoutingObjectTimeout";
  }
}

/** One link per binding and budget, made once: requests take it from here, not build it each time. */
const links = new WeakMap<object, { timeoutMs: number; link: RoutingLink }>();

export function routingLink(namespace: Env["ROUTING_OBJECT"], timeoutMs: number): RoutingLink {
  const known = links.get(namespace);
  if (known?.timeoutMs === timeoutMs) return known.link;
  const link = makeLink(namespace, timeoutMs);
  links.set(namespace, { timeoutMs, link });
  return link;
}

function makeLink(namespace: Env["ROUTING_OBJECT"], timeoutMs: number): RoutingLink {
  const id = namespace.idFromName(ROUTING_OBJECT_NAME);
  const timedOut = () => new RoutingObjectTimeout(timeoutMs);
  // A stub per call: a stub whose object broke (reset, moved) stays broken, a new one reconnects.
  const stub = () => namespace.get(id);
  return {
    snapshot: () => withTimeout(stub().snapshot(), timeoutMs, timedOut),
    apply: (event) => withTimeout(stub().apply(event), timeoutMs, timedOut),
    lease: (configured) => withTimeout(stub().lease(configured), timeoutMs, timedOut),
  };
}
