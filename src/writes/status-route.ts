/**
 * GET /__edge/writes/<id>: where one accepted write stands. No admin token: the id is the
 * capability (128 random bits, handed only to the client that wrote), and the ledger compares its
 * secret part before it shows anything. An unknown, malformed or expired id is a plain 404.
 */
import { Hono } from "hono";
import type { Env } from "../env.ts";
import { jsonError } from "../lkg/respond.ts";
import { parseStatusId } from "./idempotency.ts";
import type { StoredResult, WriteStatus } from "./types.ts";

const NO_STORE = { "cache-control": "no-store" };

export function statusRoutes(): Hono<{ Bindings: Env }> {
  const routes = new Hono<{ Bindings: Env }>();
  routes.get("/:id", async (c) => {
    const ledgerNs = c.env.WRITE_LEDGER;
    if (!ledgerNs) return jsonError(404, "no write routes are configured (WRITES)");
    const parsed = parseStatusId(c.req.param("id"));
    if (!parsed) return unknown();
    let id: DurableObjectId;
    try {
      // Only ids this namespace made parse: a made-up one costs no object call.
      id = ledgerNs.idFromString(parsed.ledger);
    } catch {
      return unknown();
    }
    let status: WriteStatus | undefined;
    try {
      status = (await ledgerNs.get(id).status(parsed.secret)) as WriteStatus | undefined;
    } catch (err) {
      return jsonError(503, "the idempotency ledger is unreachable; retry", { detail: (err as Error).message }, { "retry-after": "1" });
    }
    if (!status) return unknown();
    return c.json(view(status), 200, NO_STORE);
  });
  return routes;
}

function unknown(): Response {
  return jsonError(404, "no such write (unknown id, or its key has expired)");
}

/** The stored answer's body as text when it is text, else base64, so a client can read either. */
function view(status: WriteStatus): Record<string, unknown> {
  return {
    id: status.id,
    kind: status.kind,
    state: status.state,
    accepted_at: new Date(status.acceptedAt).toISOString(),
    expires_at: new Date(status.expiresAt).toISOString(),
    attempts: status.attempts,
    queued_because: status.why ?? null,
    reason: status.reason ?? null,
    result: status.result ? result(status.result) : null,
  };
}

function result(r: StoredResult): Record<string, unknown> {
  const type = r.headers.find(([name]) => name === "content-type")?.[1] ?? "";
  const base = { status: r.status, headers: Object.fromEntries(r.headers), region: r.region, epoch: r.epoch, at: new Date(r.at).toISOString(), body_bytes: r.bodyBytes };
  if (r.body === undefined) return { ...base, body: null, body_omitted: true };
  if (/^(text\/|application\/(json|xml|problem\+json)|[^;]*\+json)/i.test(type)) {
    try {
      const bytes = Uint8Array.from(atob(r.body), (ch) => ch.charCodeAt(0));
      return { ...base, body: new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes) };
    } catch {
      // Not UTF-8 after all: base64 below.
    }
  }
  return { ...base, body_base64: r.body };
}
