/** Idempotency-Key parsing (the draft's sf-string, a bare token), the payload fingerprint, the credential scope, the ledger's name and status ids. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resolveConfig, type Config } from "../src/config.ts";
import { credentialScope, fingerprint, newStatusId, newStatusSecret, parseIdempotencyKey, parseStatusId, scopedKey, serializeIdempotencyKey } from "../src/writes/idempotency.ts";

const LEDGER_ID = "a".repeat(64);

function config(vars: Record<string, string> = {}): Config {
  const resolved = resolveConfig({ ORIGINS: JSON.stringify([{ name: "primary", url: "http://127.0.0.1:1" }]), ...vars }, env);
  if (!resolved.ok) throw new Error(resolved.problems.join("; "));
  return resolved.config;
}

describe("parseIdempotencyKey", () => {
  const accepted: [string, string][] = [
    ['"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"],
    ["8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"],
    ['"a b,c;d=e"', "a b,c;d=e"],
    ['"say \\"hi\\" \\\\o/"', 'say "hi" \\o/'],
    ["order:42.v1_x", "order:42.v1_x"],
    ['  "padded"\t', "padded"],
    [`"${"k".repeat(255)}"`, "k".repeat(255)],
    ["k".repeat(255), "k".repeat(255)],
  ];
  for (const [value, key] of accepted) {
    it(`accepts ${JSON.stringify(value.slice(0, 40))} as the key ${JSON.stringify(key.slice(0, 40))}`, () => {
      expect(parseIdempotencyKey(value)).toEqual({ ok: true, key });
    });
  }

  it("reads a quoted key and the same bare token as one key", () => {
    expect(parseIdempotencyKey('"abc"')).toEqual(parseIdempotencyKey("abc"));
  });

  const refused: [string | null, string][] = [
    [null, "Idempotency-Key is required on this route"],
    ["", "Idempotency-Key is empty"],
    ["   ", "Idempotency-Key is empty"],
    ['""', "Idempotency-Key is empty"],
    [`"${"k".repeat(256)}"`, "Idempotency-Key is 256 characters long; at most 255 are accepted"],
    ["k".repeat(256), "Idempotency-Key is 256 characters long; at most 255 are accepted"],
    ['"a\u0001b"', "Idempotency-Key contains a control character (at 2)"],
    ["a\tb", "Idempotency-Key contains a control character (at 1)"],
    ['"a\u007fb"', "Idempotency-Key contains a control character (at 2)"],
    ['"caf\u00e9"', "Idempotency-Key contains a character outside printable ASCII"],
    ['"abc', "Idempotency-Key has no closing quote"],
    ['"abc\\"', "Idempotency-Key has no closing quote"],
    ['"a\\nb"', 'Idempotency-Key has an invalid escape at 2 (only \\" and \\\\ are allowed)'],
    // Two Idempotency-Key headers arrive joined by ", ".
    ['"a", "b"', "Idempotency-Key must be a single string, with nothing after its closing quote"],
    ['"a";x=1', "Idempotency-Key must be a single string, with nothing after its closing quote"],
    ["a, b", 'Idempotency-Key must be a quoted string ("...") or a bare token of A-Z a-z 0-9 . _ : -'],
    ["a b", 'Idempotency-Key must be a quoted string ("...") or a bare token of A-Z a-z 0-9 . _ : -'],
    ["abc/def", 'Idempotency-Key must be a quoted string ("...") or a bare token of A-Z a-z 0-9 . _ : -'],
    ['ab"c"', 'Idempotency-Key must be a quoted string ("...") or a bare token of A-Z a-z 0-9 . _ : -'],
  ];
  for (const [value, reason] of refused) {
    it(`refuses ${JSON.stringify(value)?.slice(0, 40)}: ${reason}`, () => {
      expect(parseIdempotencyKey(value)).toEqual({ ok: false, reason });
    });
  }

  it("serializes any accepted key back to an sf-string that parses to the same key", () => {
    for (const key of ['say "hi" \\o/', "plain", "a b,c"]) {
      const text = serializeIdempotencyKey(key);
      expect(parseIdempotencyKey(text)).toEqual({ ok: true, key });
    }
    expect(serializeIdempotencyKey('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});

describe("fingerprint", () => {
  const body = (text: string) => new TextEncoder().encode(text).buffer as ArrayBuffer;

  it("is the hex SHA-256 of the framed method, path and query, content type and body", async () => {
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode('["POST","/api/orders?x=1","application/json"]\n{"n":1}')));
    const hex = [...expected].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(await fingerprint("POST", "/api/orders?x=1", "application/json", body('{"n":1}'))).toBe(hex);
  });

  it("changes with each part, and treats no body as an empty one", async () => {
    const base = await fingerprint("POST", "/a?x=1", "application/json", body("{}"));
    const variants = await Promise.all([
      fingerprint("PUT", "/a?x=1", "application/json", body("{}")),
      fingerprint("POST", "/a?x=2", "application/json", body("{}")),
      fingerprint("POST", "/a?x=1", "text/plain", body("{}")),
      fingerprint("POST", "/a?x=1", null, body("{}")),
      fingerprint("POST", "/a?x=1", "application/json", body("{ }")),
    ]);
    expect(new Set([base, ...variants]).size).toBe(6);
    expect(await fingerprint("DELETE", "/a", null, null)).toBe(await fingerprint("DELETE", "/a", null, new ArrayBuffer(0)));
  });

  it("does not let a part's bytes move into the next part", async () => {
    // Naive concatenation would make these two equal.
    expect(await fingerprint("POST", "/a", "text/plain", body("x"))).not.toBe(await fingerprint("POST", "/a", "text/plainx", null));
    expect(await fingerprint("POST", "/a\n", "t", null)).not.toBe(await fingerprint("POST", "/a", "\nt", null));
  });
});

describe("credentialScope", () => {
  const scrub = config({ SENSITIVE_HEADERS: '["x-api-key"]', SESSION_COOKIES: '["sid"]', SECRET_QUERY_PARAMS: '["token"]' });
  const scope = (headers: Record<string, string>, url = "https://edge.example.com/api/orders") => credentialScope(new Request(url, { method: "POST", headers }), scrub);

  it("gives two clients with different credentials different scopes, and the same credentials the same one", async () => {
    const alice = await scope({ authorization: "Bearer alice" });
    expect(alice).toMatch(/^[0-9a-f]{64}$/);
    expect(await scope({ authorization: "Bearer bob" })).not.toBe(alice);
    expect(await scope({ authorization: "Bearer alice", "content-type": "application/json", "x-trace": "1" })).toBe(alice);
    expect(await scope({})).not.toBe(alice);
  });

  it("counts every credential: Proxy-Authorization, a sensitive header under any spelling, the session cookie, a secret query parameter", async () => {
    const anonymous = await scope({});
    const apiKey = await scope({ "x-api-key": "k1" });
    expect(await scope({ "proxy-authorization": "Basic eDp5" })).not.toBe(anonymous);
    expect(apiKey).not.toBe(anonymous);
    // The origin reads x_api_key as x-api-key: the same credential, the same client.
    expect(await scope({ x_api_key: "k1" })).toBe(apiKey);
    expect(await scope({ "x-api-key": "k2" })).not.toBe(apiKey);
    expect(await scope({ cookie: "sid=alice" })).not.toBe(await scope({ cookie: "sid=bob" }));
    expect(await scope({}, "https://edge.example.com/api/orders?token=a")).not.toBe(await scope({}, "https://edge.example.com/api/orders?token=b"));
  });

  it("ignores cookies that are not sessions and the order credentials come in", async () => {
    expect(await scope({ cookie: "sid=alice; theme=dark" })).toBe(await scope({ cookie: "theme=light; sid=alice" }));
    expect(await scope({ cookie: "theme=dark" })).toBe(await scope({}));
    expect(await scope({ authorization: "Bearer a", "x-api-key": "k" })).toBe(await scope({ "x-api-key": "k", authorization: "Bearer a" }));
  });

  it("with SESSION_COOKIES * (the default), every cookie is part of the scope", async () => {
    const any = config();
    const of = (cookie: string) => credentialScope(new Request("https://e.example/a", { method: "POST", headers: { cookie } }), any);
    expect(await of("theme=dark")).not.toBe(await of("theme=light"));
    expect(await of("=USERA")).not.toBe(await of("=USERB"));
  });
});

describe("scopedKey", () => {
  it("is the hex SHA-256 of kind, scope and key, different for each part", async () => {
    const base = await scopedKey("write", "scope-a", "k1");
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(await scopedKey("write", "scope-a", "k1")).toBe(base);
    const others = await Promise.all([scopedKey("webhook", "scope-a", "k1"), scopedKey("write", "scope-b", "k1"), scopedKey("write", "scope-a", "k2")]);
    expect(new Set([base, ...others]).size).toBe(4);
    // Framed: the scope cannot absorb part of the key.
    expect(await scopedKey("write", "ab", "c")).not.toBe(await scopedKey("write", "a", "bc"));
  });
});

describe("status ids", () => {
  it("is the ledger id, a dot and 22 characters of base64url, and parses back to its parts", () => {
    const id = newStatusId(LEDGER_ID);
    expect(id).toMatch(/^a{64}\.[A-Za-z0-9_-]{22}$/);
    expect(parseStatusId(id)).toEqual({ ledger: LEDGER_ID, secret: id.slice(65) });
  });

  it("draws a fresh secret every time", () => {
    const secrets = new Set(Array.from({ length: 200 }, () => newStatusSecret()));
    expect(secrets.size).toBe(200);
    for (const secret of secrets) expect(secret).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("refuses anything that cannot be one, so a probe never reaches an object", () => {
    const secret = "A".repeat(22);
    for (const bad of ["", LEDGER_ID, `${LEDGER_ID}.`, `${LEDGER_ID}.${secret}x`, `${LEDGER_ID}.${"A".repeat(21)}`, `${"A".repeat(64)}.${secret}`, `${"a".repeat(63)}.${secret}`, `${LEDGER_ID}.${"A".repeat(21)}=`, `${LEDGER_ID}.${secret}.x`, `../${secret}`]) {
      expect(parseStatusId(bad)).toBeUndefined();
    }
    expect(parseStatusId(`${LEDGER_ID}.${secret}`)).toEqual({ ledger: LEDGER_ID, secret });
  });
});
