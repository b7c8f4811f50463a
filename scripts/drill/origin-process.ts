/**
 * The drill's second process: the fake origins and the collector of the worker's data points.
 * Kept apart from the load generator so each gets its own core and event loop. Prints one
 * "ready <json>" line with its ports, and exits when its parent closes stdin.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { startFakeOrigin, type FakeOrigin } from "../lib/fake-origin.ts";

interface Batch {
  points: unknown[];
  /** Absent on batches from the breaker object, which counts nothing. */
  counters?: Record<string, number>;
}

// --host <ip>: where the origins listen (a network namespace's address in --netns drills).
// --no-collector: origins only (the collector must stay on the host, reachable through a partition).
// --regions: each origin plays the region of its name (`x-fake-region` on every answer).
// --writes: each origin takes writes with Idempotency-Key and logs them (GET /__writes; the write drills).
const args = process.argv.slice(2);
const hostAt = args.indexOf("--host");
const host = hostAt >= 0 ? args[hostAt + 1]! : "127.0.0.1";
const withCollector = !args.includes("--no-collector");
const asRegions = args.includes("--regions");
const takesWrites = args.includes("--writes");
const names = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--host");
if (names.length === 0 && !withCollector) {
  console.error("usage: origin-process.ts [--host <ip>] [--no-collector] [--regions] [--writes] <origin name>...");
  process.exit(2);
}

const origins: Record<string, FakeOrigin> = {};
for (const name of names) origins[name] = await startFakeOrigin(0, host, { ...(asRegions ? { region: name } : {}), ...(takesWrites ? { writes: true } : {}) });

const points: unknown[] = [];
const counters: { at: number; counters: Record<string, number> }[] = [];

const collector = createServer((req: IncomingMessage, res: ServerResponse) => {
  // The drill's calibration ran its own workers against these origins first: their points are not the plan's.
  if (req.method === "POST" && req.url === "/reset") {
    points.length = 0;
    counters.length = 0;
    res.end("reset");
    return;
  }
  if (req.method === "GET" && req.url === "/points") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ points, counters }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      const batch = JSON.parse(Buffer.concat(chunks).toString()) as Batch;
      for (const p of batch.points) points.push(p);
      if (batch.counters) counters.push({ at: Date.now(), counters: batch.counters });
      res.end("ok");
    } catch (err) {
      res.writeHead(400);
      res.end(String(err));
    }
  });
});
if (withCollector) await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));

const ready = {
  origins: Object.fromEntries(Object.entries(origins).map(([name, o]) => [name, o.url])),
  collector: withCollector ? `http://127.0.0.1:${(collector.address() as AddressInfo).port}` : "",
};
console.log(`ready ${JSON.stringify(ready)}`);

const shutdown = async () => {
  if (withCollector) collector.close();
  await Promise.all(Object.values(origins).map((o) => o.close()));
  process.exit(0);
};
process.stdin.on("end", () => void shutdown());
process.stdin.on("close", () => void shutdown());
process.stdin.resume();
process.on("SIGTERM", () => void shutdown());
