/** Region assignments: signing, checking (forged, another region's, expired, unknown, oversize), the verdict cache, and removing ours from a request. */
import { describe, expect, it, vi } from "vitest";
import { readRouting } from "../src/config/routing.ts";
import type { StickySecret } from "../src/config.ts";
import { AssignmentKey, assignmentHeader, MAX_TOKEN_LENGTH, readAssignment, VERDICT_CACHE_SIZE, withoutAssignment } from "../src/routing/sticky.ts";
import type { RoutingPolicy } from "../src/routing/types.ts";

const SECRET: StickySecret = { source: "STICKY_SECRET", secret: "a-sticky-secret-of-32-characters" };
const REGIONS = ["us-east", "eu-west"];
const NOW = Date.parse("2026-12-02T10:00:00.250Z");
const NOW_S = Math.floor(NOW / 1000);

function policy(extra: Record<string, unknown> = {}): RoutingPolicy {
  const problems: string[] = [];
  const p = readRouting(extra, problems);
  if (problems.length > 0) throw new Error(problems.join("; "));
  return p;
}

const COOKIE_MODE = policy({ stick_seconds: 900 });
const HEADER_MODE = policy({ stick_seconds: 900, sticky_header: "x-edge-assignment" });

function withCookie(cookie: string): Request {
  return new Request("https://edge.example.com/", { headers: { cookie } });
}

/** A token for `region`, signed now with `key`, in cookie mode. */
async function tokenFor(key: AssignmentKey, region: string, p = COOKIE_MODE, now = NOW): Promise<string> {
  const [name, value] = await assignmentHeader(region, p, key, now);
  if (name === "set-cookie") return /^edge-region=([^;]+);/.exec(value)![1]!;
  return value;
}

describe("assignmentHeader", () => {
  it("cookie mode: Set-Cookie edge-region=<region>.<expires>.<43-char base64url MAC>; Path=/; Max-Age; HttpOnly; Secure; SameSite=Lax", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const [name, value] = await assignmentHeader("eu-west", COOKIE_MODE, key, NOW);
    expect(name).toBe("set-cookie");
    expect(value).toMatch(new RegExp(`^edge-region=eu-west\\.${NOW_S + 900}\\.[A-Za-z0-9_-]{43}; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$`));
  });

  it("header mode: x-edge-assignment carries the bare token", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const [name, value] = await assignmentHeader("us-east", HEADER_MODE, key, NOW);
    expect(name).toBe("x-edge-assignment");
    expect(value).toMatch(new RegExp(`^us-east\\.${NOW_S + 900}\\.[A-Za-z0-9_-]{43}$`));
  });

  it("signs once per region per second: the second call in that second is synchronous and the same pair", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const first = await assignmentHeader("us-east", COOKIE_MODE, key, NOW);
    const again = assignmentHeader("us-east", COOKIE_MODE, key, NOW + 700);
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toBe(first);
    expect(assignmentHeader("us-east", COOKIE_MODE, key, NOW + 750)).toBeInstanceOf(Promise);
  });

  it("a key derived from ADMIN_TOKEN signs differently from the same string used as STICKY_SECRET (the admin token never signs a cookie itself)", async () => {
    const text = "an-admin-token-long-enough";
    const derived = await tokenFor(new AssignmentKey({ source: "ADMIN_TOKEN", secret: text }, REGIONS), "us-east");
    const direct = await tokenFor(new AssignmentKey({ source: "STICKY_SECRET", secret: text }, REGIONS), "us-east");
    expect(derived.split(".").slice(0, 2)).toEqual(direct.split(".").slice(0, 2));
    expect(derived.split(".")[2]).not.toBe(direct.split(".")[2]);
    // And a fresh key from the same ADMIN_TOKEN (another isolate) accepts it.
    expect(await readAssignment(withCookie(`edge-region=${derived}`), COOKIE_MODE, new AssignmentKey({ source: "ADMIN_TOKEN", secret: text }, REGIONS), NOW)).toBe("us-east");
  });
});

describe("readAssignment", () => {
  it("returns the region of a valid token, checked by a fresh key (another isolate) and then cached: the repeat is synchronous", async () => {
    const token = await tokenFor(new AssignmentKey(SECRET, REGIONS), "eu-west");
    const key = new AssignmentKey(SECRET, REGIONS);
    const first = readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, key, NOW + 1000);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe("eu-west");
    const repeat = readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, key, NOW + 2000);
    expect(repeat).toBe("eu-west");
    expect(key.cachedVerdicts).toBe(1);
  });

  it("the token this isolate just issued is believed without an HMAC", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const token = await tokenFor(key, "us-east");
    expect(readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, key, NOW)).toBe("us-east");
  });

  it("finds our cookie among others", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const token = await tokenFor(new AssignmentKey(SECRET, REGIONS), "eu-west");
    expect(await readAssignment(withCookie(`sid=abc; theme=dark;edge-region=${token}; lang=en`), COOKIE_MODE, key, NOW)).toBe("eu-west");
    // Not ours: another cookie whose name ends the same way.
    expect(readAssignment(withCookie(`xedge-region=${token}`), COOKIE_MODE, key, NOW)).toBeUndefined();
  });

  it("refuses a forged MAC, and remembers that (the repeat is synchronous)", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const token = await tokenFor(new AssignmentKey(SECRET, REGIONS), "eu-west");
    const mac = token.split(".")[2]!;
    const forged = `eu-west.${NOW_S + 900}.${mac[0] === "A" ? "B" : "A"}${mac.slice(1)}`;
    expect(await readAssignment(withCookie(`edge-region=${forged}`), COOKIE_MODE, key, NOW)).toBeUndefined();
    expect(readAssignment(withCookie(`edge-region=${forged}`), COOKIE_MODE, key, NOW)).toBeUndefined();
    // Signed with another secret: as forged.
    const other = await tokenFor(new AssignmentKey({ source: "STICKY_SECRET", secret: "another-secret-of-32-characters!" }, REGIONS), "eu-west");
    expect(await readAssignment(withCookie(`edge-region=${other}`), COOKIE_MODE, key, NOW)).toBeUndefined();
  });

  it("refuses another region's MAC on this region's name (a client cannot move itself)", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const usEast = await tokenFor(new AssignmentKey(SECRET, REGIONS), "us-east");
    const moved = usEast.replace(/^us-east\./, "eu-west.");
    expect(await readAssignment(withCookie(`edge-region=${moved}`), COOKIE_MODE, key, NOW)).toBeUndefined();
    // Nor a later expiry on a real MAC.
    const extended = usEast.replace(`.${NOW_S + 900}.`, `.${NOW_S + 901}.`);
    expect(await readAssignment(withCookie(`edge-region=${extended}`), COOKIE_MODE, key, NOW)).toBeUndefined();
  });

  it("believes a token until its expiry and not a millisecond after, cached or not", async () => {
    const token = await tokenFor(new AssignmentKey(SECRET, REGIONS), "us-east");
    const expiresMs = (NOW_S + 900) * 1000;
    const fresh = new AssignmentKey(SECRET, REGIONS);
    expect(await readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, fresh, expiresMs - 1)).toBe("us-east");
    // Cached now: expiry is still checked on every read.
    expect(readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, fresh, expiresMs)).toBeUndefined();
    expect(readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, new AssignmentKey(SECRET, REGIONS), expiresMs)).toBeUndefined();
  });

  it("refuses a token that outlives today's stick_seconds (issued before it was lowered)", async () => {
    const token = await tokenFor(new AssignmentKey(SECRET, REGIONS), "us-east");
    const shorter = policy({ stick_seconds: 60 });
    expect(readAssignment(withCookie(`edge-region=${token}`), shorter, new AssignmentKey(SECRET, REGIONS), NOW)).toBeUndefined();
  });

  it("refuses a validly signed token for a region this configuration does not have", async () => {
    const token = await tokenFor(new AssignmentKey(SECRET, ["us-east", "ap-south"]), "ap-south");
    expect(readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, new AssignmentKey(SECRET, REGIONS), NOW)).toBeUndefined();
  });

  it("refuses a token over 256 characters, and malformed ones, before any crypto", async () => {
    // A region name no configuration allows (at most 63 characters), so that the only thing wrong
    // with this correctly signed token is its length.
    const long = "r".repeat(MAX_TOKEN_LENGTH - 50);
    const key = new AssignmentKey(SECRET, [...REGIONS, long]);
    const oversize = await tokenFor(new AssignmentKey(SECRET, [long]), long);
    expect(oversize.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    const verify = vi.spyOn(crypto.subtle, "verify");
    try {
      const good = await tokenFor(new AssignmentKey(SECRET, REGIONS), "us-east");
      for (const token of [oversize, "us-east", "us-east.123", `us-east.soon.${good.split(".")[2]}`, `us-east.${NOW_S + 900}.short`, `.${NOW_S + 900}.${good.split(".")[2]}`, ""]) {
        expect(readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, key, NOW), token).toBeUndefined();
      }
      expect(verify).not.toHaveBeenCalled();
      expect(key.cachedVerdicts).toBe(0);
    } finally {
      verify.mockRestore();
    }
  });

  it("header mode reads the configured header and ignores the cookie", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const token = await tokenFor(key, "eu-west", HEADER_MODE);
    expect(readAssignment(new Request("https://edge.example.com/", { headers: { "X-Edge-Assignment": token } }), HEADER_MODE, key, NOW)).toBe("eu-west");
    expect(readAssignment(withCookie(`edge-region=${token}`), HEADER_MODE, key, NOW)).toBeUndefined();
  });

  it("keeps at most 4096 verdicts, the oldest making room", async () => {
    const key = new AssignmentKey(SECRET, REGIONS);
    const token = await tokenFor(new AssignmentKey(SECRET, REGIONS), "us-east");
    await readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, key, NOW);
    const mac = token.split(".")[2]!;
    // Bad MACs under distinct (valid-looking) expiries: each costs one check and one entry.
    for (let i = 1; i <= VERDICT_CACHE_SIZE + 10; i++) {
      await readAssignment(withCookie(`edge-region=us-east.${NOW_S + 900 - (i % 800)}.${mac.slice(0, 38)}${String(i).padStart(4, "0")}A`), COOKIE_MODE, key, NOW);
    }
    expect(key.cachedVerdicts).toBe(VERDICT_CACHE_SIZE);
    // The first (valid) verdict was evicted: checking it again needs the HMAC, and still passes.
    const again = readAssignment(withCookie(`edge-region=${token}`), COOKIE_MODE, key, NOW);
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toBe("us-east");
  });
});

describe("withoutAssignment", () => {
  it("returns the very same Headers when nothing of ours is in it", () => {
    for (const cookie of [undefined, "sid=abc; theme=dark", "xedge-region=1", "Edge-Region=1", "a=edge-region=1"]) {
      const headers = new Headers(cookie === undefined ? {} : { cookie });
      expect(withoutAssignment(headers, COOKIE_MODE), String(cookie)).toBe(headers);
    }
    const plain = new Headers({ accept: "text/html" });
    expect(withoutAssignment(plain, HEADER_MODE)).toBe(plain);
  });

  it("removes only our cookie; the others stay byte for byte", () => {
    const cases: [string, string | null][] = [
      ["edge-region=us-east.1.mac", null],
      ["sid=abc; edge-region=us-east.1.mac; theme=dark", "sid=abc; theme=dark"],
      ['a=1;  b="x y" ;edge-region=t;c=3', 'a=1;  b="x y" ;c=3'],
      ["edge-region=t; sid=abc", "sid=abc"],
      ["sid=abc; edge-region=t", "sid=abc"],
      ["edge-region=t; sid=abc; edge-region=u", "sid=abc"],
      ["Edge-Region=keep; edge-region=t", "Edge-Region=keep"],
    ];
    for (const [cookie, expected] of cases) {
      const headers = new Headers({ cookie, accept: "text/html" });
      const out = withoutAssignment(headers, COOKIE_MODE);
      expect(out, cookie).not.toBe(headers);
      expect(out.get("cookie"), cookie).toBe(expected);
      expect(out.get("accept")).toBe("text/html");
      // The request's own headers are not changed.
      expect(headers.get("cookie")).toBe(cookie);
    }
  });

  it("header mode removes the configured header (and our cookie, should an old one still arrive)", () => {
    const headers = new Headers({ "x-edge-assignment": "us-east.1.mac", cookie: "sid=abc; edge-region=t", accept: "*/*" });
    const out = withoutAssignment(headers, HEADER_MODE);
    expect([...out]).toEqual([
      ["accept", "*/*"],
      ["cookie", "sid=abc"],
    ]);
  });
});
