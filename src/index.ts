/** The worker and its Durable Object classes; nothing else lives here. */
import { createApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import type { Env } from "./env.ts";

export { BreakerObject } from "./breaker/object.ts";
export { RoutingObject } from "./routing/object.ts";
export { WriteLedger } from "./writes/ledger.ts";

const app = createApp({ clock: systemClock, caches });

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
