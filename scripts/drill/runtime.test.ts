/** The drill binds the Durable Objects wrangler.toml declares, so a new object (the fleet routing object) needs no edit here. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { durableObjectBindings } from "./runtime.ts";

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
});
