/** The drill binds the Durable Objects wrangler.toml declares, so a new object (the fleet routing object) needs no edit here. */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "./run.ts";
import { durableObjectBindings, queueBindings, startWorker, stateRoot, WORKERD_NICE } from "./runtime.ts";

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

/** A loopback origin that names itself in every answer. */
async function namedOrigin(name: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => res.end(`${name} ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("a drill worker in workerd", () => {
  it("keeps every binding's storage under its own throwaway dir, and removes it on dispose", async () => {
    // Miniflare 5 ignored the earlier defaultPersistRoot and kept Durable Objects in its temp dir on disk, where each commit waits on the request thread.
    const origin = await namedOrigin("origin");
    const worker = await startWorker({ entry: "scripts/drill/worker/entry.ts", port: await freePort(), productBindings: true, vars: { ORIGINS: JSON.stringify([{ name: "primary", url: origin.url, weight: 1 }]), DRILL_COLLECTOR_URL: origin.url } });
    try {
      const res = await fetch(`${worker.url}/a`);
      expect([res.status, await res.text()]).toEqual([200, "origin /a"]);
      // Each object namespace under state/do, and KV and the cache beside it.
      expect((await readdir(join(worker.dir, "state", "do"))).sort()).toEqual(["BreakerObject", "RoutingObject", "WriteBacklog", "WriteLedger"].map((c) => `-${c}`));
      expect((await readdir(join(worker.dir, "state"))).sort()).toEqual(expect.arrayContaining(["cache", "do", "kv"]));
    } finally {
      await worker.dispose();
      origin.server.close();
    }
    expect(existsSync(worker.dir)).toBe(false);
  }, 60_000);

  it("yields the CPU to the load when asked: its workerd runs at nice WORKERD_NICE, and only then", async () => {
    const origin = await namedOrigin("origin");
    const start = async (yieldToLoad: boolean) => startWorker({ entry: "scripts/drill/worker/bare.ts", port: await freePort(), productBindings: false, vars: { ORIGIN_URL: origin.url }, yieldToLoad });
    const yielding = await start(true);
    const plain = await start(false);
    try {
      expect(yielding.pids.length).toBeGreaterThan(0);
      expect(yielding.pids.map((pid) => getPriority(pid))).toEqual(yielding.pids.map(() => WORKERD_NICE));
      expect(plain.pids.map((pid) => getPriority(pid))).toEqual(plain.pids.map(() => getPriority()));
    } finally {
      await yielding.dispose();
      await plain.dispose();
      origin.server.close();
    }
  }, 60_000);
});
