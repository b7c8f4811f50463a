/**
 * Failover retries within a budget (this isolate): a retry is allowed while retries in the last
 * second stay below max(min_per_second, ratio x requests in the last second), so a failing region
 * is never hammered by a retry storm. Two one-second buckets, the previous one weighted by how
 * much of it the last second still covers: O(1), no allocation.
 */
import type { RoutingPolicy } from "./types.ts";

export class RetryBudget {
  private readonly ratio: number;
  private readonly minPerSecond: number;
  private second = Number.NEGATIVE_INFINITY;
  private requests = 0;
  private retries = 0;
  private previousRequests = 0;
  private previousRetries = 0;

  constructor(budget: RoutingPolicy["retryBudget"]) {
    this.ratio = budget.ratio;
    this.minPerSecond = budget.minPerSecond;
  }

  /** Every request that could fail over, counted once, before any retry of it. */
  request(now: number): void {
    this.roll(now);
    this.requests++;
  }

  /** Whether one retry may go now; counts it when it may. */
  tryRetry(now: number): boolean {
    this.roll(now);
    const behind = 1 - (now - this.second * 1000) / 1000;
    const requests = this.requests + this.previousRequests * behind;
    const retries = this.retries + this.previousRetries * behind;
    if (retries >= Math.max(this.minPerSecond, this.ratio * requests)) return false;
    this.retries++;
    return true;
  }

  private roll(now: number): void {
    const second = Math.floor(now / 1000);
    if (second === this.second) return;
    const adjacent = second === this.second + 1;
    this.previousRequests = adjacent ? this.requests : 0;
    this.previousRetries = adjacent ? this.retries : 0;
    this.requests = 0;
    this.retries = 0;
    this.second = second;
  }
}
