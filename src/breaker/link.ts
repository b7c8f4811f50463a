/** The isolate's line to the breaker objects: typed RPC with a time budget, so bookkeeping can never hang a request. */
import type { Env } from "../env.ts";
import { withTimeout } from "../timeout.ts";
import type { BreakerSnapshot, ForceAction, OutcomeRun } from "./protocol.ts";

export interface BreakerLink {
  snapshot(origin: string): Promise<BreakerSnapshot>;
  report(origin: string, runs: OutcomeRun[]): Promise<BreakerSnapshot>;
  acquireProbe(origin: string): Promise<{ granted: boolean; snapshot: BreakerSnapshot }>;
  force(origin: string, action: ForceAction): Promise<BreakerSnapshot>;
}

export class BreakerObjectTimeout extends Error {
  constructor(ms: number) {
    super(`breaker object did not answer within ${ms} ms`);
    this.name = "BreakerObjectTimeout";
  }
}

/** One link per binding and budget, made once: requests take it from here, not build it each time. */
const links = new WeakMap<object, { timeoutMs: number; link: BreakerLink }>();

export function objectLink(namespace: Env["BREAKER"], timeoutMs: number): BreakerLink {
  const known = links.get(namespace);
  if (known?.timeoutMs === timeoutMs) return known.link;
  const link = makeLink(namespace, timeoutMs);
  links.set(namespace, { timeoutMs, link });
  return link;
}

function makeLink(namespace: Env["BREAKER"], timeoutMs: number): BreakerLink {
  const stub = (origin: string) => namespace.get(namespace.idFromName(origin));
  const timedOut = () => new BreakerObjectTimeout(timeoutMs);
  return {
    snapshot: (origin) => withTimeout(stub(origin).snapshot(origin), timeoutMs, timedOut),
    report: (origin, runs) => withTimeout(stub(origin).report(origin, runs), timeoutMs, timedOut),
    acquireProbe: (origin) => withTimeout(stub(origin).acquireProbe(origin), timeoutMs, timedOut),
    force: (origin, action) => withTimeout(stub(origin).force(origin, action), timeoutMs, timedOut),
  };
}
