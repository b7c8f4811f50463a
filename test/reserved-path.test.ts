import { describe, expect, it } from "vitest";
import { firstSegment, matchReserved, MAX_DECODE_ROUNDS, percentDecode } from "../src/reserved-path.ts";
import { RESERVED_SPELLINGS } from "./reserved-spellings.ts";

/** `_` percent-encoded `times` times over, the way a red team hides the prefix. */
function encodeUnderscore(times: number): string {
  let out = "_";
  for (let i = 0; i < times; i++) out = out.replaceAll("%", "%25").replaceAll("_", "%5F");
  return out;
}

describe("matchReserved", () => {
  it("calls the exact spellings the routes use canonical", () => {
    for (const path of ["/__edge", "/__edge/", "/__edge/health", "/__edge/admin/breakers/primary/open", "/__edge/HEALTH"]) {
      expect([path, matchReserved(path)]).toEqual([path, "canonical"]);
    }
  });

  it("calls every other spelling that normalizes into /__edge a spelling", () => {
    const spellings = [
      ...RESERVED_SPELLINGS,
      "/__edge\\admin",
      "/x/%2e%2e/__edge/health",
      "/a/..%20/__edge/",
      "/x%EF%BC%8F%EF%BC%8E%EF%BC%8E%EF%BC%8F__edge/",
      "/__edge%EF%BC%9Bx",
      "/__edge/./health",
      "/__edge/x/../health",
      `/${encodeUnderscore(MAX_DECODE_ROUNDS)}_edge/`,
    ];
    for (const path of spellings) expect([path, matchReserved(path)]).toEqual([path, "spelling"]);
  });

  it("leaves paths that no reading turns into /__edge to the proxy", () => {
    const proxied = [
      "/",
      "/hello",
      "/__edgework",
      "/__edge-cache/x",
      "/x/__edge/health",
      "/__edge/../hello",
      "/caf%C3%A9",
      "/a%2Fb",
      "/%5f%5fedgy/",
      "/bad%zzescape",
      "/%C3",
      "/;__edge/admin",
      `/${encodeUnderscore(MAX_DECODE_ROUNDS)}_edgy/`.slice(0, -1),
    ];
    for (const path of proxied) expect([path, matchReserved(path)]).toEqual([path, "none"]);
  });

  it("refuses a path still decoding after MAX_DECODE_ROUNDS rounds as too deep to tell", () => {
    expect(matchReserved(`/${encodeUnderscore(MAX_DECODE_ROUNDS + 1)}_edge/`)).toBe("too-deep");
    // "A" encoded MAX_DECODE_ROUNDS + 1 times, then MAX_DECODE_ROUNDS times.
    expect(matchReserved(`/%${"25".repeat(MAX_DECODE_ROUNDS)}41`)).toBe("too-deep");
    expect(matchReserved(`/%${"25".repeat(MAX_DECODE_ROUNDS - 1)}41`)).toBe("none");
  });
});

describe("firstSegment", () => {
  it("resolves the path the most permissive way an origin might", () => {
    expect(firstSegment("/")).toBeUndefined();
    expect(firstSegment("//A//b")).toBe("a");
    expect(firstSegment("/a;p=1/b")).toBe("a");
    expect(firstSegment("/a/../b")).toBe("b");
    expect(firstSegment("/../../b")).toBe("b");
    expect(firstSegment("\\B\\c")).toBe("b");
    expect(firstSegment("/b. . /c")).toBe("b");
    expect(firstSegment("/b\0/c")).toBe("b");
    expect(firstSegment("/\uFF3F\uFF3FEDGE")).toBe("__edge");
  });
});

describe("percentDecode", () => {
  it("decodes one round, UTF-8 included, and never throws on malformed escapes", () => {
    expect(percentDecode("/plain")).toBe("/plain");
    expect(percentDecode("/%5F%255F")).toBe("/_%5F");
    expect(percentDecode("/caf%C3%A9")).toBe("/café");
    expect(percentDecode("/%zz%4")).toBe("/%zz%4");
    expect(percentDecode("/%C3x")).toBe("/\uFFFDx");
  });
});
