/** Reading the worker's assignment from an answer, and the region a token names (the contract's token format). */
import { describe, expect, it } from "vitest";
import { assignmentOf } from "./load.ts";
import { regionOfToken } from "./sticky.ts";

describe("sticky assignments", () => {
  it("reads the edge-region cookie among others, or the assignment header", () => {
    const cookie = "edge-region=us-east.1790000000.abc_-; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax";
    expect(assignmentOf({ "set-cookie": cookie })).toBe("us-east.1790000000.abc_-");
    expect(assignmentOf({ "set-cookie": ["sid=1; Path=/", cookie] })).toBe("us-east.1790000000.abc_-");
    expect(assignmentOf({ "set-cookie": ["sid=1; Path=/"] })).toBeUndefined();
    expect(assignmentOf({ "x-edge-assignment": "eu-west.1790000000.mac" })).toBe("eu-west.1790000000.mac");
    expect(assignmentOf({})).toBeUndefined();
  });

  it("a token names its region before its expiry and MAC; a malformed one names none", () => {
    expect(regionOfToken("ap-south.1790000000.bWFj")).toBe("ap-south");
    expect(regionOfToken("ap-south")).toBeUndefined();
    expect(regionOfToken(".1.2")).toBeUndefined();
  });
});
