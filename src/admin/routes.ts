/** A public status for everyone; the full health page and breaker overrides for operators holding the admin secret. */
import { Hono } from "hono";
import { objectLink } from "../breaker/link.ts";
import type { ForceAction } from "../breaker/protocol.ts";
import type { Env } from "../env.ts";
import { jsonError } from "../lkg/respond.ts";
import type { Runtime } from "../runtime.ts";
import { checkAdmin, type AdminAuth } from "./auth.ts";
import { fullHealth, publicHealth } from "./health.ts";
import { regionsRoutes } from "./regions.ts";
import { writesRoutes } from "./writes.ts";
import { statusRoutes } from "../writes/status-route.ts";
import { deadLetterRoutes } from "./writes-dead.ts";

export type EdgeVariables = { runtime: Runtime };

/** Every route under /__edge, listed in the 404 answer. */
const ROUTES = [
  "GET /__edge/health",
  "POST /__edge/admin/breakers/:origin/(open|close|reset)",
  "GET /__edge/admin/regions",
  "POST /__edge/admin/regions/:region/(evacuate|drain|shed|restore)",
  "GET /__edge/admin/writes",
  "POST /__edge/admin/writes/(promote|freeze|unfreeze)",
  "GET /__edge/admin/writes/dead",
  "POST /__edge/admin/writes/dead/replay",
  "GET /__edge/writes/:id",
];

/** Health answers say what is true now; no cache between a monitor and the edge may keep one. */
const NO_STORE = { "cache-control": "no-store" };

function refused(auth: Extract<AdminAuth, { ok: false }>): Response {
  return jsonError(auth.status, auth.reason, {}, auth.status === 401 ? { "www-authenticate": 'Bearer realm="edge-fallback admin"' } : {});
}

export function adminRoutes(): Hono<{ Bindings: Env; Variables: EdgeVariables }> {
  const routes = new Hono<{ Bindings: Env; Variables: EdgeVariables }>();

  routes.get("/health", async (c) => {
    const runtime = c.get("runtime");
    // No credentials: the public status. Credentials that fail are refused, not quietly downgraded,
    // so an operator's monitor with a stale token notices.
    const authorization = c.req.header("authorization");
    if (authorization === undefined) return c.json(publicHealth(runtime), 200, NO_STORE);
    const auth = await checkAdmin(authorization, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    return c.json(await fullHealth(runtime, c.env), 200, NO_STORE);
  });

  routes.post("/admin/breakers/:origin/:action", async (c) => {
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) return refused(auth);
    const runtime = c.get("runtime");
    const name = c.req.param("origin");
    const action = c.req.param("action");
    const view = runtime.regions.get(name)?.view;
    if (!view) return jsonError(404, `unknown origin ${JSON.stringify(name)}`, { origins: [...runtime.regions.keys()] });
    if (action !== "open" && action !== "close" && action !== "reset") {
      return jsonError(400, `unknown action ${JSON.stringify(action)}: use open, close or reset`);
    }
    try {
      const snapshot = await objectLink(c.env.BREAKER, runtime.config.breaker.objectTimeoutMs).force(name, action satisfies ForceAction);
      view.adopt(snapshot);
      return c.json({ origin: name, action, state: snapshot.state });
    } catch (err) {
      return jsonError(503, "breaker object unreachable; nothing was changed", { detail: err instanceof Error ? err.message : String(err) });
    }
  });

  // The runtime carries what the regions routes read (RegionsDeps: runtime.routing).
  routes.route("/admin/regions", regionsRoutes());
  // Dead letters first: their paths sit under the lease routes' prefix.
  routes.route("/admin/writes/dead", deadLetterRoutes());
  // The writer lease and the write queue (WritesDeps: runtime.routing, runtime.config, runtime.backlog).
  routes.route("/admin/writes", writesRoutes());
  // A queued write's status resource: public, the unguessable id is the capability.
  routes.route("/writes", statusRoutes());

  routes.all("*", (c) => jsonError(404, `no such edge route ${c.req.method} ${new URL(c.req.url).pathname}`, { routes: ROUTES }));

  return routes;
}
