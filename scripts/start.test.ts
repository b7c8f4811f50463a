/** `npm start` refuses a busy port before it starts anything, with one sentence naming the option. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = existsSync(join(root, "node_modules/.bin/node")) ? join(root, "node_modules/.bin/node") : process.execPath;

function start(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(NODE, [join(root, "scripts/start.ts"), ...args], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

let busy: Server;
let busyPort: number;
let free: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  busyPort = (busy.address() as AddressInfo).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  free = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
});
afterAll(() => new Promise<void>((r) => busy.close(() => r())));

describe.concurrent("npm start and busy ports", { timeout: 30_000 }, () => {
  it("a busy worker port: exit 1 with one sentence naming the port and --port; nothing started", async () => {
    const r = await start("--port", String(busyPort), "--origin-port", String(free));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `start: port ${busyPort} on 127.0.0.1, the worker's, is already in use (another \`npm start\`?): stop what holds it, or choose another port with \`npm start -- --port N\`\n`,
    );
  });

  it("a busy origin port names --origin-port; --smoke checks a given port too", async () => {
    const r = await start("--port", String(free), "--origin-port", String(busyPort));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`port ${busyPort} on 127.0.0.1, the fake origin's, is already in use`);
    expect(r.stderr).toContain("`npm start -- --origin-port N`");
    const smoke = await start("--smoke", "--port", String(busyPort));
    expect(smoke.code).toBe(1);
    expect(smoke.stderr).toContain(`smoke: FAIL: port ${busyPort} on 127.0.0.1, the worker's, is already in use`);
  });

  it("--help documents --port and --origin-port; an unknown option exits 2 with the usage", async () => {
    const help = await start("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--port N .*default 8787/);
    expect(help.stdout).toMatch(/--origin-port N .*default 8788/);
    const bad = await start("--prot", "1");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^start: Unknown option '--prot'.*\nusage: npm start /s);
  });
});
