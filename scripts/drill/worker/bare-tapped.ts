/**
 * The bare pass-through worker with the drill's instrumentation, as the drill's calibration runs
 * it beside the product's drill entry: both pay for capturing and shipping one data point per
 * request, so their sustained rates compare like with like.
 */
import bare from "./bare.ts";
import { Tap } from "./tap.ts";

interface Env {
  ORIGIN_URL: string;
  DRILL_COLLECTOR_URL: string;
}

const tap = new Tap();

export default {
  async fetch(request, env, ctx) {
    const started = Date.now();
    tap.counters.requests++;
    const response = await bare.fetch(request, env);
    // A point shaped like the product's request point: 13 blobs, 6 doubles.
    tap.writeDataPoint({
      indexes: ["bare"],
      blobs: ["bare", "origin_ok", "", "closed", "", "none", "", request.method, "/", "", "bare", "", ""],
      doubles: [Date.now() - started, response.status, 0, 0, response.status, 0],
    });
    const shipping = tap.flush(env.DRILL_COLLECTOR_URL, false);
    if (shipping) ctx.waitUntil(shipping);
    return response;
  },
} satisfies ExportedHandler<Env>;
