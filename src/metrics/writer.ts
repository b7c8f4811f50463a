/** Writes data points to a sink: the Analytics Engine binding in production, a capturing sink in tests and drills. */
export interface MetricsSink {
  writeDataPoint(point: AnalyticsEngineDataPoint): void;
}

/** Metrics are bookkeeping: a failing sink must never fail or slow an answer. */
export function emit(sink: MetricsSink | undefined, point: AnalyticsEngineDataPoint): void {
  try {
    sink?.writeDataPoint(point);
  } catch {
    // Dropped on purpose; Analytics Engine is best-effort by design.
  }
}

/** A sink that keeps every point, for tests and drills (writeDataPoint does nothing locally). */
export class CapturingSink implements MetricsSink {
  readonly points: AnalyticsEngineDataPoint[] = [];
  writeDataPoint(point: AnalyticsEngineDataPoint): void {
    this.points.push(point);
  }
}
