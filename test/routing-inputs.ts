/** The choice's inputs for tests of choose(): a routing policy by mode, and a region with defaults. */
import { readRouting } from "../src/config/routing.ts";
import type { RegionControl, RegionInput, RoutingMode, RoutingPolicy } from "../src/routing/types.ts";

export function policy(mode: RoutingMode, extra: Record<string, unknown> = {}): RoutingPolicy {
  const problems: string[] = [];
  const p = readRouting({ mode, ...extra }, problems);
  if (problems.length > 0) throw new Error(problems.join("; "));
  return p;
}

export function region(name: string, over: Partial<Omit<RegionInput, "control">> & { control?: Partial<RegionControl> } = {}, index = 0): RegionInput {
  const { control, ...rest } = over;
  return {
    name,
    weight: 1,
    home: false,
    priority: index,
    rampPercent: 100,
    usable: true,
    latencyMs: undefined,
    ...rest,
    control: { admin: "active", shedPercent: 0, rampStartedAt: undefined, reason: "", changedAt: 0, ...control },
  };
}
