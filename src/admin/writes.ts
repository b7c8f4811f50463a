/** The operators' writes routes: the writer lease (read strongly), the queue backlog, and promote / freeze / unfreeze. */
import { Hono } from "hono";
import type { Env } from "../env.ts";
import { jsonError } from "../lkg/respond.ts";
import type { LeaseEvent } from "../routing/state.ts";
import { effectiveLease } from "../writes/lease.ts";
import { leaseConfig, leaseSettings, type LeaseSource } from "../writes/lease-settings.ts";
import type { WriterLease } from "../writes/types.ts";
import { checkAdmin } from "./auth.ts";
import { cut, jsonFields, MAX_BODY_BYTES, readBody, refused, short } from "./body.ts";
import type { RegionsDeps } from "./regions.ts";

/** What the writes routes need, found on `c.get("runtime")` (the Runtime has `routing` and `config`; `backlog` once the queue exists). */
export interface WritesDeps {
  routing: Pick<RegionsDeps["routing"], "view" | "link" | "regions" | "clock">;
  config: LeaseSource;
  /** The queue's backlog as WRITE_BACKLOG's snapshot() has it (length, oldest, dead letters); absent: shown as null. It should bound its own time. */
  backlog?: () => Promise<unknown>;
}

type WritesEnv = { Bindings: Env; Variables: { runtime: WritesDeps } };

type WritesAction = "promote" | "freeze" | "unfreeze";
const ACTIONS: readonly WritesAction[] = ["promote", "freeze", "unfreeze"];

/** The reason is stored in the lease and written to a data point; the object allows 200 characters, of which "admin: " takes 7. */
const MAX_REASON = 160;
/** Control characters in a stored reason would garble logs and pages that show it. */
const CONTROL = /\p{Cc}/u;

const NO_STORE = { "cache-control": "no-store" };

const UNKNOWN_OUTCOME = "outcome unknown: GET /__edge/admin/writes shows whether it took";

export function writesRoutes(): Hono<WritesEnv> {
  const routes = new Hono<WritesEnv>();

  routes.get("/", async (c) => {
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const { routing, config, backlog } = c.get("runtime");
    const settings = leaseSettings(config);
    // Both reads at once: the page answers in the time of the slower one, each failure shown on its own.
    const [fleet, queue] = await Promise.all([attempt(() => routing.link.lease(leaseConfig(config))), backlog ? attempt(backlog) : undefined]);
    const now = routing.clock.now();
    const reading = routing.view.lease(now);
    return c.json(
      {
        lease: fleet.ok ? leaseJson(fleet.value) : null,
        objectError: fleet.ok ? null : fleet.error,
        isolate: {
          lease: leaseJson(effectiveLease(reading, settings.initialWriter)),
          readAt: finite(routing.view.readAt),
          leaseUnknownUntil: finite(routing.view.leaseUnknownUntil),
          // What writePlan decides on: a copy read within the trust window, and no lease change of unknown outcome.
          trusted: now - reading.readAt <= settings.leaseTrustMs,
        },
        settings,
        backlog: queue?.ok ? queue.value : null,
        backlogError: queue && !queue.ok ? queue.error : null,
      },
      200,
      NO_STORE,
    );
  });

  routes.post("/:action", async (c) => {
    // The token first: nothing about regions, the lease or bodies is revealed or read without it.
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const { routing, config } = c.get("runtime");
    const action = c.req.param("action");
    if (!isAction(action)) return jsonError(400, `unknown action ${short(action)}: use ${ACTIONS.join(", ")}`);
    const stray = new URL(c.req.url).searchParams.keys().next();
    if (!stray.done) return jsonError(400, `unknown query parameter ${short(stray.value)}: ${action} takes none`);
    const body = await readBody(c.req.raw);
    if (body.kind === "too-large") return jsonError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    const fields = parseFields(action, body.text);
    if (typeof fields === "string") return jsonError(400, fields);
    if (fields.region !== undefined && !routing.regions.includes(fields.region)) return jsonError(404, `unknown region ${short(fields.region)}`, { regions: routing.regions });

    const settings = leaseSettings(config);
    const configured = leaseConfig(config);
    const reason = fields.reason === undefined ? "admin" : `admin: ${fields.reason}`;
    const event: LeaseEvent =
      action === "promote"
        ? { type: "promote", to: fields.region!, reason, source: "admin", drainMs: settings.promotionDrainMs, configured }
        : { type: action, reason, configured };
    const outcome = await routing.view.admin(routing.link, event);
    if (outcome.kind === "unreachable") {
      if (!outcome.timedOut) return jsonError(503, "routing object unreachable; nothing was changed", { detail: outcome.error }, { "retry-after": "5" });
      // The change may still land: until a later read can show it, this isolate trusts no copy of the lease.
      routing.view.markLeaseUnknown(routing.clock.now() + settings.leaseTrustMs);
      return jsonError(504, UNKNOWN_OUTCOME, { detail: outcome.error });
    }
    const { applied } = outcome;
    const lease = leaseJson(effectiveLease(applied.snapshot, settings.initialWriter));
    if (applied.invalid) return jsonError(400, applied.invalid);
    if (applied.refused) return jsonError(409, applied.refused, { action, lease, generation: applied.snapshot.generation });
    return c.json({ action, changed: applied.changed, lease, generation: applied.snapshot.generation }, 200, NO_STORE);
  });

  return routes;
}

/** A lease as JSON: no promotion reads as null, so every answer has the same keys. */
function leaseJson(lease: WriterLease) {
  return { region: lease.region, epoch: lease.epoch, frozen: lease.frozen, promotion: lease.promotion ?? null, reason: lease.reason, changedAt: lease.changedAt };
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function isAction(action: string): action is WritesAction {
  return (ACTIONS as readonly string[]).includes(action);
}

async function attempt<T>(read: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

/** promote takes exactly `{"region": <configured name>, "reason"?: <text>}`; freeze and unfreeze `{"reason"?}`, `{}` or nothing. */
function parseFields(action: WritesAction, text: string): { region?: string; reason?: string } | string {
  const usage = action === "promote" ? 'promote takes a JSON body {"region": <region name>, "reason": <text, optional>}' : `${action} takes no body, or {"reason": <text>}`;
  if (text.trim() === "") return action === "promote" ? usage : {};
  const parsed = jsonFields(text, action === "promote" ? ["region", "reason"] : ["reason"], usage);
  if (typeof parsed === "string") return parsed;
  const { region, reason } = parsed as { region?: unknown; reason?: unknown };
  if (reason !== undefined && (typeof reason !== "string" || reason.length > MAX_REASON || CONTROL.test(reason))) {
    return `reason must be text of at most ${MAX_REASON} characters without control characters, got ${cut(JSON.stringify(reason))}; ${usage}`;
  }
  if (action !== "promote") return reason === undefined ? {} : { reason };
  if (typeof region !== "string") return `region must be a string, got ${region === undefined ? "nothing" : cut(JSON.stringify(region))}; ${usage}`;
  return reason === undefined ? { region } : { region, reason };
}
