/** Queued writes as messages: credentials sealed (and only openable with the secret, unaltered, on their own message), and the request delivered from a message. */
import { describe, expect, it } from "vitest";
import { openCredentials, sealCredentials, SealError, toMessage, toRequest, type QueuedMeta, type WriteSecret } from "../src/writes/message.ts";
import type { RegionConfig } from "../src/routing/types.ts";

const SECRET: WriteSecret = { source: "WRITE_SECRET", secret: "a-write-secret-of-32-characters!" };
const OTHER: WriteSecret = { source: "WRITE_SECRET", secret: "another-secret-of-32-characters!" };
const CREDS: [string, string][] = [
  ["authorization", "Bearer user-a-token"],
  ["cookie", "sid=user-a-session"],
];
const META: QueuedMeta = { kind: "write", ledger: "ab".repeat(32), record: "cd".repeat(32), key: "key-1", statusId: "ab.status-1", why: "writer-down", enqueuedAt: 1_000 };
const WRITER: RegionConfig = { name: "east", url: new URL("http://writer.internal:8080/base/"), weight: 1, home: true, priority: 0 };

/** Flips one bit of the sealed bytes at `index` (after the "v1." prefix), keeping the base64url alphabet. */
function flip(sealed: string, index: number): string {
  const body = sealed.slice(3);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const at = alphabet.indexOf(body[index]!);
  return `v1.${body.slice(0, index)}${alphabet[at ^ 1]}${body.slice(index + 1)}`;
}

describe("sealCredentials / openCredentials", () => {
  it("opens what it sealed, under the same secret and binding", async () => {
    const sealed = await sealCredentials(CREDS, SECRET, "m1");
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("user-a");
    expect(await openCredentials(sealed, SECRET, "m1")).toEqual(CREDS);
  });

  it("seals the same headers differently every time (random IV)", async () => {
    const a = await sealCredentials(CREDS, SECRET);
    const b = await sealCredentials(CREDS, SECRET);
    expect(a).not.toBe(b);
  });

  it("refuses a value with any one bit changed: in the IV, the ciphertext or the tag", async () => {
    const sealed = await sealCredentials(CREDS, SECRET, "m1");
    const length = sealed.length - 3;
    for (const index of [0, 5, 16, Math.floor(length / 2), length - 2]) {
      await expect(openCredentials(flip(sealed, index), SECRET, "m1")).rejects.toThrow(SealError);
    }
  });

  it("refuses under another secret", async () => {
    const sealed = await sealCredentials(CREDS, SECRET, "m1");
    await expect(openCredentials(sealed, OTHER, "m1")).rejects.toThrow(/authentication failed/);
  });

  it("refuses a value moved onto another message (bound to the ledger and status id)", async () => {
    const sealed = await sealCredentials(CREDS, SECRET, "m1");
    await expect(openCredentials(sealed, SECRET, "m2")).rejects.toThrow(SealError);
  });

  it("derives another key from ADMIN_TOKEN than from a WRITE_SECRET of the same value", async () => {
    const sealed = await sealCredentials(CREDS, SECRET);
    await expect(openCredentials(sealed, { source: "ADMIN_TOKEN", secret: SECRET.secret })).rejects.toThrow(SealError);
  });

  it("refuses an unknown version, a truncated value and bytes outside base64url", async () => {
    const sealed = await sealCredentials(CREDS, SECRET);
    await expect(openCredentials(`v2.${sealed.slice(3)}`, SECRET)).rejects.toThrow(/unknown format "v2"/);
    await expect(openCredentials(sealed.slice(0, 20), SECRET)).rejects.toThrow(/malformed value/);
    await expect(openCredentials(`v1.${sealed.slice(3, 30)}+/=`, SECRET)).rejects.toThrow(/malformed value/);
    await expect(openCredentials("no-dot", SECRET)).rejects.toThrow(/unknown format/);
  });
});

describe("toMessage / toRequest", () => {
  const incoming = new URL("https://edge.example.com/api/orders?x=1&access_token=user-a-query-token");
  const client = () =>
    new Request(incoming, {
      method: "POST",
      headers: {
        authorization: "Bearer user-a-token",
        cookie: "sid=user-a-session",
        "x-api-key": "user-a-api-key",
        x_custom_token: "user-a-custom",
        "cf-connecting-ip": "203.0.113.7",
        "content-type": "application/json",
        "x-edge-write-epoch": "999",
        "idempotency-key": '"client-key"',
        connection: "x-hop",
        "x-hop": "1",
      },
      body: '{"order":1}',
    });
  const body = new TextEncoder().encode('{"order":1}').buffer as ArrayBuffer;

  it("keeps credentials and the client address only sealed; headers in the clear are safe to queue", async () => {
    const message = await toMessage(client(), incoming, body, META, SECRET, ["x-api-key", "x-custom-token"]);
    const clear = JSON.stringify({ ...message, body: undefined });
    for (const secret of ["user-a-token", "user-a-session", "user-a-api-key", "user-a-custom", "203.0.113.7", "user-a-query-token"]) expect(clear).not.toContain(secret);
    const names = message.headers.map(([n]) => n).sort();
    expect(names).toEqual(["cdn-loop", "content-type", "x-forwarded-host", "x-forwarded-proto"]);
    expect(message).toMatchObject({ v: 1, kind: "write", ledger: META.ledger, key: "key-1", statusId: "ab.status-1", method: "POST", path: "/api/orders", why: "writer-down", enqueuedAt: 1_000 });
    expect(message.sealed).toMatch(/^v1\./);
  });

  it("delivers the same method, path, body and credentials under the writer's URL, with the key and the lease's epoch", async () => {
    const message = await toMessage(client(), incoming, body, META, SECRET, ["x-api-key", "x-custom-token"]);
    const request = await toRequest(message, WRITER, 7, SECRET);
    expect(request.method).toBe("POST");
    expect(request.url).toBe("http://writer.internal:8080/base/api/orders?x=1&access_token=user-a-query-token");
    expect(request.headers.get("authorization")).toBe("Bearer user-a-token");
    expect(request.headers.get("cookie")).toBe("sid=user-a-session");
    expect(request.headers.get("x-api-key")).toBe("user-a-api-key");
    // Under the name the client spelled it (an origin may read `_` as `-`: it was sealed by that reading).
    expect(request.headers.get("x_custom_token")).toBe("user-a-custom");
    expect(request.headers.get("x-forwarded-for")).toBe("203.0.113.7");
    // The sf-string form, as a pass-through sends it: one key at the origin whichever path delivered it.
    expect(request.headers.get("idempotency-key")).toBe('"key-1"');
    // The client's epoch never survives; the lease's is set.
    expect(request.headers.get("x-edge-write-epoch")).toBe("7");
    expect(request.headers.get("x-hop")).toBeNull();
    expect(request.headers.get("cdn-loop")).toBe("edge-fallback");
    expect(await request.text()).toBe('{"order":1}');
  });

  it("does not deliver a message whose sealed credentials were altered or come from another message", async () => {
    const message = await toMessage(client(), incoming, body, META, SECRET, []);
    await expect(toRequest({ ...message, sealed: flip(message.sealed!, 10) }, WRITER, 1, SECRET)).rejects.toThrow(SealError);
    await expect(toRequest({ ...message, statusId: "ab.status-2" }, WRITER, 1, SECRET)).rejects.toThrow(SealError);
    await expect(toRequest(message, WRITER, 1, OTHER)).rejects.toThrow(SealError);
  });

  it("keeps a queued path on the writer's host, whatever it looks like", async () => {
    const bare = new URL("https://edge.example.com/api/orders");
    const message = await toMessage(new Request(bare, { method: "DELETE" }), bare, null, META, SECRET, []);
    expect(message.sealed).toBeUndefined();
    expect(message.body).toBeNull();
    const urls = await Promise.all(["//evil.example/x", "/\\evil.example/x", "/@evil.example"].map(async (path) => (await toRequest({ ...message, path }, WRITER, 1, SECRET)).url));
    for (const url of urls) expect(new URL(url).host).toBe("writer.internal:8080");
    await expect(toRequest({ ...message, path: "evil.example/x" }, WRITER, 1, SECRET)).rejects.toThrow(/must start with/);
  });
});
