/**
 * The operators' dead-letter routes: GET lists the writes that ran out of retries (kept in full in
 * the backlog object), POST .../replay puts them back on the write queue, all of them or one by id.
 */
import { Hono } from "hono";
import type { Env } from "../env.ts";
import { jsonError } from "../lkg/respond.ts";
import type { DeadLetter } from "../writes/backlog.ts";
import { MAX_TAKE } from "../writes/backlog.ts";
import { backlogStub } from "../writes/queue-handler.ts";
import { replayDeadLetters } from "../writes/replay.ts";
import { checkAdmin, type AdminAuth } from "./auth.ts";
import { MAX_BODY_BYTES, readBody } from "./body.ts";

const NO_STORE = { "cache-control": "no-store" };
/** Status ids are `<64 hex>.<22 base64url>`; anything far longer is not one. */
const MAX_ID_LENGTH = 128;

function refused(auth: Extract<AdminAuth, { ok: false }>): Response {
  return jsonError(auth.status, auth.reason, {}, auth.status === 401 ? { "www-authenticate": 'Bearer realm="edge-fallback admin"' } : {});
}

function unreachable(err: unknown, extra: Record<string, unknown> = {}): Response {
  return jsonError(503, "write backlog or queue unreachable", { detail: err instanceof Error ? err.message : String(err), ...extra }, { "retry-after": "5" });
}

/** A dead letter as operators see it: what it was and why it died; never its headers, credentials or body. */
function letterJson({ message, reason, at, deaths }: DeadLetter) {
  return {
    id: message.statusId,
    kind: message.kind,
    method: message.method,
    path: message.path,
    why: message.why,
    enqueuedAt: message.enqueuedAt,
    bodyBytes: message.body?.byteLength ?? 0,
    reason,
    deadAt: at,
    deaths,
  };
}

export function deadLetterRoutes(): Hono<{ Bindings: Env }> {
  const routes = new Hono<{ Bindings: Env }>();

  routes.get("/", async (c) => {
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const backlog = backlogStub(c.env);
    try {
      const [snapshot, letters] = await Promise.all([backlog.snapshot(), backlog.takeDead(MAX_TAKE)]);
      return c.json({ backlog: snapshot, dead: letters.map(letterJson) }, 200, NO_STORE);
    } catch (err) {
      return unreachable(err);
    }
  });

  routes.post("/replay", async (c) => {
    // The token first: nothing about dead letters or bodies is revealed or read without it.
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const body = await readBody(c.req.raw);
    if (body.kind === "too-large") return jsonError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    const fields = parseReplay(body.text);
    if (typeof fields === "string") return jsonError(400, fields);
    const queue = c.env.WRITE_QUEUE;
    if (!queue) return jsonError(503, "the WRITE_QUEUE binding is missing (see wrangler.toml); nothing was replayed");
    const backlog = backlogStub(c.env);
    let replayed: string[];
    try {
      ({ replayed } = await replayDeadLetters(backlog, queue, { statusId: fields.id }));
    } catch (err) {
      return unreachable(err, { note: "dead letters sent before the failure are out of the dead list; the rest stay there" });
    }
    if (fields.id !== undefined && replayed.length === 0) return jsonError(404, `no dead letter with id ${JSON.stringify(fields.id)}`);
    let remaining: number | null = null;
    try {
      remaining = (await backlog.snapshot()).dead;
    } catch {
      // The replay happened; only the count is unknown.
    }
    return c.json({ replayed, remaining }, 200, NO_STORE);
  });

  return routes;
}

/** An empty body or `{}`: every dead letter (up to 100 per call; `remaining` says what is left). `{"id": "<status id>"}`: that one. */
function parseReplay(text: string): { id?: string } | string {
  const usage = 'replay takes no body (all dead letters, 100 per call) or {"id": "<status id>"}';
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `the body is not JSON: ${usage}`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return usage;
  const keys = Object.keys(parsed);
  if (keys.some((k) => k !== "id")) return `unknown field ${JSON.stringify(keys.find((k) => k !== "id"))}: ${usage}`;
  const id = (parsed as { id?: unknown }).id;
  if (id === undefined) return {};
  if (typeof id !== "string" || id === "" || id.length > MAX_ID_LENGTH) return `id must be a status id (a string of 1..${MAX_ID_LENGTH} characters)`;
  return { id };
}
