/** The Hono app: reserved edge routes, request sanity checks, then the fallback proxy for everything else. */
import { Hono } from "hono";
import { adminRoutes, type EdgeVariables } from "./admin/routes.ts";
import type { Env } from "./env.ts";
import { jsonError } from "./lkg/respond.ts";
import { CDN_LOOP_TOKEN } from "./origin/client.ts";
import { proxy, recordRejected } from "./proxy.ts";
import { Runtimes, type Deps } from "./runtime.ts";

/** Longest URL we forward; longer ones are refused before they cost an origin request. */
export const MAX_URL_LENGTH = 16 * 1024;
const REFUSED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export function createApp(deps: Deps): Hono<{ Bindings: Env; Variables: EdgeVariables }> {
  const runtimes = new Runtimes(deps);
  const app = new Hono<{ Bindings: Env; Variables: EdgeVariables }>();

  app.use("*", async (c, next) => {
    const resolved = runtimes.resolve(c.env);
    if (!resolved.ok) {
      // Never proxy on silent defaults: every request says what is wrong until the config is fixed.
      return jsonError(500, "invalid configuration", { problems: resolved.problems });
    }
    c.set("runtime", runtimes.for(c.env, resolved.config, resolved.digest));
    await next();
  });

  app.route("/__edge", adminRoutes());

  app.all("*", (c) => {
    const request = c.req.raw;
    const ctx = c.executionCtx as ExecutionContext;
    const refusal = refuse(request);
    if (refusal) {
      recordRejected(request, c.env, c.get("runtime"), refusal);
      return refusal;
    }
    return proxy(request, new URL(request.url), c.env, ctx, c.get("runtime"), deps.clock);
  });

  app.onError((err) => jsonError(500, "internal error", { detail: err.message }));
  return app;
}

/** Requests that must not reach the origin, each with a 4xx/5xx that says why. */
function refuse(request: Request): Response | undefined {
  if (REFUSED_METHODS.has(request.method)) {
    return jsonError(405, `method ${request.method} is not proxied`, {}, { allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" });
  }
  if (request.url.length > MAX_URL_LENGTH) {
    return jsonError(414, `URL is ${request.url.length} characters; at most ${MAX_URL_LENGTH} are forwarded`);
  }
  const loop = request.headers.get("cdn-loop") ?? "";
  if (loop.split(",").some((token) => token.trim().split(";", 1)[0] === CDN_LOOP_TOKEN)) {
    return jsonError(508, "request loop: it already passed through this worker; ORIGINS must not point back at the worker");
  }
  const length = request.headers.get("content-length");
  if (length !== null && !/^\d+$/.test(length)) {
    return jsonError(400, `Content-Length must be a whole number, got ${JSON.stringify(length)}`);
  }
  return undefined;
}
