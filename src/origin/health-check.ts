/**
 * An active check of the origin's health path: the one request the worker itself controls. It
 * confirms that a run of failed requests is about the origin (not one route or one client)
 * before the breaker opens, and it is the half-open probe, so no client's request decides
 * whether the breaker closes.
 */
import type { OriginRegion } from "../config.ts";
import { CDN_LOOP_TOKEN } from "./client.ts";
import { originDeadline } from "./watch.ts";

export type HealthResult = { ok: true; status: number; ms: number } | { ok: false; why: string; ms: number };


export function healthUrl(origin: OriginRegion, path: string): string {
  const base = origin.url.pathname.endsWith("/") ? origin.url.pathname.slice(0, -1) : origin.url.pathname;
  return `${origin.url.origin}${base}${path}`;
}

/**
 * Any answer below 500 within `timeoutMs` means the origin is up: a 404 is still an origin
 * answering. Every 5xx fails, not only RFC 5861's four: behind Cloudflare a down origin shows as
 * 521-530, and a health path has no business answering any 5xx when all is well.
 */
export async function checkHealth(origin: OriginRegion, path: string, timeoutMs: number): Promise<HealthResult> {
  const started = Date.now();
  const controller = new AbortController();
  const cancel = originDeadline(timeoutMs, () => controller.abort(new DOMException("health check timeout", "TimeoutError")));
  try {
    const res = await fetch(healthUrl(origin, path), {
      method: "GET",
      // No client header reaches the check: nothing a client sends can steer its outcome.
      headers: { "cdn-loop": CDN_LOOP_TOKEN, "user-agent": "edge-fallback-health-check" },
      redirect: "manual",
      cache: "no-store",
      signal: controller.signal,
    });
    // The body is not read: the status says what we need, and reading it could stall.
    res.body?.cancel().catch(() => {});
    const ms = Date.now() - started;
    if (res.status >= 500) return { ok: false, why: `health path answered ${res.status}`, ms };
    return { ok: true, status: res.status, ms };
  } catch (err) {
    const ms = Date.now() - started;
    if (controller.signal.aborted) return { ok: false, why: `no answer from the health path within ${timeoutMs} ms`, ms };
    return { ok: false, why: err instanceof Error ? err.message : String(err), ms };
  } finally {
    cancel();
  }
}

/**
 * After this many failed health-check probes in a row, every other probe is a client's GET or
 * HEAD instead: a health path that fails while the application works (a misconfigured
 * ORIGIN_HEALTH_PATH) must not hold the breaker open for good. Safe against attackers: the
 * breaker is already open, a failing client probe only keeps it so, and a real outage fails both.
 */
export const CLIENT_PROBE_AFTER_FAILED_CHECKS = 5;

/** Passing checks kept to learn how long the health path takes when the origin is up. */
const LEARNED_CHECKS = 8;
/** While the breaker is closed, one check this often per isolate keeps what was learned current. */
export const HEALTH_LEARN_INTERVAL_MS = 60_000;

/**
 * How long this origin's health path takes when the origin is up, from its recent passing checks.
 * A check's deadline follows from it, not from other routes' latency: a health path slower than
 * the API beside it (a rendered `/`) must not fail every check on a healthy origin, and a client
 * flooding fast routes must not be able to shorten the deadline.
 */
export class HealthLatency {
  private readonly passing: number[] = [];
  private lastLearnAt = Number.NEGATIVE_INFINITY;

  /** Half-open probes by health check that failed in a row (see CLIENT_PROBE_AFTER_FAILED_CHECKS). */
  failedProbes = 0;

  /** A probe's result: counts the failed ones in a row. */
  probed(result: HealthResult): void {
    this.failedProbes = result.ok ? 0 : this.failedProbes + 1;
  }

  record(result: HealthResult): void {
    if (!result.ok) return;
    this.passing.push(result.ms);
    if (this.passing.length > LEARNED_CHECKS) this.passing.shift();
  }

  /** The slowest recent passing check, in ms, or undefined before the first. */
  slowestMs(): number | undefined {
    return this.passing.length === 0 ? undefined : Math.max(...this.passing);
  }

  /** Whether to send a learning check now (claims it). */
  shouldLearn(now: number): boolean {
    if (now - this.lastLearnAt < HEALTH_LEARN_INTERVAL_MS) return false;
    this.lastLearnAt = now;
    return true;
  }

  /**
   * A check's deadline: 3 x the slowest recent passing check, at least 100 ms, at most
   * `timeoutMs`; `timeoutMs` itself until a check has passed.
   */
  deadline(timeoutMs: number): number {
    const slowest = this.slowestMs();
    if (slowest === undefined) return timeoutMs;
    return Math.min(timeoutMs, Math.max(100, 3 * slowest));
  }
}
