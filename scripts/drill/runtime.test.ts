/** The drill binds the Durable Objects wrangler.toml declares, so a new object (the fleet routing object) needs no edit here. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { durableObjectBindings, queueBindings, stateRoot } from "./runtime.ts";

describe("where a drill worker's state lives", () => {
  it("the first writable candidate (RAM-backed /dev/shm by default), else the temp dir", async () => {
    const writable = await mkdtemp(join(tmpdir(), "state-root-"));
    try {
      expect(stateRoot(["/no/such/dir", writable])).toBe(writable);
      expect(stateRoot(["/no/such/dir"])).toBe(tmpdir());
    } finally {
      await rm(writable, { recursive: true, force: true });
    }
  });
});

describe("drill runtime bindings", () => {
  it("binds the project's breaker object, SQLite-backed, as wrangler.toml declares it", async () => {
    expect((await durableObjectBindings())["BREAKER"]).toEqual({ className: "BreakerObject", useSQLite: true });
  });

  it("binds every object a wrangler.toml declares, with each class's storage from its migration", async () => {
    const dir = await mkdtemp(join(tmpdir(), "drill-runtime-test-"));
    try {
      const path = join(dir, "wrangler.toml");
      await writeFile(
        path,
        [
          'name = "x"',
          'main = "index.ts"',
          'compatibility_date = "2026-10-01"',
          "[[durable_objects.bindings]]",
          'name = "BREAKER"',
          'class_name = "BreakerObject"',
          "[[durable_objects.bindings]]",
          'name = "ROUTING_OBJECT"',
          'class_name = "RoutingObject"',
          "[[migrations]]",
          'tag = "v1"',
          'new_sqlite_classes = ["BreakerObject"]',
          "[[migrations]]",
          'tag = "v2"',
          'new_sqlite_classes = ["RoutingObject"]',
        ].join("\n"),
      );
      expect(await durableObjectBindings(path)).toEqual({
        BREAKER: { className: "BreakerObject", useSQLite: true },
        ROUTING_OBJECT: { className: "RoutingObject", useSQLite: true },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("binds the write queue and its dead-letter queue as wrangler.toml declares them, producer and consumers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "drill-runtime-test-"));
    try {
      const path = join(dir, "wrangler.toml");
      await writeFile(
        path,
        [
          'name = "x"',
          'main = "index.ts"',
          'compatibility_date = "2026-10-01"',
          "[[queues.producers]]",
          'binding = "WRITE_QUEUE"',
          'queue = "edge-fallback-writes"',
          "[[queues.consumers]]",
          'queue = "edge-fallback-writes"',
          "max_batch_size = 10",
          "max_batch_timeout = 1",
          "max_retries = 100",
          'dead_letter_queue = "edge-fallback-writes-dlq"',
          "[[queues.consumers]]",
          'queue = "edge-fallback-writes-dlq"',
        ].join("\n"),
      );
      expect(await queueBindings(path)).toEqual({
        producers: { WRITE_QUEUE: { queueName: "edge-fallback-writes" } },
        consumers: {
          "edge-fallback-writes": { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 100, deadLetterQueue: "edge-fallback-writes-dlq" },
          "edge-fallback-writes-dlq": {},
        },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
