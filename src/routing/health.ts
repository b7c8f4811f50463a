/** Per-region hysteresis in one isolate: a region leaves after `down` failures in a row and returns after `up` successes in a row and a minimum dwell. */
import type { RoutingPolicy } from "./types.ts";

/** A change the caller reports (a `left` / `returned` routing data point). */
export interface HealthChange {
  change: "left" | "returned";
  reason: string;
}

/**
 * At most one change per `hysteresisMs`, so a flapping region moves traffic at most that often;
 * except that a region whose breaker opened leaves at once (the breaker already decided, and
 * sending traffic into an open breaker only buys rejections).
 */
export class RegionHealth {
  usable = true;
  private failures = 0;
  private successes = 0;
  private lastChangeAt = -Infinity;
  private readonly policy: Pick<RoutingPolicy, "down" | "up" | "hysteresisMs">;

  constructor(policy: Pick<RoutingPolicy, "down" | "up" | "hysteresisMs">) {
    this.policy = policy;
  }

  failure(now: number, breakerOpen = false): HealthChange | undefined {
    this.successes = 0;
    this.failures++;
    if (!this.usable) return undefined;
    if (breakerOpen) return this.change("left", "breaker open", now);
    if (this.failures >= this.policy.down && now - this.lastChangeAt >= this.policy.hysteresisMs) {
      return this.change("left", `${this.failures} failures in a row`, now);
    }
    return undefined;
  }

  success(now: number): HealthChange | undefined {
    this.failures = 0;
    if (this.usable) return undefined;
    this.successes++;
    if (this.successes >= this.policy.up && now - this.lastChangeAt >= this.policy.hysteresisMs) {
      return this.change("returned", `${this.successes} successes in a row`, now);
    }
    return undefined;
  }

  /** Leave now whatever the counts (a ramp step failed its error budget); undefined when already out. */
  leave(now: number, reason: string): HealthChange | undefined {
    if (!this.usable) return undefined;
    return this.change("left", reason, now);
  }

  private change(change: HealthChange["change"], reason: string, now: number): HealthChange {
    this.usable = change === "returned";
    this.lastChangeAt = now;
    this.failures = 0;
    this.successes = 0;
    return { change, reason };
  }
}
