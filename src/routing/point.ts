/** The routing data point (blob1 = "routing", index1 = region): one per change of the fleet's routing controls. */
import type { RoutingPoint } from "./state.ts";

export const ROUTING_EVENT = "routing";

/** Columns fixed by the README's metrics schema (routing points). */
export function routingPoint(p: RoutingPoint): AnalyticsEngineDataPoint {
  return {
    indexes: [p.region],
    blobs: [
      ROUTING_EVENT, // blob1
      p.action, // blob2
      // Bounded: Analytics Engine refuses a point whose blobs are too large, and would drop it.
      p.reason.slice(0, 256), // blob3
      p.source, // blob4
    ],
    doubles: [
      p.percent, // double1
      p.step, // double2
      p.generation, // double3
    ],
  };
}
