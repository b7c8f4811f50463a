/**
 * A real HTTP origin on loopback whose behaviour is switched at run time, per scenario:
 * healthy, fixed status, blackhole, reset, truncated or stalled body, added latency, 5xx fraction.
 * Tests, the demo and the drills all use it. Requests under /s/<scenario>/ belong to that
 * scenario; everything else to "default". POST /__control/<scenario> sets the behaviour,
 * GET /__control/<scenario> returns what it received. Started as a named region (the drills'
 * several regions), every answer carries `x-fake-region: <name>`, so a drill can tell which
 * region produced a body, a copy included, apart from what the edge says (`x-edge-region`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { profileProblems, sampleDelay, type LatencyProfile } from "./latency-profile.ts";
import { WRITE_METHODS, WriteLog } from "./write-log.ts";

export type Mode =
  | { mode: "healthy" }
  | { mode: "status"; status: number }
  | { mode: "blackhole" }
  | { mode: "reset" }
  | { mode: "truncate" }
  | { mode: "stall-body" }
  | { mode: "flaky"; failRate: number; status?: number };

export interface Behaviour {
  /** The origin's network distance: a delay drawn per answer, before any added latency. */
  profile?: LatencyProfile;
  /** Added before answering, in ms (plus up to `jitterMs`). */
  latencyMs?: number;
  jitterMs?: number;
  /** Extra response headers, e.g. {"cache-control": "private"} or {"set-cookie": "sid=1"}. */
  headers?: Record<string, string>;
  /** Body size in bytes for healthy answers (padding added to the JSON). */
  bodyBytes?: number;
  /** Stamped into every answer so readers can tell versions apart. */
  version?: string;
  /** Send the body with chunked transfer encoding, without Content-Length. */
  chunked?: boolean;
  /**
   * Leave the per-answer stamps (seq, servedAt) out of the body, so the same path answers the same
   * bytes every time, as a static page or an API read does; the stamp headers stay.
   */
  stableBody?: boolean;
  /**
   * Request headers copied into the body as `reflected: {name: value}`, as an origin does that
   * builds links from X-Forwarded-Prefix or echoes a header: what a poisoned copy would carry.
   */
  reflect?: string[];
  /**
   * Send the body pre-encoded and labelled with this Content-Encoding, codings listed in the order
   * applied (`"gzip, br"`: gzip first, then brotli). gzip, x-gzip, deflate, br and zstd are real
   * (node:zlib); identity leaves the bytes; any other name (`x-custom`) inverts every byte, an
   * encoding no client or runtime can undo by accident.
   */
  encoding?: string;
}

type Setting = Mode & Behaviour;

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

interface ScenarioState {
  setting: Setting;
  /** The setting as answers apply it: with the region's header when the origin is named. */
  served: Setting;
  seq: number;
  /** The latest requests in detail (bounded), for tests. */
  requests: Seen[];
  /** Requests received per epoch second, for drills counting what reached the origin. */
  perSecond: Map<number, number>;
  total: number;
}

export interface FakeOrigin {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export interface FakeOriginOptions {
  /** The region this origin plays: named in `x-fake-region` on every answer (none when unset). */
  region?: string;
  /**
   * Take writes as an origin with Idempotency-Key support (the write drills): a POST/PUT/PATCH/
   * DELETE answered in full is applied once per key (201, JSON echoing the key; a repeated key
   * gets the stored answer with `x-origin-replayed: true`), and every one is logged. GET
   * /__writes answers the log, POST /__writes/reset forgets it. A write the origin does not answer
   * in full (blackhole, reset, a fixed status, a flaked answer, a truncated or stalled body) is
   * neither applied nor logged: it never reached the origin's store.
   */
  writes?: boolean;
}

export async function startFakeOrigin(port = 0, host = "127.0.0.1", options: FakeOriginOptions = {}): Promise<FakeOrigin> {
  // Precomputed: merged into every answer's headers, empty for an unnamed origin.
  const regionHeader: Record<string, string> = options.region ? { "x-fake-region": options.region } : {};
  const withRegion = (setting: Setting): Setting => (options.region ? { ...setting, headers: { ...regionHeader, ...setting.headers } } : setting);
  const scenarios = new Map<string, ScenarioState>();
  const writeLog = options.writes ? new WriteLog(options.region ?? "") : undefined;
  const sockets = new Set<Socket>();
  const state = (name: string): ScenarioState => {
    let s = scenarios.get(name);
    if (!s) {
      s = { setting: { mode: "healthy" }, served: withRegion({ mode: "healthy" }), seq: 0, requests: [], perSecond: new Map(), total: 0 };
      scenarios.set(name, s);
    }
    return s;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`fake origin error: ${String(err)}`);
    });
  });
  server.keepAliveTimeout = 5000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://origin.local");
    const control = /^\/__control\/([\w-]+)$/.exec(url.pathname);
    if (control) return handleControl(control[1]!, req, res);
    if (url.pathname === "/__echo-headers") return echoHeaders(req, res);
    if (writeLog && url.pathname === "/__writes" && req.method === "GET") return sendJson(res, 200, { region: options.region ?? "", writes: writeLog.entries, dropped: writeLog.dropped });
    if (writeLog && url.pathname === "/__writes/reset" && req.method === "POST") {
      writeLog.reset();
      return sendJson(res, 200, { reset: true });
    }

    const match = /^\/s\/([\w-]+)(\/.*)?$/.exec(url.pathname);
    const name = match ? match[1]! : "default";
    const s = state(name);
    const at = Date.now();
    s.total++;
    const second = Math.floor(at / 1000);
    s.perSecond.set(second, (s.perSecond.get(second) ?? 0) + 1);
    s.requests.push({ method: req.method ?? "GET", path: url.pathname + url.search, headers: req.headers, at });
    if (s.requests.length > 2_000) s.requests.splice(0, 1_000);
    const body = await readBody(req);
    const setting = s.served;

    const delay = (setting.profile ? sampleDelay(setting.profile) : 0) + (setting.latencyMs ?? 0) + Math.random() * (setting.jitterMs ?? 0);
    if (delay > 0) await sleep(delay);

    switch (setting.mode) {
      case "blackhole":
        return; // Accept, never answer: the socket stays open until the client gives up.
      case "reset":
        req.socket.destroy();
        return;
      case "status":
        return sendJson(res, setting.status, { error: `fake origin answers ${setting.status}`, scenario: name }, setting);
      case "flaky":
        if (Math.random() < setting.failRate) {
          return sendJson(res, setting.status ?? 503, { error: "fake origin flaked", scenario: name }, setting);
        }
        break;
      case "truncate": {
        const payload = JSON.stringify(answer(name, s, url, req, body, setting));
        res.writeHead(200, { "content-type": "application/json", "content-length": String(payload.length * 2), ...setting.headers });
        res.write(payload);
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      case "stall-body": {
        res.writeHead(200, { "content-type": "application/json", ...setting.headers });
        res.write('{"partial":');
        return; // Headers and a first chunk, then silence.
      }
      case "healthy":
        break;
    }
    if (writeLog && WRITE_METHODS.has(req.method ?? "")) {
      const taken = writeLog.take(req.method!, url.pathname + url.search, req.headers, body, userOf(req, url), at);
      return sendJson(res, taken.status, taken.body, { ...setting, headers: { ...setting.headers, ...(taken.replayed ? { "x-origin-replayed": "true" } : {}) } });
    }
    sendJson(res, 200, answer(name, s, url, req, body, setting), setting);
  }

  function handleControl(name: string, req: IncomingMessage, res: ServerResponse): void {
    const s = state(name);
    if (req.method === "GET") {
      const full = new URL(req.url ?? "/", "http://origin.local").searchParams.get("detail") !== "0";
      sendJson(res, 200, {
        scenario: name,
        setting: s.setting,
        count: s.total,
        perSecond: Object.fromEntries(s.perSecond),
        requests: full ? s.requests : [],
      });
      return;
    }
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      try {
        const setting = JSON.parse(raw || "{}") as Setting;
        const problem = validate(setting);
        if (problem) return sendJson(res, 400, { error: problem });
        s.setting = setting;
        s.served = withRegion(setting);
        if ((setting as { clearLog?: boolean }).clearLog) s.requests = [];
        sendJson(res, 200, { scenario: name, setting });
      } catch (err) {
        sendJson(res, 400, { error: `body must be JSON: ${String(err)}` });
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const MODES = new Set(["healthy", "status", "blackhole", "reset", "truncate", "stall-body", "flaky"]);

function validate(setting: Setting): string | undefined {
  if (!MODES.has(setting.mode)) return `mode must be one of ${[...MODES].join(", ")}, got ${JSON.stringify(setting.mode)}`;
  if (setting.mode === "status" && !(Number.isInteger(setting.status) && setting.status >= 200 && setting.status <= 599)) {
    return `status must be 200-599, got ${JSON.stringify(setting.status)}`;
  }
  if (setting.mode === "flaky" && !(setting.failRate >= 0 && setting.failRate <= 1)) {
    return `failRate must be 0..1, got ${JSON.stringify(setting.failRate)}`;
  }
  if (setting.profile !== undefined) return profileProblems("profile", setting.profile)[0];
  return undefined;
}

/** Who asked, as far as the origin can tell: the marker that privacy checks look for. */
function userOf(req: IncomingMessage, url: URL): string {
  const auth = req.headers.authorization;
  if (auth) return `auth:${auth.replace(/^Bearer\s+/i, "")}`;
  const cookie = req.headers.cookie;
  const sid = cookie ? /(?:^|;\s*)sid=([^;]+)/.exec(cookie)?.[1] : undefined;
  if (sid) return `cookie:${sid}`;
  const token = url.searchParams.get("token") ?? url.searchParams.get("access_token");
  if (token) return `query:${token}`;
  return "anonymous";
}

function answer(name: string, s: ScenarioState, url: URL, req: IncomingMessage, body: string, setting: Setting): Record<string, unknown> {
  s.seq++;
  const out: Record<string, unknown> = {
    scenario: name,
    path: url.pathname + url.search,
    method: req.method,
    seq: s.seq,
    version: setting.version ?? "v1",
    user: userOf(req, url),
    servedAt: Date.now(),
  };
  if (body) out["echo"] = body;
  if (setting.reflect) out["reflected"] = Object.fromEntries(setting.reflect.map((name) => [name, req.headers[name.toLowerCase()] ?? null]));
  if (setting.bodyBytes) out["pad"] = "x".repeat(setting.bodyBytes);
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown, setting?: Behaviour): void {
  const stamp = typeof body === "object" && body !== null ? (body as { user?: string; servedAt?: number; seq?: number }) : {};
  const json = JSON.stringify(setting?.stableBody && stamp.servedAt ? { ...stamp, seq: undefined, servedAt: undefined } : body);
  const payload = setting?.encoding ? encode(Buffer.from(json), setting.encoding) : Buffer.from(json);
  res.writeHead(status, {
    "content-type": "application/json",
    // Readers (drills) check privacy and freshness from headers without parsing bodies.
    ...(stamp.servedAt ? { "x-origin-served-at": String(stamp.servedAt), "x-origin-seq": String(stamp.seq) } : {}),
    ...(setting?.chunked ? {} : { "content-length": String(payload.byteLength) }),
    ...(setting?.encoding ? { "content-encoding": setting.encoding } : {}),
    ...(stamp.user ? { "x-origin-user": stamp.user } : {}),
    ...setting?.headers,
  });
  res.end(payload);
}

/** Applies the codings of a Content-Encoding value in the order listed. */
export function encode(bytes: Buffer, contentEncoding: string): Buffer {
  let out = bytes;
  for (const coding of contentEncoding.split(",").map((c) => c.trim().toLowerCase())) {
    if (coding === "gzip" || coding === "x-gzip") out = gzipSync(out);
    else if (coding === "deflate") out = deflateSync(out);
    else if (coding === "br") out = brotliCompressSync(out);
    else if (coding === "zstd") out = zstdCompressSync(out);
    else if (coding !== "identity" && coding !== "") out = Buffer.from(out.map((b) => 255 - b));
  }
  return out;
}

/**
 * GET /__echo-headers answers the request's headers as the bytes arrived, one character per byte
 * (latin1), lower-cased names in arrival order. A worker test sends a Response's Headers object here
 * unchanged to see the bytes a client would get, which JavaScript cannot show: workerd decodes
 * header values as UTF-8 and replaces a byte that is not valid UTF-8 with U+FFFD.
 */
function echoHeaders(req: IncomingMessage, res: ServerResponse): void {
  const headers: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
  const payload = JSON.stringify({ headers });
  res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) });
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => resolve(raw));
    req.on("error", () => resolve(raw));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
