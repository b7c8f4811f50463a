/**
 * The drill (scripts/drill/runtime.ts) imports `miniflare` directly, so package.json declares it,
 * pinned to exactly the version wrangler depends on: npm then keeps one copy of it (and of
 * workerd), and the drill runs the same runtime as `wrangler dev`. Upgrading wrangler means
 * upgrading this pin with it.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
interface Manifest { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> }
interface Lock { packages: Record<string, { version: string }> }
const json = (path: string): unknown => JSON.parse(readFileSync(resolve(root, path), "utf8"));

describe("declared dependencies", () => {
  it("miniflare is a dev dependency pinned to wrangler's own miniflare, installed once", () => {
    const pkg = json("package.json") as Manifest;
    const wrangler = json("node_modules/wrangler/package.json") as Manifest;
    expect(wrangler.version).toBe(pkg.devDependencies["wrangler"]);
    expect(pkg.devDependencies["miniflare"]).toBe(wrangler.dependencies["miniflare"]);
    const lock = json("package-lock.json") as Lock;
    const copies = Object.keys(lock.packages).filter((path) => path === "node_modules/miniflare" || path.endsWith("/node_modules/miniflare"));
    expect(copies).toEqual(["node_modules/miniflare"]);
    expect(lock.packages["node_modules/miniflare"]?.version).toBe(pkg.devDependencies["miniflare"]);
  });
});
