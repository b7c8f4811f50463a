/** Fetches the origin with a deadline and classifies what went wrong (RFC 5861's "error": 500, 502, 503, 504). */
import type { OriginRegion } from "../config.ts";
import { HOP_BY_HOP } from "../scrub/headers.ts";
import { OriginWatch, type WatchDeadlines } from "./watch.ts";

export type OriginResult =
  | {
      kind: "response";
      /** The origin's answer as it arrived: headers to decide on, a body not yet guarded. */
      response: Response;
      failure: "http_5xx" | undefined;
      ms: number;
      /**
       * The body under its stall guard; call once. `watched` for a body that will be tee'd for the
       * store: a tee of a native stream can end a branch cleanly when the origin breaks off, so a
       * stored-and-streamed body goes through the JavaScript watchdog, which errors both.
       */
      body(watched: boolean): ReadableStream<Uint8Array> | null;
    }
  | { kind: "failure"; failure: "timeout" | "connection"; message: string; ms: number };

/** RFC 8586: marks requests we forwarded, so an origin that points back at us is caught, not looped. */
export const CDN_LOOP_TOKEN = "edge-fallback";

const FAILURE_STATUSES = new Set([500, 502, 503, 504]);

/** The origin's URL for an incoming one: its path prefix, then the incoming path and query. */
export function upstreamUrl(origin: OriginRegion, incoming: URL): string {
  const path = origin.url.pathname;
  const base = path.endsWith("/") ? path.slice(0, -1) : path;
  return `${origin.url.origin}${base}${incoming.pathname}${incoming.search}`;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Deletes the connection-specific headers (RFC 9110 §7.6.1): the fixed hop-by-hop set and every
 * header the Connection header names (a name that is not a token names nothing).
 */
function stripConnectionHeaders(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection) {
    for (const part of connection.split(",")) {
      const name = part.trim();
      if (TOKEN.test(name)) headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

/**
 * The request's headers minus connection-specific ones (RFC 9110 §7.6.1) and Host, plus ours.
 * The forwarding headers the edge owns (X-Forwarded-Host, -Proto, -For) are overwritten, never
 * passed on from the client; other steering headers are passed on, and src/scrub/policy.ts keeps
 * the answer to a request carrying one out of the store instead (see README, Privacy).
 */
export function forwardHeaders(request: Request, incoming: URL): Headers {
  // One native copy, then a few deletes: cheaper than re-adding every header from JavaScript.
  const headers = new Headers(request.headers);
  stripConnectionHeaders(headers);
  headers.delete("host");
  const loop = headers.get("cdn-loop");
  headers.set("cdn-loop", loop ? `${loop}, ${CDN_LOOP_TOKEN}` : CDN_LOOP_TOKEN);
  headers.set("x-forwarded-host", incoming.host);
  headers.set("x-forwarded-proto", incoming.protocol === "https:" ? "https" : incoming.protocol.replace(":", ""));
  // Ours, not the client's: a client-chosen X-Forwarded-For reflected into an answer would be
  // stored for everyone. The one address we know (Cloudflare's CF-Connecting-IP) replaces it.
  const client = headers.get("cf-connecting-ip");
  if (client) headers.set("x-forwarded-for", client);
  else headers.delete("x-forwarded-for");
  return headers;
}

/**
 * Fetches the origin. Each of `deadlines` signals once if no headers arrived by then (judged on
 * the time the origin had: see OriginWatch); the request still runs to its own timeout.
 */
export async function fetchOrigin(request: Request, incoming: URL, origin: OriginRegion, timeoutMs: number, deadlines?: WatchDeadlines): Promise<OriginResult> {
  // Wall time: this measures latency, which an injected test clock would hide.
  const now = Date.now;
  const started = now();
  const controller = new AbortController();
  const watch = new OriginWatch(started, timeoutMs, controller, deadlines);
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  try {
    const response = await fetch(upstreamUrl(origin, incoming), {
      method: request.method,
      headers: forwardHeaders(request, incoming),
      body: hasBody ? request.body : null,
      redirect: "manual",
      // Through the zone cache the breaker would see cached statuses, not the origin's.
      cache: "no-store",
      signal: controller.signal,
    });
    watch.headersArrived();
    const raw = response.body;
    if (!raw) watch.done();
    return {
      kind: "response",
      response,
      failure: FAILURE_STATUSES.has(response.status) ? "http_5xx" : undefined,
      ms: now() - started,
      body: (watched) => (raw ? guardBody(raw, watched ? undefined : declaredLength(response.headers), timeoutMs, controller, watch) : null),
    };
  } catch (err) {
    watch.done();
    const timedOut = controller.signal.aborted;
    return {
      kind: "failure",
      failure: timedOut ? "timeout" : "connection",
      message: timedOut ? `no answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err),
      ms: now() - started,
    };
  }
}

/** The origin's answer passed on with `body`: mutable headers, connection-specific ones gone. */
export function passOn(response: Response, body: ReadableStream<Uint8Array> | null): Response {
  const out = new Response(body, response);
  stripConnectionHeaders(out.headers);
  return out;
}

/**
 * Bodies of a known length up to this size go to the client untouched, under one deadline for
 * the whole body. They arrive in a few packets right after the headers and fit in the socket
 * buffers between us and any client, so a client that reads slowly cannot hold them back: all of
 * such a body not arriving within the idle window is a stalled origin by the same rule as below.
 */
export const NATIVE_PIPE_MAX_BYTES = 64 * 1024;

function declaredLength(headers: Headers): number | undefined {
  const raw = headers.get("content-length");
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * Headers can arrive and the body then stall forever: abort the upstream fetch when the body
 * stops for `idleMs`, so the client sees a broken body instead of a hang.
 *
 * Most bodies are small and declare their length: those are passed on as they are, and the
 * request's one timer aborts the fetch at the deadline. Nothing tells the timer that such a body
 * ended, and nothing needs to: aborting a fetch whose body was delivered does nothing, and the
 * timer was armed for the headers anyway. A pipe to learn the end cost about
 * a tenth of a bare pass-through worker's CPU, and the JS pump below about a sixth. Longer or
 * unannounced bodies, where a slow-reading client and a stalled origin look alike from a
 * deadline, keep the per-read watchdog. A body cut short fails on its own: the runtime errors a
 * stream that ends before its Content-Length.
 */
function guardBody(body: ReadableStream<Uint8Array>, length: number | undefined, idleMs: number, controller: AbortController, watch: OriginWatch): ReadableStream<Uint8Array> {
  if (length === undefined || length > NATIVE_PIPE_MAX_BYTES) {
    watch.done();
    return watchedBody(body, idleMs, controller);
  }
  watch.bodyUnder(idleMs);
  return body;
}

/**
 * Abort the upstream fetch when no chunk arrives for `idleMs`.
 *
 * One watchdog timer per body, not one per chunk: each read only notes when it began waiting,
 * and the timer, when it fires, re-arms for whatever is left of the idle window. A timer, a promise
 * and a race per chunk cost several per cent of the worker's CPU on the healthy path.
 */
function watchedBody(body: ReadableStream<Uint8Array>, idleMs: number, controller: AbortController): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  /** When the pending read began; undefined while no read waits (a slow client is not a stalled origin). */
  let waitingSince: number | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (watchdog !== undefined) clearTimeout(watchdog);
    watchdog = undefined;
  };
  const arm = (ms: number) => {
    watchdog = setTimeout(() => {
      const waited = waitingSince === undefined ? 0 : Date.now() - waitingSince;
      if (waited < idleMs) return arm(idleMs - waited);
      watchdog = undefined;
      // Aborting the fetch errors the pending read below, which errors the client's stream.
      controller.abort(new DOMException(`origin body stalled for ${idleMs} ms`, "TimeoutError"));
    }, ms);
  };
  return new ReadableStream<Uint8Array>({
    start() {
      arm(idleMs);
    },
    async pull(out) {
      waitingSince = Date.now();
      try {
        const { done, value } = await reader.read();
        waitingSince = undefined;
        if (done) {
          stop();
          out.close();
        } else out.enqueue(value);
      } catch (err) {
        stop();
        out.error(controller.signal.aborted ? controller.signal.reason : err);
        reader.cancel(err).catch(() => {});
      }
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  });
}
