/** The worker and its Durable Object classes; nothing else lives here. */
import { createApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import type { Env } from "./env.ts";
import { handleQueue } from "./writes/queue-handler.ts";
import type { QueuedWrite } from "./writes/types.ts";

export { BreakerObject } from "./breaker/object.ts";
export { RoutingObject } from "./routing/object.ts";
export { WriteLedger } from "./writes/ledger.ts";
export { WriteBacklog } from "./writes/backlog.ts";

const app = createApp({ clock: systemClock, caches });

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // The write queue and its dead-letter queue (src/writes/consumer.ts).
  queue: (batch, env) => handleQueue(batch, env, systemClock),
} satisfies ExportedHandler<Env, QueuedWrite>;
