/**
 * The worker as the drills run it: the product's own app and Durable Object, unchanged, with
 * their bindings counted and their Analytics Engine points captured (writeDataPoint does
 * nothing locally) and shipped to the drill's collector.
 */
import { createApp } from "../../../src/app.ts";
import { BreakerObject as ProductBreakerObject } from "../../../src/breaker/object.ts";
import { systemClock } from "../../../src/clock.ts";
import type { Env } from "../../../src/env.ts";
import { shipPoints, Tap } from "./tap.ts";

// Every other class the product exports (the fleet routing object, ...), unchanged: wrangler.toml's
// bindings name them (runtime.ts binds what it declares). The local BreakerObject below wins over
// the product's of the same name.
export * from "../../../src/index.ts";

/** One tap per isolate: the worker and its Durable Objects share it when they share the isolate. */
const tap = new Tap();
const app = createApp({ clock: systemClock, caches: tap.countCaches(caches) });

type DrillEnv = Env & { DRILL_COLLECTOR_URL: string };

/**
 * The object may live in an isolate of its own, whose tap no request would ever flush:
 * transitions are rare, so each is shipped as it happens.
 */
export class BreakerObject extends ProductBreakerObject {
  constructor(ctx: DurableObjectState, env: DrillEnv) {
    const sink = {
      writeDataPoint(point: AnalyticsEngineDataPoint) {
        ctx.waitUntil(shipPoints(env.DRILL_COLLECTOR_URL, [{ ...point, timestamp: Date.now() }]));
      },
    };
    super(ctx, { ...env, METRICS: sink as unknown as AnalyticsEngineDataset });
  }
}

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === "/__drill/flush") {
      await tap.flush(env.DRILL_COLLECTOR_URL, true);
      return new Response("flushed\n");
    }
    if (path === "/__drill/state") return Response.json({ breaker: tap.lastBreaker, counters: tap.counters });
    tap.counters.requests++;
    const response = await app.fetch(request, tap.wrapEnv(env), ctx);
    const shipping = tap.flush(env.DRILL_COLLECTOR_URL, false);
    if (shipping) ctx.waitUntil(shipping);
    return response;
  },
} satisfies ExportedHandler<DrillEnv>;
