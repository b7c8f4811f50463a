/** The worker and its Durable Object class; nothing else lives here. */
import { createApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import type { Env } from "./env.ts";

export { BreakerObject } from "./breaker/object.ts";

const app = createApp({ clock: systemClock, caches });

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
