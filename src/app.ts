/** The worker's entry: reserved edge routes (Hono), request sanity checks, then the fallback proxy for everything else. */
import { Hono } from "hono";
import { adminRoutes, type EdgeVariables } from "./admin/routes.ts";
import type { Env } from "./env.ts";
import { jsonError } from "./lkg/respond.ts";
import { CDN_LOOP_TOKEN } from "./origin/client.ts";
import { handle } from "./request/handle.ts";
import { recordRejected } from "./request/record.ts";
import { MAX_DECODE_ROUNDS, matchReserved, type ReservedMatch } from "./reserved-path.ts";
import { Runtimes, type Deps, type Runtime } from "./runtime.ts";

/** Longest URL we forward; longer ones are refused before they cost an origin request. */
export const MAX_URL_LENGTH = 16 * 1024;
const REFUSED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export interface EdgeApp {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response>;
}

/**
 * Requests under /__edge, spelled exactly, go through Hono's router; any other spelling of the
 * reserved namespace is refused, never proxied (it would hand the admin token to the origin). Every
 * other request, the proxied path that carries all the traffic, goes straight to the proxy with the
 * same configuration gate and refusals, so it does not pay for routing it never needs.
 */
export function createApp(deps: Deps): EdgeApp {
  const runtimes = new Runtimes(deps);
  const edge = new Hono<{ Bindings: Env; Variables: EdgeVariables }>();

  edge.use("*", async (c, next) => {
    const gate = admit(runtimes, c.env);
    if (gate instanceof Response) return gate;
    c.set("runtime", gate);
    await next();
  });
  edge.route("/__edge", adminRoutes());
  edge.onError((err) => internalError(err));

  return {
    async fetch(request, env, ctx) {
      const url = new URL(request.url);
      const reserved = matchReserved(url.pathname);
      if (reserved === "canonical") return edge.fetch(request, env, ctx);
      try {
        const runtime = admit(runtimes, env);
        if (runtime instanceof Response) return runtime;
        const refusal = refuse(request) ?? refuseReserved(reserved, url.pathname);
        if (refusal) {
          recordRejected(request, env, runtime, refusal);
          return refusal;
        }
        return await handle(request, url, env, ctx, runtime, deps.clock);
      } catch (err) {
        return internalError(err);
      }
    },
  };
}

/** The runtime for a valid configuration; otherwise the answer every request gets until it is fixed. */
function admit(runtimes: Runtimes, env: Env): Runtime | Response {
  const resolved = runtimes.resolve(env);
  // Never proxy on silent defaults: every request says what is wrong until the config is fixed.
  if (!resolved.ok) return jsonError(500, "invalid configuration", { problems: resolved.problems });
  return runtimes.for(env, resolved.config, resolved.digest);
}

function internalError(err: unknown): Response {
  return jsonError(500, "internal error", { detail: err instanceof Error ? err.message : String(err) });
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

/** Another spelling of /__edge, or a path too deeply encoded to tell: answered here, never forwarded. */
function refuseReserved(reserved: ReservedMatch, pathname: string): Response | undefined {
  if (reserved === "spelling") {
    return jsonError(404, `${JSON.stringify(pathname)} reads as the reserved /__edge namespace once normalized (case, repeated or encoded slashes, percent-escapes, ';' parameters, '\\'); only its exact spelling /__edge/... is answered, and no spelling is forwarded to the origin`);
  }
  if (reserved === "too-deep") {
    return jsonError(400, `${JSON.stringify(pathname)} is still percent-encoded after ${MAX_DECODE_ROUNDS} rounds of decoding; it is not forwarded, since an origin decoding it further might read the reserved /__edge namespace`);
  }
  return undefined;
}
