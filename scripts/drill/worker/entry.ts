/**
 * The worker as the drills run it: the product's own app and Durable Objects, unchanged, with
 * their bindings counted and their Analytics Engine points captured (writeDataPoint does
 * nothing locally) and shipped to the drill's collector.
 */
import { createApp } from "../../../src/app.ts";
import { BreakerObject as ProductBreakerObject } from "../../../src/breaker/object.ts";
import { systemClock } from "../../../src/clock.ts";
import type { Env } from "../../../src/env.ts";
import * as product from "../../../src/index.ts";
import { shipPoints, Tap } from "./tap.ts";

/** One tap per isolate: the worker and its Durable Objects share it when they share the isolate. */
const tap = new Tap();
const app = createApp({ clock: systemClock, caches: tap.countCaches(caches) });

type DrillEnv = Env & { DRILL_COLLECTOR_URL: string };

/**
 * An object may live in an isolate of its own, whose tap no request would ever flush: its points
 * (breaker transitions, the routing object's ramp steps on its alarm) are rare, so each is
 * shipped as it happens.
 */
function objectEnv(ctx: DurableObjectState, env: DrillEnv): DrillEnv {
  const sink = {
    writeDataPoint(point: AnalyticsEngineDataPoint) {
      ctx.waitUntil(shipPoints(env.DRILL_COLLECTOR_URL, [{ ...point, timestamp: Date.now() }]));
    },
  };
  return { ...env, METRICS: sink as unknown as AnalyticsEngineDataset };
}

export class BreakerObject extends ProductBreakerObject {
  constructor(ctx: DurableObjectState, env: DrillEnv) {
    super(ctx, objectEnv(ctx, env));
  }
}

type ObjectClass = new (ctx: DurableObjectState, env: DrillEnv) => object;
/** The fleet routing object (issue 10), read by name so this entry also builds against a worker without one. */
const ProductRoutingObject = (product as unknown as Record<string, ObjectClass | undefined>)["RoutingObject"];

/**
 * wrangler.toml binds ROUTING_OBJECT to this class (runtime.ts binds what wrangler.toml declares).
 * A worker without the routing object binds nothing to it, and gets a handler with no handlers:
 * workerd refuses an export that is undefined.
 */
export const RoutingObject: ObjectClass | ExportedHandler = ProductRoutingObject
  ? class extends ProductRoutingObject {
      constructor(ctx: DurableObjectState, env: DrillEnv) {
        super(ctx, objectEnv(ctx, env));
      }
    }
  : {};

/**
 * The write path's objects (issue 11), bound by wrangler.toml as WriteLedger and WriteBacklog:
 * read by name like the routing object, so this entry also builds against a worker without them.
 */
function drillObject(name: string): ObjectClass | ExportedHandler {
  const Product = (product as unknown as Record<string, ObjectClass | undefined>)[name];
  return Product
    ? class extends Product {
        constructor(ctx: DurableObjectState, env: DrillEnv) {
          super(ctx, objectEnv(ctx, env));
        }
      }
    : {};
}
export const WriteLedger = drillObject("WriteLedger");
export const WriteBacklog = drillObject("WriteBacklog");

/** The product's handlers: its queue consumer (the write queue and its dead-letter queue) runs as deployed, with the tap's env. */
const productHandler = (product as unknown as { default: ExportedHandler<DrillEnv> }).default;

export default {
  async queue(batch, env, ctx) {
    if (!productHandler.queue) throw new Error("the worker has no queue handler, yet a queue is bound to it (wrangler.toml)");
    await productHandler.queue(batch, tap.wrapEnv(env), ctx);
    const shipping = tap.flush(env.DRILL_COLLECTOR_URL, false);
    if (shipping) ctx.waitUntil(shipping);
  },
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
