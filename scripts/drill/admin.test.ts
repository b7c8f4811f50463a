/** Admin actions go to the contract's routes with the bearer (shed with its JSON body), and the answer's decision time is kept. */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendAdmin } from "./admin.ts";

const seen: { method: string; url: string; auth: string; body: string }[] = [];
const server = createServer((req: IncomingMessage, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization ?? "", body });
    if (req.url!.includes("mars")) return res.writeHead(404).end('{"error":"unknown region"}');
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ region: "us-east", action: "x", control: { admin: "evacuated", changedAt: 1234 }, generation: 2 }));
  });
});
let url = "";
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => void server.close());

describe("admin actions", () => {
  it("evacuate, shed with its percent, and a forced drain, each with the bearer", async () => {
    const evac = await sendAdmin(url, "tok", 1, { region: "us-east", action: "evacuate" });
    expect(evac).toMatchObject({ phase: 1, region: "us-east", action: "evacuate", status: 200, decidedAt: 1234 });
    expect(evac.answeredAt).toBeGreaterThanOrEqual(evac.sentAt);
    await sendAdmin(url, "tok", 2, { region: "eu-west", action: "shed", percent: 25 });
    await sendAdmin(url, "tok", 3, { region: "eu-west", action: "drain", force: true });
    expect(seen).toEqual([
      { method: "POST", url: "/__edge/admin/regions/us-east/evacuate", auth: "Bearer tok", body: "" },
      { method: "POST", url: "/__edge/admin/regions/eu-west/shed", auth: "Bearer tok", body: '{"percent":25}' },
      { method: "POST", url: "/__edge/admin/regions/eu-west/drain?force=1", auth: "Bearer tok", body: "" },
    ]);
  });

  it("records a refusal with its status and body, and no answer as status 0", async () => {
    expect(await sendAdmin(url, "tok", 1, { region: "mars", action: "restore" })).toMatchObject({ status: 404, detail: '{"error":"unknown region"}' });
    const none = await sendAdmin("http://127.0.0.1:1", "tok", 1, { region: "us-east", action: "restore" });
    expect(none.status).toBe(0);
  });
});
