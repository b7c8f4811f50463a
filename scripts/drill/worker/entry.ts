/**
 * The worker as the drills run it: the product's own app and Durable Object, unchanged, with
 * their bindings counted and their Analytics Engine points captured (writeDataPoint does
 * nothing locally) and shipped to the drill's collector.
 */
import { createApp } from "../../../src/app.ts";
import { BreakerObject as ProductBreakerObject } from "../../../src/breaker/object.ts";
import { systemClock } from "../../../src/clock.ts";
import type { Env } from "../../../src/env.ts";
import { Tap } from "./tap.ts";

/** One tap per isolate: the worker and its Durable Objects share it when they share the isolate. */
const tap = new Tap();
const app = createApp({ clock: systemClock, caches: tap.countCaches(caches) });

type DrillEnv = Env & { DRILL_COLLECTOR_URL: string };

export class BreakerObject extends ProductBreakerObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, { ...env, METRICS: tap as unknown as AnalyticsEngineDataset });
  }
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__drill/flush") {
      await tap.flush(env.DRILL_COLLECTOR_URL, true);
      return new Response("flushed\n");
    }
    tap.counters.requests++;
    const response = await app.fetch(request, tap.wrapEnv(env), ctx);
    const shipping = tap.flush(env.DRILL_COLLECTOR_URL, false);
    if (shipping) ctx.waitUntil(shipping);
    return response;
  },
} satisfies ExportedHandler<DrillEnv>;
