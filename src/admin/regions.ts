/** The operators' regions routes: the fleet's routing controls and this isolate's view, and evacuate / drain / shed / restore. */
import { Hono, type Context } from "hono";
import type { Clock } from "../clock.ts";
import type { Env } from "../env.ts";
import { jsonError } from "../lkg/respond.ts";
import type { RoutingLink } from "../routing/link.ts";
import { ADMIN_ACTIONS, controlOf, type AdminAction, type RoutingEvent } from "../routing/state.ts";
import type { RegionControl, RoutingSnapshot } from "../routing/types.ts";
import type { RoutingView } from "../routing/view.ts";
import { checkAdmin } from "./auth.ts";
import { cut, jsonFields, MAX_BODY_BYTES, readBody, refused, short } from "./body.ts";

/** This isolate's own reading of one region, from its per-region runtime object. */
export interface RegionReading {
  /** Breaker closed and hysteresis says it is in. */
  usable: boolean;
  /** Smoothed answer time (latency mode), undefined before the first sample. */
  latencyMs: number | undefined;
}

/** What the regions routes need, found on `c.get("runtime")`. */
export interface RegionsDeps {
  routing: {
    view: RoutingView;
    link: RoutingLink;
    /** Configured region names, in ORIGINS order. */
    regions: readonly string[];
    reading: (region: string) => RegionReading;
    clock: Clock;
  };
}

type RegionsEnv = { Bindings: Env; Variables: { runtime: RegionsDeps } };

const NO_STORE = { "cache-control": "no-store" };

export function regionsRoutes(): Hono<RegionsEnv> {
  const routes = new Hono<RegionsEnv>();

  routes.get("/", async (c) => {
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const { view, link, regions, reading, clock } = c.get("runtime").routing;
    let fleet: RoutingSnapshot | undefined;
    let objectError: string | null = null;
    try {
      fleet = await link.snapshot();
    } catch (err) {
      objectError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const now = clock.now();
    return c.json(
      {
        fleet: fleet ? { generation: fleet.generation, regions: regions.map((name) => ({ name, control: controlJson(controlOf(fleet, name)) })) } : null,
        objectError,
        isolate: {
          generation: view.generation,
          calls: view.calls,
          lastError: view.lastError ?? null,
          regions: regions.map((name) => {
            const { usable, latencyMs } = reading(name);
            return { name, usable, rampPercent: view.rampPercent(name, now), latencyMs: latencyMs ?? null, control: controlJson(view.control(name)) };
          }),
        },
      },
      200,
      NO_STORE,
    );
  });

  routes.post("/:region/:action", async (c) => {
    // The token first: nothing about regions, actions or bodies is revealed or read without it.
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const { view, link, regions } = c.get("runtime").routing;
    const region = c.req.param("region");
    const action = c.req.param("action");
    if (!regions.includes(region)) return jsonError(404, `unknown region ${short(region)}`, { regions });
    if (!isAdminAction(action)) return jsonError(400, `unknown action ${short(action)}: use ${ADMIN_ACTIONS.join(", ")}`);
    const force = readForce(c);
    if (typeof force === "string") return jsonError(400, force);
    const body = await readBody(c.req.raw);
    if (body.kind === "too-large") return jsonError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    const fields = parseFields(action, body.text);
    if (typeof fields === "string") return jsonError(400, fields);

    const event = toEvent(action, region, [...regions], force, fields.percent);
    const outcome = await view.admin(link, event);
    if (outcome.kind === "unreachable") {
      // A call that timed out may still land; one that failed outright changed nothing.
      const error = outcome.timedOut
        ? "routing object did not answer in time; the change may or may not have been made: GET /__edge/admin/regions shows the fleet's state"
        : "routing object unreachable; nothing was changed";
      return jsonError(503, error, { detail: outcome.error }, { "retry-after": "5" });
    }
    const { applied } = outcome;
    if (applied.invalid) return jsonError(400, applied.invalid);
    if (applied.refused) return jsonError(409, applied.refused, { region, action, generation: applied.snapshot.generation });
    return c.json({ region, action, control: controlJson(controlOf(applied.snapshot, region)), generation: applied.snapshot.generation }, 200, NO_STORE);
  });

  return routes;
}

/** A control as JSON: fields that are unset in memory read as null / false, so every answer has the same keys. */
function controlJson(control: RegionControl) {
  return {
    admin: control.admin,
    shedPercent: control.shedPercent,
    rampStartedAt: control.rampStartedAt ?? null,
    rampStep: control.rampStep ?? null,
    held: control.held ?? false,
    reason: control.reason,
    changedAt: control.changedAt,
  };
}

function isAdminAction(action: string): action is AdminAction {
  return (ADMIN_ACTIONS as readonly string[]).includes(action);
}

/** `?force=1` and nothing else: a stray parameter is more likely a typo than something to ignore. */
function readForce(c: Context): boolean | string {
  const url = new URL(c.req.url);
  let force = false;
  for (const [name, value] of url.searchParams) {
    if (name !== "force") return `unknown query parameter ${short(name)}: only force=1 is accepted`;
    if (value !== "1") return `force must be 1, got ${short(value)}`;
    force = true;
  }
  return force;
}

/** `shed` takes exactly `{"percent": 0..100}`; the others an empty body or `{}`. */
function parseFields(action: AdminAction, text: string): { percent?: number } | string {
  const usage = action === "shed" ? 'shed takes a JSON body {"percent": <integer 0..100>}' : `${action} takes no body (or {})`;
  if (text.trim() === "") return action === "shed" ? usage : {};
  const parsed = jsonFields(text, action === "shed" ? ["percent"] : [], usage);
  if (typeof parsed === "string") return parsed;
  if (action !== "shed") return {};
  const { percent } = parsed as { percent?: unknown };
  if (typeof percent !== "number" || !Number.isInteger(percent) || percent < 0 || percent > 100) return `percent must be an integer 0..100, got ${percent === undefined ? "nothing" : cut(JSON.stringify(percent))}; ${usage}`;
  return { percent };
}

function toEvent(action: AdminAction, region: string, configured: string[], force: boolean, percent: number | undefined): RoutingEvent {
  switch (action) {
    case "evacuate":
    case "drain":
      return { type: action, region, configured, force };
    case "shed":
      return { type: "shed", region, percent: percent!, configured, force };
    case "restore":
      return { type: "restore", region };
  }
}
