import { describe, expect, it } from "vitest";
import { harness } from "./helpers.ts";

describe("probe", () => {
  it("trace", async () => {
    let out: unknown[] = [];
    try { const r = new Request("https://edge.example.com/x", { method: "TRACE" }); out.push("trace ok", r.method); } catch (e) { out.push("trace threw", String(e)); }
    try { const r = new Request("https://edge.example.com/x", { method: "trace" }); out.push("trace lc ok", r.method); } catch (e) { out.push("trace lc threw", String(e)); }
    try { const r = new Request("https://edge.example.com/x", { method: "CONNECT" }); out.push("connect ok", r.method); } catch (e) { out.push("connect threw", String(e)); }
    try { const r = new Request("https://edge.example.com/x", { method: "TRACK" }); out.push("track ok", r.method); } catch (e) { out.push("track threw", String(e)); }
    try { const r = new Request("https://edge.example.com/x", { method: "POST", headers: { "content-length": "abc" }, body: "hi" }); out.push("cl ok", r.headers.get("content-length")); } catch (e) { out.push("cl threw", String(e)); }
    try { const r = new Request("https://edge.example.com/x", { headers: { "content-length": "abc" } }); out.push("cl get ok", r.headers.get("content-length")); } catch (e) { out.push("cl get threw", String(e)); }
    try { const h = new Headers({ "content-length": "abc" }); out.push("headers ok", h.get("content-length")); } catch (e) { out.push("headers threw", String(e)); }
    const h = harness();
    try { const r = await h.fetch("https://edge.example.com/x", { headers: { "content-length": "abc" } }); out.push("app", r.status, await r.text()); } catch (e) { out.push("app threw", String(e)); }
    try { const r = await h.fetch("https://edge.example.com/x", { method: "TRACE" }); out.push("app trace", r.status, await r.text()); } catch (e) { out.push("app trace threw", String(e)); }
    console.log(JSON.stringify(out, null, 1));
  });
});
