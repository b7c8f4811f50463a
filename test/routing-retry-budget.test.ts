/** RetryBudget on its own: retries in the last second below max(min_per_second, ratio x requests), in two one-second buckets. */
import { describe, expect, it } from "vitest";
import { RetryBudget } from "../src/routing/retry-budget.ts";

const T0 = 1_000_000; // a second boundary

function allowed(budget: RetryBudget, now: number, tries: number): number {
  let n = 0;
  for (let i = 0; i < tries; i++) if (budget.tryRetry(now)) n++;
  return n;
}

describe("RetryBudget", () => {
  it("allows 20 % of the second's requests: 100 requests, 20 retries, the 21st refused", () => {
    const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3 });
    for (let i = 0; i < 100; i++) b.request(T0 + i);
    expect(allowed(b, T0 + 100, 20)).toBe(20);
    expect(b.tryRetry(T0 + 100)).toBe(false);
  });

  it("allows at least min_per_second even with few requests", () => {
    const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3 });
    b.request(T0);
    expect(allowed(b, T0 + 1, 10)).toBe(3);
  });

  it("the last second, not the bucket: a burst at the end of one second still counts early in the next", () => {
    const b = new RetryBudget({ ratio: 0.2, minPerSecond: 0 });
    for (let i = 0; i < 100; i++) b.request(T0 + 900);
    expect(allowed(b, T0 + 900, 30)).toBe(20);
    // 100 ms into the next second, 90 % of the last bucket is still within the last second: 90
    // requests and 18 retries, so no retry is left.
    expect(b.tryRetry(T0 + 1100)).toBe(false);
    // Half a second on, half: 50 requests allow 10, and 10 retries are counted.
    expect(b.tryRetry(T0 + 1500)).toBe(false);
    // Two seconds later nothing is left of the burst, and nothing of its allowance either.
    expect(b.tryRetry(T0 + 3000)).toBe(false);
    b.request(T0 + 3000);
    for (let i = 0; i < 9; i++) b.request(T0 + 3000);
    expect(allowed(b, T0 + 3000, 5)).toBe(2);
  });

  it("ratio 0 and min 0: never a retry", () => {
    const b = new RetryBudget({ ratio: 0, minPerSecond: 0 });
    for (let i = 0; i < 1000; i++) b.request(T0);
    expect(b.tryRetry(T0)).toBe(false);
  });

  it("a storm of failures cannot retry more than the budget over many seconds", () => {
    const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3 });
    let requests = 0;
    let retries = 0;
    for (let t = T0; t < T0 + 10_000; t += 2) {
      b.request(t);
      requests++;
      if (b.tryRetry(t)) retries++;
    }
    expect(requests).toBe(5000);
    expect(retries).toBeLessThanOrEqual(0.2 * 5000 + 3);
    expect(retries).toBeGreaterThanOrEqual(0.2 * 5000 - 10);
  });
});
