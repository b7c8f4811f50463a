/** The drill's own checks: gold probes and stamps from real fake regions, store counts from a health page. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOrigin, type FakeOrigin } from "../lib/fake-origin.ts";
import { GOLD_PROBES, judgeStore, runChecks } from "./probes.ts";

let east: FakeOrigin;
let west: FakeOrigin;
let worker: Server;
let workerUrl = "";
let health: unknown = {};

beforeAll(async () => {
  east = await startFakeOrigin(0, "127.0.0.1", { region: "us-east" });
  west = await startFakeOrigin(0, "127.0.0.1", { region: "eu-west" });
  // A stand-in for the worker: gold probes from us-east, named as the contract says; the health page as configured.
  worker = createServer((req, res) => {
    if (req.url === "/__edge/health") {
      if (req.headers.authorization !== "Bearer secret") return res.writeHead(401).end();
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(health));
    }
    void fetch(`${east.url}${req.url}`).then(async (r) => res.writeHead(r.status, { "x-edge-region": "us-east" }).end(await r.text()));
  });
  await new Promise<void>((resolve) => worker.listen(0, "127.0.0.1", resolve));
  workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
});
afterAll(async () => {
  worker.close();
  await east.close();
  await west.close();
});

const setVersion = (o: FakeOrigin, version: string) => fetch(`${o.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "healthy", stableBody: true, version }) });

describe("pre and post checks", () => {
  it("equal regions pass env_parity and answers_equal, through the worker and directly", async () => {
    await setVersion(east, "v1");
    await setVersion(west, "v1");
    const t = await runChecks("post", ["env_parity", "answers_equal"], { workerUrl, adminToken: "secret", origins: { "us-east": east.url, "eu-west": west.url }, hotKeys: 10 });
    expect(t).toEqual([
      { name: "post: env_parity", target: "every region answers with the same version stamp", measured: "us-east v1; eu-west v1", pass: true },
      {
        name: "post: answers_equal",
        target: "the 10 gold probes answer the same content (per-answer stamps aside) from us-east, eu-west directly and through the worker",
        measured: "10 of 10 equal (through the worker: us-east x10)",
        pass: true,
      },
    ]);
  });

  it("a region on another version fails env_parity, the INDEX_HASH stand-in and answers_equal", async () => {
    await setVersion(east, "v1");
    await setVersion(west, "v2");
    const t = await runChecks("pre", ["env_parity", "index_hash_equal", "answers_equal"], { workerUrl, adminToken: "secret", origins: { "us-east": east.url, "eu-west": west.url }, hotKeys: 10 });
    expect(t.map((x) => [x.name, x.pass])).toEqual([
      ["pre: env_parity", false],
      ["pre: index_hash_equal", false],
      ["pre: answers_equal", false],
    ]);
    expect(t[0]!.measured).toBe("us-east v1; eu-west v2");
    expect(t[2]!.measured).toMatch(/^0 of 10 equal .*\/gold\/0: worker v1 \/ us-east v1 \/ eu-west v2/);
    await setVersion(west, "v1");
  });

  it("answers_equal compares content: the per-answer stamps of an origin that keeps them in its bodies do not count", async () => {
    for (const o of [east, west]) await fetch(`${o.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "healthy", stableBody: false }) });
    const [t] = await runChecks("post", ["answers_equal"], { workerUrl, adminToken: "secret", origins: { "us-east": east.url, "eu-west": west.url }, hotKeys: 10 });
    expect(t).toMatchObject({ measured: "10 of 10 equal (through the worker: us-east x10)", pass: true });
    await setVersion(east, "v1");
    await setVersion(west, "v1");
  });

  it("a region that does not answer fails env_parity with its status", async () => {
    await fetch(`${west.url}/__control/default`, { method: "POST", body: JSON.stringify({ mode: "status", status: 503 }) });
    const [t] = await runChecks("pre", ["env_parity"], { workerUrl, adminToken: "secret", origins: { "us-east": east.url, "eu-west": west.url }, hotKeys: 10 });
    expect(t).toMatchObject({ measured: "us-east v1; eu-west no answer (503)", pass: false });
    await setVersion(west, "v1");
  });

  it("cache_warm reads the health page with the bearer: warm at the hot keys' count, cold below it", async () => {
    health = { lkg: { tiers: ["memory", "cache"], memory: { entries: 12, bytes: 1, maxBytes: 2 }, counters: { stores: { memory: 40, cache: 12, kv: 0 } } } };
    const [warm] = await runChecks("pre", ["cache_warm"], { workerUrl, adminToken: "secret", origins: {}, hotKeys: 10 });
    expect(warm).toMatchObject({ name: "pre: cache_warm", measured: "12 entries in memory; stores memory 40, cache 12, kv 0", pass: true });
    health = { lkg: { memory: { entries: 3 }, counters: { stores: { memory: 3 } } } };
    const [cold] = await runChecks("post", ["cache_rewarmed"], { workerUrl, adminToken: "secret", origins: {}, hotKeys: 10 });
    expect(cold).toMatchObject({ name: "post: cache_rewarmed", pass: false });
    const [refused] = await runChecks("pre", ["cache_warm"], { workerUrl, adminToken: "wrong", origins: {}, hotKeys: 10 });
    expect(refused).toMatchObject({ measured: "health page answered 401", pass: false });
  });

  it("without a memory tier, the store counts are the stores per tier", () => {
    expect(judgeStore("cache_warm", "pre", 200, { lkg: { memory: null, counters: { stores: { cache: 6, kv: 6 } } } }, 10)).toMatchObject({ measured: "no memory tier; stores cache 6, kv 6", pass: true });
    expect(GOLD_PROBES).toHaveLength(10);
  });
});
