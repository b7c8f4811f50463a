/**
 * Workers' AnalyticsEngineDataPoint (from @cloudflare/workers-types, which this Node program
 * cannot load next to the DOM lib), the same shape: the worker's point builders (src/metrics,
 * src/routing/point.ts) return it, and the dashboard's tests build their rows with them.
 */
interface AnalyticsEngineDataPoint {
  indexes?: ((ArrayBuffer | string) | null)[];
  doubles?: number[];
  blobs?: ((ArrayBuffer | string) | null)[];
}
