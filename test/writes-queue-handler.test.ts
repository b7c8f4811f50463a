import { createMessageBatch, createExecutionContext, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import { CapturingSink } from "../src/metrics/writer.ts";
import { handleQueue, WRITE_DLQ_NAME } from "../src/writes/queue-handler.ts";
import type { QueuedWrite } from "../src/writes/types.ts";
import { FakeClock } from "./helpers.ts";

it("after each batch, one backlog point as the backlog object counts it; an unknown queue is refused and writes none", async () => {
  const metrics = new CapturingSink();
  const testEnv = { ...(env as unknown as Env), METRICS: metrics as unknown as AnalyticsEngineDataset };
  const clock = new FakeClock();
  const batch = createMessageBatch<QueuedWrite>(WRITE_DLQ_NAME, []);
  await handleQueue(batch, testEnv, clock);
  const ctx = createExecutionContext();
  expect((await getQueueResult(batch, ctx)).outcome).toBe("ok");
  const points = metrics.points.filter((p) => p.blobs?.[0] === "backlog");
  expect(points).toEqual([{ indexes: ["writes"], blobs: ["backlog"], doubles: [0, 0, 0] }]);

  await expect(handleQueue(createMessageBatch<QueuedWrite>("somebody-elses-queue", []), testEnv, clock)).rejects.toThrow(/has no consumer here/);
  expect(metrics.points.filter((p) => p.blobs?.[0] === "backlog")).toHaveLength(1);
});
