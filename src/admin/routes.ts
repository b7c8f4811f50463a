/** Health for everyone, breaker overrides for operators holding the admin secret. */
import { Hono } from "hono";
import { objectLink } from "../breaker/link.ts";
import type { ForceAction } from "../breaker/protocol.ts";
import type { Env } from "../env.ts";
import { jsonError } from "../lkg/respond.ts";
import type { Runtime } from "../runtime.ts";
import { VERSION } from "../version.ts";
import { checkAdmin } from "./auth.ts";

export type EdgeVariables = { runtime: Runtime };

export function adminRoutes(): Hono<{ Bindings: Env; Variables: EdgeVariables }> {
  const routes = new Hono<{ Bindings: Env; Variables: EdgeVariables }>();

  routes.get("/health", async (c) => {
    const runtime = c.get("runtime");
    const { config } = runtime;
    const link = objectLink(c.env.BREAKER, config.breaker.objectTimeoutMs);
    const origins = await Promise.all(
      config.origins.map(async (origin, i) => {
        const view = runtime.views.get(origin.name)!;
        let object: unknown;
        try {
          object = (await link.snapshot(origin.name)).state;
        } catch (err) {
          object = { error: err instanceof Error ? err.message : String(err) };
        }
        return {
          name: origin.name,
          url: origin.url.href,
          weight: origin.weight,
          routed: i === 0,
          breaker: { isolate: view.state, object, objectCalls: view.calls, lastObjectError: view.objectError ?? null },
        };
      }),
    );
    return c.json({
      status: "ok",
      version: VERSION,
      configDigest: runtime.digest,
      origins,
      lkg: {
        tiers: config.lkg.tiers,
        maxAgeSeconds: config.lkg.maxAgeSeconds,
        memory: runtime.store.memoryStats() ?? null,
        counters: runtime.store.counters,
      },
      admin: c.env.ADMIN_TOKEN ? "enabled" : "disabled",
    });
  });

  routes.post("/admin/breakers/:origin/:action", async (c) => {
    const auth = await checkAdmin(c.req.header("authorization") ?? null, c.env.ADMIN_TOKEN);
    if (!auth.ok) {
      return jsonError(auth.status, auth.reason, {}, auth.status === 401 ? { "www-authenticate": 'Bearer realm="edge-fallback admin"' } : {});
    }
    const runtime = c.get("runtime");
    const name = c.req.param("origin");
    const action = c.req.param("action");
    const view = runtime.views.get(name);
    if (!view) return jsonError(404, `unknown origin ${JSON.stringify(name)}`, { origins: [...runtime.views.keys()] });
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

  routes.all("*", (c) => jsonError(404, `no such edge route ${c.req.method} ${new URL(c.req.url).pathname}`, { routes: ["GET /__edge/health", "POST /__edge/admin/breakers/:origin/(open|close|reset)"] }));

  return routes;
}
