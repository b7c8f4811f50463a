/** The routing data point (blob1 = "routing", index1 = region): one per change of the fleet's routing controls. */
import type { RoutingPoint } from "./state.ts";

export const ROUTING_EVENT = "routing";

/** Columns as the contract fixes them; to be listed beside the other points in metrics/schema.ts. */
export function routingPoint(p: RoutingPoint): AnalyticsEngineDataPoint {
  return {
    indexes: [p.region],
    blobs: [
      ROUTING_EVENT, // blob1
      p.action, // blob2
      p.reason, // blob3
      p.source, // blob4
    ],
    doubles: [
      p.percent, // double1
      p.step, // double2
      p.generation, // double3
    ],
  };
}
