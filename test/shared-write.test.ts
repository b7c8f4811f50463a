import { describe, expect, it } from "vitest";
import { KeyActivity, SHARED_WINDOW_MS } from "../src/lkg/activity.ts";
import { isRateLimited, SharedWriteRule, WriteBudget } from "../src/lkg/shared-write.ts";

const MAX_AGE_MS = 30_000;

describe("SharedWriteRule: when a shared tier needs a copy", () => {
  it("writes a new key, throttles changed content to the minimum interval, and skips unchanged content until the rewrite point", () => {
    // random() = 0: rewrite at half the cap; backoffs at their shortest.
    const rule = new SharedWriteRule(2000, MAX_AGE_MS, () => 0);
    expect(rule.decide("k", "d1", 0)).toBe("write");
    rule.begin("k", "d1", 0, 0);
    rule.succeeded("k");
    expect(rule.decide("k", "d2", 1999)).toBe("throttled");
    expect(rule.decide("k", "d2", 2000)).toBe("write");
    expect(rule.decide("k", "d1", 2000)).toBe("unchanged");
    expect(rule.decide("k", "d1", 14_999)).toBe("unchanged");
    expect(rule.decide("k", "d1", 15_000)).toBe("write");
  });

  it("spreads rewrites of unchanged content between half and three quarters of the cap, from the copy's storedAt", () => {
    const late = new SharedWriteRule(1000, MAX_AGE_MS, () => 0.999);
    late.begin("k", "d", 100, 500);
    expect(late.decide("k", "d", 22_570)).toBe("unchanged");
    expect(late.decide("k", "d", 22_600)).toBe("write");
  });

  it("backs a rate-limited key off for a quarter to a half of the cap, doubling, and forgets what it wrote", () => {
    const rule = new SharedWriteRule(1000, MAX_AGE_MS, () => 0);
    rule.begin("k", "d", 0, 0);
    rule.failed("k", 0, true);
    expect(rule.decide("k", "d", 7_499)).toBe("backoff");
    // After the backoff, the same content is written again: the failed write is not in the tier.
    expect(rule.decide("k", "d", 7_500)).toBe("write");
    rule.begin("k", "d", 7_500, 7_500);
    rule.failed("k", 7_500, true);
    expect(rule.decide("k", "d", 7_500 + 14_999)).toBe("backoff");
    expect(rule.decide("k", "d", 7_500 + 15_000)).toBe("write");
  });

  it("backs off 1 s after another error, doubling up to the cap, and clears the backoff after a success", () => {
    const rule = new SharedWriteRule(0, MAX_AGE_MS, () => 0);
    let now = 0;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      rule.begin("k", "d", now, now);
      rule.failed("k", now, false);
      let wait = 0;
      while (rule.decide("k", "d", now + wait) === "backoff") wait += 500;
      delays.push(wait);
      now += wait;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    rule.begin("k", "d", now, now);
    rule.succeeded("k");
    rule.begin("k", "d2", now, now);
    rule.failed("k", now, false);
    expect(rule.decide("k", "d2", now + 1000)).toBe("write");
  });

  it("keeps at most maxKeys keys, dropping the oldest", () => {
    const rule = new SharedWriteRule(1000, MAX_AGE_MS, () => 0, 2);
    rule.begin("a", "d", 0, 0);
    rule.begin("b", "d", 0, 0);
    rule.begin("c", "d", 0, 0);
    expect(rule.decide("a", "d", 10)).toBe("write");
    expect(rule.decide("b", "d", 10)).toBe("throttled");
    expect(rule.decide("c", "d", 10)).toBe("throttled");
  });

  it("recognises KV's rate limit in the runtime's error", () => {
    expect(isRateLimited(new Error("KV PUT failed: 429 Too Many Requests"))).toBe(true);
    expect(isRateLimited(new Error("KV PUT failed: 500 Internal Server Error"))).toBe(false);
    expect(isRateLimited("network connection lost")).toBe(false);
  });
});

describe("KeyActivity: capture once per refresh interval, count demand", () => {
  it("claims a key once per refresh interval and again after a release", () => {
    const a = new KeyActivity(1000);
    expect(a.claim("k", 0)).toBe(true);
    expect(a.claim("k", 999)).toBe(false);
    expect(a.claim("k", 1000)).toBe(true);
    a.release("k");
    expect(a.claim("k", 1001)).toBe(true);
    expect(a.claim("other", 1001)).toBe(true);
  });

  it("claims every answer with a refresh interval of 0", () => {
    const a = new KeyActivity(0);
    expect([a.claim("k", 5), a.claim("k", 5), a.claim("k", 5)]).toEqual([true, true, true]);
  });

  it("counts requests over the current and the previous window, and forgets a key idle for two windows", () => {
    const a = new KeyActivity(1000);
    for (let i = 0; i < 4; i++) a.claim("k", i * 100);
    expect(a.demand("k")).toBe(4);
    a.claim("k", SHARED_WINDOW_MS);
    // New window: 1 so far, but the previous window's 4 still count.
    expect(a.demand("k")).toBe(4);
    a.claim("k", 3 * SHARED_WINDOW_MS + 1);
    expect(a.demand("k")).toBe(1);
    expect(a.demand("never")).toBe(0);
  });

  it("stays within maxKeys under a stream of unique keys, keeping the recently captured hot key", () => {
    const a = new KeyActivity(1000, 100);
    a.claim("hot", 0);
    for (let i = 0; i < 1000; i++) {
      a.claim(`cold-${i}`, i * 10);
      if (i % 50 === 0) a.claim("hot", i * 10 + 1000);
    }
    expect(a.size).toBe(100);
    expect(a.demand("hot")).toBeGreaterThan(0);
  });
});

describe("WriteBudget: at most N shared writes a second per isolate", () => {
  it("allows a second's worth at once, then refills at the rate", () => {
    const b = new WriteBudget(10);
    const first = Array.from({ length: 12 }, () => b.take(0));
    expect(first.filter(Boolean)).toHaveLength(10);
    expect(b.take(99)).toBe(false);
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
    // Idle for a minute: still only one second's worth.
    expect(Array.from({ length: 12 }, () => b.take(60_000)).filter(Boolean)).toHaveLength(10);
  });
});
