import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { resolveConfig, type Config } from "../src/config.ts";
import type { Env } from "../src/env.ts";
import type { RoutingObject } from "../src/routing/object.ts";

function configWith(writes: Record<string, unknown> | undefined): Config {
  const result = resolveConfig(
    {
      ORIGINS: JSON.stringify([{ name: "us-east", url: "https://us.example.com", home: true }, { name: "eu-west", url: "https://eu.example.com" }]),
      LKG_TIERS: '["memory"]',
      ADMIN_TOKEN: "an-admin-token-of-some-length",
      ...(writes ? { WRITES: JSON.stringify(writes) } : {}),
    },
    { BREAKER: {}, METRICS: {}, ROUTING_OBJECT: {}, WRITE_QUEUE: {}, WRITE_LEDGER: {}, WRITE_BACKLOG: {} },
  );
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.config;
}

it("with WRITES, the first snapshot read stores the configured writer at epoch 1, and a later writer setting does not move it", async () => {
  const ns = (env as unknown as Env).ROUTING_OBJECT;
  const stub = ns.get(ns.idFromName("fleet"));
  const first = await runInDurableObject(stub, (o: RoutingObject) => {
    (o as unknown as { config: Config }).config = configWith({ routes: [{ path: "/api/" }], writer: "eu-west" });
    return o.snapshot();
  });
  expect(first.writer).toMatchObject({ region: "eu-west", epoch: 1, frozen: false, reason: "initial: eu-west (WRITES.writer, else the home region)" });
  expect(first.generation).toBe(1);
  const later = await runInDurableObject(stub, (o: RoutingObject) => {
    const cast = o as unknown as { config: Config; leaseConfig: unknown };
    cast.config = configWith({ routes: [{ path: "/api/" }], writer: "us-east" });
    cast.leaseConfig = undefined;
    return o.snapshot();
  });
  expect(later.writer).toMatchObject({ region: "eu-west", epoch: 1 });
  expect(later.generation).toBe(1);
});
