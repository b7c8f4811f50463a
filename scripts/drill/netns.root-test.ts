/**
 * The real partition: a server in the namespace answers, stops answering without a reset while
 * partitioned, answers again when healed, and nothing is left behind. Needs root and iproute2:
 * `npm run test:root` (run by .ci/run).
 */
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createNetns } from "./netns.ts";

async function get(url: string, timeoutMs: number): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return `${res.status} ${await res.text()}`;
  } catch (err) {
    return (err as Error).name;
  }
}

describe("network namespace partition", () => {
  it("drops the origin's replies silently while partitioned, heals, and cleans up", async () => {
    const ns = createNetns();
    const server = spawn(ns.exec[0]!, [...ns.exec.slice(1), process.execPath, "-e", `require("http").createServer((q, s) => s.end("ok")).listen(8080, "${ns.originIp}", () => console.log("up"))`]);
    try {
      await new Promise((resolve, reject) => {
        server.stdout!.once("data", resolve);
        server.once("exit", (code) => reject(new Error(`server exited ${code}`)));
      });
      const url = `http://${ns.originIp}:8080/`;
      expect(await get(url, 2000)).toBe("200 ok");
      ns.partition(true);
      const started = Date.now();
      // No answer and no reset: the request is still waiting when the client gives up.
      expect(await get(url, 1000)).toBe("TimeoutError");
      expect(Date.now() - started).toBeGreaterThanOrEqual(990);
      ns.partition(false);
      expect(await get(url, 5000)).toBe("200 ok");
    } finally {
      server.kill();
      ns.dispose();
    }
    expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(ns.name);
    expect(spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout).not.toContain(`efh${process.pid % 100_000}`);
  });

  it("gives each region its own namespace: partitioning one leaves the other answering", async () => {
    // Indexes 1 and 2: the test above used 0's addresses, and fetch keeps its dead keep-alive socket.
    const regions = [createNetns(1), createNetns(2)];
    const servers = regions.map((ns, i) =>
      spawn(ns.exec[0]!, [...ns.exec.slice(1), process.execPath, "-e", `require("http").createServer((q, s) => s.end("region-${i}")).listen(8080, "${ns.originIp}", () => console.log("up"))`]),
    );
    try {
      expect(new Set(regions.map((ns) => ns.name)).size).toBe(2);
      expect(new Set(regions.map((ns) => ns.originIp)).size).toBe(2);
      await Promise.all(servers.map((s) => new Promise((resolve) => s.stdout!.once("data", resolve))));
      const [a, b] = regions.map((ns) => `http://${ns.originIp}:8080/`);
      expect(await get(a!, 2000)).toBe("200 region-0");
      expect(await get(b!, 2000)).toBe("200 region-1");
      regions[0]!.partition(true);
      expect(await get(a!, 1000)).toBe("TimeoutError");
      expect(await get(b!, 2000)).toBe("200 region-1");
      regions[0]!.partition(false);
      expect(await get(a!, 5000)).toBe("200 region-0");
    } finally {
      for (const s of servers) s.kill();
      for (const ns of regions) ns.dispose();
    }
    const left = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
    for (const ns of regions) expect(left).not.toContain(ns.name);
  });
});
