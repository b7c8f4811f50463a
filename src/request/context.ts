/** What every step of one request reads: the request, its bindings, the isolate's runtime and the clock. */
import type { Clock } from "../clock.ts";
import type { Env } from "../env.ts";
import type { Runtime } from "../runtime.ts";
import type { RequestPolicy } from "../scrub/policy.ts";
import type { Trace } from "./record.ts";

export interface RequestContext {
  request: Request;
  url: URL;
  env: Env;
  ctx: ExecutionContext;
  runtime: Runtime;
  clock: Clock;
  policy: RequestPolicy;
  /** Injected clock: decides staleness and breaker timing. */
  started: number;
  /** Wall time, for latency: the injected clock may stand still in tests. */
  startedWall: number;
  /** A long-poll or streaming route: never slow, and its timeouts say nothing about the origin. */
  streaming: boolean;
  /** What happened so far, for the one data point written at the end (record.ts). */
  trace: Trace;
}
