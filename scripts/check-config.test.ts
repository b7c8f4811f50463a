/** `npm run check-config` as a user runs it: exit codes and the one message for each mistake. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// The pinned Node 22 that `npm run` uses (it runs the .ts file directly); any Node 22+ otherwise.
const NODE = existsSync(join(root, "node_modules/.bin/node")) ? join(root, "node_modules/.bin/node") : process.execPath;

function checkConfig(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      NODE,
      [join(root, "scripts/check-config.ts"), ...args],
      { cwd: root, env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", INIT_CWD: root, NO_COLOR: "1" }, timeout: 30_000 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

const BINDINGS = `
[[durable_objects.bindings]]
name = "BREAKER"
class_name = "BreakerObject"

[[kv_namespaces]]
binding = "LKG_KV"
id = "0123456789abcdef0123456789abcdef"

[[analytics_engine_datasets]]
binding = "METRICS"
dataset = "edge_fallback"
`;

const BASE = `name = "edge-fallback"
main = "src/index.ts"
compatibility_date = "2026-10-01"

[vars]
ORIGINS = '[{"name":"primary","url":"https://origin.example.com","weight":1}]'
${BINDINGS}
[[migrations]]
tag = "v1"
new_sqlite_classes = ["BreakerObject"]
`;

const WITH_ENVS = `${BASE}
[env.production.vars]
ORIGINS = '[{"name":"primary","url":"https://origin.example.com","weight":1}]'
${BINDINGS.replaceAll("[[", "[[env.production.")}
[env.staging.vars]
ORIGINS = '[{"name":"primary","url":"https://staging.example.com","weight":1}]'
${BINDINGS.replaceAll("[[", "[[env.staging.")}
`;

const TWO_REGIONS = BASE.replace(
  /^ORIGINS = .*$/m,
  `ORIGINS = '[{"name":"us-east","url":"https://use.example.com"},{"name":"eu-west","url":"https://euw.example.com"}]'
ROUTING = '{"mode":"weighted","stick_seconds":60,"down":0}'`,
).replace(
  "[[kv_namespaces]]",
  `[[durable_objects.bindings]]
name = "ROUTING_OBJECT"
class_name = "RoutingObject"

[[kv_namespaces]]`,
);

let dir: string;
let withEnvs: string;
let withoutEnvs: string;
let twoRegions: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edge-fallback-check-config-"));
  withEnvs = join(dir, "with-envs.toml");
  withoutEnvs = join(dir, "without-envs.toml");
  await writeFile(withEnvs, WITH_ENVS);
  await writeFile(withoutEnvs, BASE);
  twoRegions = join(dir, "two-regions.toml");
  await writeFile(twoRegions, TWO_REGIONS);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe.concurrent("npm run check-config", { timeout: 60_000 }, () => {
  it("--help prints the usage on stdout and exits 0", async () => {
    const r = await checkConfig("--help");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^usage: npm run check-config \[-- --env NAME\] \[--config PATH\]\n/);
    expect(r.stdout).toContain("--env, -e NAME");
  });

  it("an unknown option or a stray argument exits 2 with the usage", async () => {
    for (const args of [["--bogus"], ["production"], ["--env"]]) {
      const r = await checkConfig(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^check-config: .+\nusage: npm run check-config /);
    }
    expect((await checkConfig("--bogus")).stderr).toContain("Unknown option '--bogus'");
  });

  it("a misspelt --env exits 1 naming it and the envs the file defines", async () => {
    const r = await checkConfig("--config", withEnvs, "--env", "prodution");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`check-config: env "prodution" is not defined in ${withEnvs}; the envs it defines: production, staging\n`);
  });

  it("an --env for a file without [env.*] sections exits 1 and says it defines none", async () => {
    const r = await checkConfig("--config", withoutEnvs, "--env", "production");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `check-config: env "production" is not defined in ${withoutEnvs}; it defines no envs (no [env.NAME] sections); leave out --env to check the top-level configuration\n`,
    );
  });

  it("a defined env, and the top level, are checked and valid", async () => {
    const env = await checkConfig("--config", withEnvs, "--env", "staging");
    expect(env.stderr).toBe("");
    expect(env.code).toBe(0);
    expect(env.stdout).toContain(`check-config: ${withEnvs} (env "staging") is valid`);
    expect(env.stdout).toContain("primary https://staging.example.com/");
    const top = await checkConfig("--config", withoutEnvs);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain(`check-config: ${withoutEnvs} (the default env) is valid`);
  });

  it("two regions: ROUTING problems are listed; without them the summary shows the routing and says STICKY_SECRET must be set", async () => {
    const bad = await checkConfig("--config", twoRegions);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`check-config: ${twoRegions} (the default env) has 1 problem:\n  - ROUTING.down must be a whole number from 1 to 100, got 0\n`);
    const fixed = join(dir, "two-regions-fixed.toml");
    await writeFile(fixed, TWO_REGIONS.replace(',"down":0', ""));
    const ok = await checkConfig("--config", fixed);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("eu-west https://euw.example.com/ (weight 1, priority 1)");
    expect(ok.stdout).toContain("  routing     weighted; sticky 60 s by cookie edge-region; leave after 3 failures");
    expect(ok.stdout).toContain("note: with 2 regions and stickiness, region assignments are signed: set `wrangler secret put STICKY_SECRET`");
  });
});
