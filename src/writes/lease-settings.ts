/**
 * The lease's settings from configuration. WRITES (config/writes.ts) resolves them; until a
 * configuration has WRITES, or a caller holds an older Config without it, they fall back to the
 * values WRITES itself derives by default: the home region is the first writer, a copy of the lease
 * is trusted for 3 routing syncs, and a promotion drains for that trust window plus
 * ORIGIN_TIMEOUT_MS plus 1 s (so no write the old writer may still be answering overlaps the new epoch).
 */
import type { Config } from "../config.ts";
import { leaseWindows } from "../config/writes.ts";
import type { LeaseConfig } from "../routing/state.ts";
import type { WritesConfig } from "./types.ts";

export type LeaseSettings = Pick<WritesConfig, "initialWriter" | "promotionDrainMs" | "leaseTrustMs">;

/** What the settings are read from: a Config, with or without its `writes`. */
export type LeaseSource = Pick<Config, "origins" | "routingSyncMs" | "originTimeoutMs"> & { writes?: LeaseSettings | undefined };

export function leaseSettings(config: LeaseSource): LeaseSettings {
  if (config.writes) {
    const { initialWriter, promotionDrainMs, leaseTrustMs } = config.writes;
    return { initialWriter, promotionDrainMs, leaseTrustMs };
  }
  const home = config.origins.find((o) => o.home) ?? config.origins[0];
  return { initialWriter: home?.name ?? "", ...leaseWindows(config.routingSyncMs, config.originTimeoutMs) };
}

/** The configured writer and region names the lease events and reads carry (routing/state.ts LeaseConfig). */
export function leaseConfig(config: LeaseSource): LeaseConfig {
  return { writer: leaseSettings(config).initialWriter, regions: config.origins.map((o) => o.name) };
}
