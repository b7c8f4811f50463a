/** The write path's columns: blob17 of the request point, and the write and backlog points, exactly as the README's schema lists them. */
import { describe, expect, it } from "vitest";
import { requestPoint, type WriteOutcome } from "../src/metrics/schema.ts";
import { backlogPoint, writePoint, type WriteAction } from "../src/metrics/write-points.ts";
import { newTrace, requestRecord } from "../src/request/record.ts";
import type { RequestPolicy } from "../src/scrub/policy.ts";
import { VERSION } from "../src/version.ts";

const POLICY: RequestPolicy = { lkg: false, reason: "method", route: "/api/", credential: undefined };

function writeRequestPoint(write: WriteOutcome | undefined): AnalyticsEngineDataPoint {
  const trace = newTrace(POLICY);
  if (write !== undefined) trace.write = write;
  trace.answeredBy = "us-east";
  trace.routingReason = "single";
  const request = new Request("https://edge.example.com/api/orders", { method: "POST", body: "{}" });
  return requestPoint(requestRecord(request, POLICY, trace, "us-east", "closed", 202, 12));
}

describe("request point: the write outcome (blob17)", () => {
  it("is empty for a request the write path never saw: the trace starts with no write outcome", () => {
    const p = writeRequestPoint(undefined);
    expect(p.blobs).toEqual(["request", "origin_ok", "", "closed", "", "none", "skip:method", "POST", "/api/", "", VERSION, "", "", "us-east", "", "single", ""]);
    expect(p.blobs).toHaveLength(17);
    // The doubles are unchanged: the write outcome is a blob only.
    expect(p.doubles).toEqual([12, 0, 0, 0, 202, 0, 100, 0]);
  });

  it("carries each outcome the request path sets on the trace, in blob17 and nowhere else", () => {
    const outcomes: WriteOutcome[] = ["passed", "queued", "replayed", "in-flight", "mismatch", "missing-key", "too-large"];
    const empty = writeRequestPoint(undefined);
    for (const outcome of outcomes) {
      const p = writeRequestPoint(outcome);
      expect(p.blobs![16], outcome).toBe(outcome);
      expect(p.blobs!.slice(0, 16), outcome).toEqual(empty.blobs!.slice(0, 16));
      expect(p.indexes).toEqual(["us-east"]);
    }
  });
});

describe("write points (blob1 = 'write', index1 = the writer region)", () => {
  it("writes action and kind as blobs, queue delay, attempt, status and epoch as doubles", () => {
    expect(writePoint({ action: "delivered", region: "us-east", epoch: 3, kind: "write", queueDelayMs: 1_250, attempt: 2, status: 201 })).toEqual({
      indexes: ["us-east"],
      blobs: ["write", "delivered", "write"],
      doubles: [1_250, 2, 201, 3],
    });
    expect(writePoint({ action: "retry", region: "eu-west", epoch: 4, kind: "webhook", queueDelayMs: 30_000, attempt: 5, status: 503 })).toEqual({
      indexes: ["eu-west"],
      blobs: ["write", "retry", "webhook"],
      doubles: [30_000, 5, 503, 4],
    });
  });

  it("keeps an empty region (nothing sent) and zero status as they are: a duplicate dropped never reached the writer", () => {
    expect(writePoint({ action: "duplicate_dropped", region: "", epoch: 0, kind: "write", queueDelayMs: 40, attempt: 1, status: 0 })).toEqual({
      indexes: [""],
      blobs: ["write", "duplicate_dropped", "write"],
      doubles: [40, 1, 0, 0],
    });
  });

  it("writes every action by its own name", () => {
    const actions: WriteAction[] = ["delivered", "duplicate_dropped", "retry", "dead_lettered", "replayed_dead"];
    expect(actions.map((action) => writePoint({ action, region: "us-east", epoch: 1, kind: "write", queueDelayMs: 0, attempt: 100, status: 0 }).blobs![1])).toEqual(actions);
  });
});

describe("backlog points (blob1 = 'backlog', index1 = 'writes')", () => {
  it("writes length, oldest age and dead letters as doubles", () => {
    expect(backlogPoint({ length: 42, oldestAgeMs: 17_500, dead: 3 })).toEqual({ indexes: ["writes"], blobs: ["backlog"], doubles: [42, 17_500, 3] });
    expect(backlogPoint({ length: 0, oldestAgeMs: 0, dead: 0 })).toEqual({ indexes: ["writes"], blobs: ["backlog"], doubles: [0, 0, 0] });
  });
});
