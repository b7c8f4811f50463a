/** The WRITES setting (JSON) -> resolved write and webhook routes, the writer and the limits, reporting every problem at once. */
import type { RegionConfig } from "../routing/types.ts";
import type { DedupeRule, KeyRequirement, WebhookRoute, WriteRoute, WritesConfig } from "../writes/types.ts";
import { FieldReader, parseObject } from "./fields.ts";

export const WRITES_DEFAULTS = {
  key_lifetime_s: 86_400,
  // The Queues message limit is 128 KB; the rest of the message (headers, sealed credentials) needs room.
  max_queued_body_bytes: 100 * 1024,
  max_stored_result_bytes: 64 * 1024,
  auto_promote: true,
  replay_per_second: 50,
};

/** Queues refuses a message above 128 KB; what is left after the body carries headers and the sealed credentials. */
export const MAX_QUEUED_BODY_BYTES = 120 * 1024;
/** A Durable Object SQLite row holds at most 2 MB; the stored answer is base64 (4/3) with its headers. */
const MAX_STORED_RESULT_BYTES = 1024 * 1024;
const WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"];
const FIELDS = ["routes", "webhooks", "writer", "auto_promote", "key_lifetime_s", "max_queued_body_bytes", "max_stored_result_bytes", "replay_per_second"];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_PATH = /^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/;
/** Worker-owned or credential headers cannot name an event: the sender does not set them, or they are secrets. */
const UNFIT_DEDUPE_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "host", "content-length", "x-edge-write-epoch", "idempotency-key"]);

export interface WritesContext {
  origins: RegionConfig[];
  originTimeoutMs: number;
  routingSyncMs: number;
}

/** Absent or empty: no write routes (writes pass through, never queued), as before WRITES existed. */
export function readWrites(raw: unknown, context: WritesContext, problems: string[]): WritesConfig | undefined {
  if (raw === undefined || raw === "") return undefined;
  const before = problems.length;
  const fields = parseObject(raw, { name: "WRITES", label: "writes", what: "the JSON write routes setting", example: '{"routes":[{"path":"/api/","methods":["POST"]}]}' }, problems);
  const r = new FieldReader("WRITES", fields, problems);
  r.unknown(FIELDS);
  const routes = readList(fields["routes"], "WRITES.routes", problems, readWriteRoute);
  const webhooks = readList(fields["webhooks"], "WRITES.webhooks", problems, readWebhookRoute);
  if (problems.length === before && routes.length === 0 && webhooks.length === 0) problems.push("WRITES must name at least one route in routes or webhooks (leave WRITES unset for none)");
  const seen = new Map<string, string>();
  for (const [where, pattern] of [...routes.map((w, i) => [`WRITES.routes[${i}]`, w.pattern] as const), ...webhooks.map((w, i) => [`WRITES.webhooks[${i}]`, w.pattern] as const)]) {
    const earlier = seen.get(pattern);
    if (earlier) problems.push(`${where}.path ${JSON.stringify(pattern)} is also ${earlier}.path: one path, one rule`);
    else seen.set(pattern, where);
  }

  const home = context.origins.find((o) => o.home)?.name ?? context.origins[0]?.name ?? "";
  const writer = fields["writer"];
  let initialWriter = home;
  if (writer !== undefined) {
    if (typeof writer !== "string" || !context.origins.some((o) => o.name === writer)) {
      problems.push(`WRITES.writer must name one of the ORIGINS (${context.origins.map((o) => o.name).join(", ")}), got ${JSON.stringify(writer)}`);
    } else initialWriter = writer;
  }
  const autoPromote = r.boolean("auto_promote", WRITES_DEFAULTS.auto_promote);
  // At least a minute (a client's retries must find the key), at most a week.
  const keyLifetimeS = r.number("key_lifetime_s", WRITES_DEFAULTS.key_lifetime_s, 60, 7 * 86_400, true);
  const maxQueuedBodyBytes = r.number("max_queued_body_bytes", WRITES_DEFAULTS.max_queued_body_bytes, 0, MAX_QUEUED_BODY_BYTES, true);
  const maxStoredResultBytes = r.number("max_stored_result_bytes", WRITES_DEFAULTS.max_stored_result_bytes, 0, MAX_STORED_RESULT_BYTES, true);
  // A backlog replayed at once lands on the writer that just took over all traffic (and, here, on
  // the same CPUs as the live requests): one consumer invocation sends at most this many a second.
  const replayPerSecond = r.number("replay_per_second", WRITES_DEFAULTS.replay_per_second, 1, 10_000, true);

  return {
    routes,
    webhooks,
    initialWriter,
    autoPromote,
    keyLifetimeMs: keyLifetimeS * 1000,
    maxQueuedBodyBytes,
    maxStoredResultBytes,
    replayPerSecond,
    ...leaseWindows(context.routingSyncMs, context.originTimeoutMs),
  };
}

/** How long a lease copy is trusted and how long a promotion drains: derived, never set, so they cannot disagree. */
export function leaseWindows(routingSyncMs: number, originTimeoutMs: number): Pick<WritesConfig, "leaseTrustMs" | "promotionDrainMs"> {
  // An isolate re-reads the lease every ROUTING_SYNC_MS; three missed reads and it stops trusting its copy.
  const leaseTrustMs = 3 * routingSyncMs;
  // A pass-through write began on a lease read at most leaseTrustMs ago and reaches the old writer
  // within ORIGIN_TIMEOUT_MS: after both (and a second's margin) the old epoch has no write in flight.
  return { leaseTrustMs, promotionDrainMs: leaseTrustMs + originTimeoutMs + 1000 };
}

function readList<T>(raw: unknown, where: string, problems: string[], one: (value: unknown, where: string, problems: string[]) => T | undefined): T[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > 64) {
    problems.push(`${where} must be a list of at most 64 objects, got ${JSON.stringify(raw)}`);
    return [];
  }
  const out: T[] = [];
  raw.forEach((value, i) => {
    const item = one(value, `${where}[${i}]`, problems);
    if (item !== undefined) out.push(item);
  });
  return out;
}

function readWriteRoute(value: unknown, where: string, problems: string[]): WriteRoute | undefined {
  const fields = objectAt(value, where, problems);
  if (!fields) return undefined;
  new FieldReader(where, fields, problems).unknown(["path", "methods", "idempotency"]);
  const pattern = readPath(fields["path"], `${where}.path`, problems);
  const methods = readMethods(fields["methods"], `${where}.methods`, WRITE_METHODS, problems);
  const idempotency = fields["idempotency"] ?? "required";
  if (idempotency !== "required" && idempotency !== "optional") {
    problems.push(`${where}.idempotency must be "required" or "optional", got ${JSON.stringify(idempotency)}`);
    return undefined;
  }
  return pattern && methods ? { pattern, methods, idempotency: idempotency as KeyRequirement } : undefined;
}

function readWebhookRoute(value: unknown, where: string, problems: string[]): WebhookRoute | undefined {
  const fields = objectAt(value, where, problems);
  if (!fields) return undefined;
  new FieldReader(where, fields, problems).unknown(["path", "methods", "dedupe_key"]);
  const pattern = readPath(fields["path"], `${where}.path`, problems);
  const methods = fields["methods"] === undefined ? ["POST"] : readMethods(fields["methods"], `${where}.methods`, WRITE_METHODS, problems);
  const text = fields["dedupe_key"];
  const dedupe = typeof text === "string" ? readDedupeRule(text) : undefined;
  if (!dedupe) {
    problems.push(`${where}.dedupe_key must be "header:<name>", "field:<json.path>" or "sha256(<field>+<field>...)", like "sha256(event_id+rev)", got ${JSON.stringify(text)}`);
    return undefined;
  }
  return pattern && methods ? { pattern, methods, dedupe, dedupeText: text as string } : undefined;
}

/** The rule's text -> the rule, or undefined when it is none of the three forms. */
export function readDedupeRule(text: string): DedupeRule | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith("header:")) {
    const name = trimmed.slice("header:".length).trim().toLowerCase();
    return HEADER_NAME.test(name) && !UNFIT_DEDUPE_HEADERS.has(name) ? { kind: "header", name } : undefined;
  }
  if (trimmed.startsWith("field:")) {
    const path = trimmed.slice("field:".length).trim();
    return FIELD_PATH.test(path) ? { kind: "field", path: path.split(".") } : undefined;
  }
  const sha = /^sha256\((.+)\)$/.exec(trimmed);
  if (sha) {
    const parts = sha[1]!.split("+").map((p) => p.trim());
    if (parts.length === 0 || parts.length > 8 || !parts.every((p) => FIELD_PATH.test(p))) return undefined;
    return { kind: "sha256", fields: parts.map((p) => p.split(".")) };
  }
  return undefined;
}

function objectAt(value: unknown, where: string, problems: string[]): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`${where} must be an object, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return value as Record<string, unknown>;
}

function readPath(value: unknown, where: string, problems: string[]): string | undefined {
  if (typeof value !== "string" || !value.startsWith("/") || value.slice(0, -1).includes("*")) {
    problems.push(`${where} must be a path starting with / (a trailing / or * matches any rest), got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (value.toLowerCase().startsWith("/__edge")) {
    problems.push(`${where} ${JSON.stringify(value)} is in the worker's reserved /__edge namespace`);
    return undefined;
  }
  return value;
}

function readMethods(value: unknown, where: string, allowed: string[], problems: string[]): string[] | undefined {
  if (value === undefined) return [...allowed];
  if (!Array.isArray(value) || value.length === 0 || !value.every((m) => typeof m === "string" && allowed.includes(m.toUpperCase()))) {
    problems.push(`${where} must be a non-empty list of ${allowed.join(", ")} (reads are never queued), got ${JSON.stringify(value)}`);
    return undefined;
  }
  return [...new Set((value as string[]).map((m) => m.toUpperCase()))];
}
