import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("smoke", () => {
  it("proxies to the origin", async () => {
    const res = await exports.default.fetch("http://example.com/s/smoke/hello");
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ scenario: "smoke", path: "/s/smoke/hello" });
    expect(res.headers.get("cache-status")).toBe("edge-fallback; fwd=bypass; fwd-status=200; stored");
    expect(typeof env.ORIGINS).toBe("string");
  });
});
