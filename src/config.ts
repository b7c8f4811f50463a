/** Raw `[vars]` and bindings -> one validated, resolved configuration, or every problem at once. */
import { readRouting } from "./config/routing.ts";
import { readWrites } from "./config/writes.ts";
import type { WritesConfig } from "./writes/types.ts";
import type { RegionConfig, RoutingPolicy } from "./routing/types.ts";
import { headerKey } from "./scrub/names.ts";

/** The older name of a region's configuration, kept so the single-origin code reads as before. */
export type OriginRegion = RegionConfig;

/**
 * What signs the region assignments clients carry: STICKY_SECRET, or else ADMIN_TOKEN, from which
 * sticky.ts derives a key (an HMAC of a fixed label) so the admin token itself never signs cookies.
 */
export interface StickySecret {
  source: "STICKY_SECRET" | "WRITE_SECRET" | "ADMIN_TOKEN";
  secret: string;
}

export type LkgTier = "memory" | "cache" | "kv";

export interface Config {
  /** In ORIGINS order; exactly one is home. */
  origins: RegionConfig[];
  routing: RoutingPolicy;
  /** How often an isolate re-reads the fleet routing object in the background. */
  routingSyncMs: number;
  /** Undefined when no assignment is ever issued: one region, or stick_seconds 0. */
  stickySecret: StickySecret | undefined;
  /** WRITES: write and webhook routes, the writer and the limits; undefined when no write is ever queued. */
  writes: WritesConfig | undefined;
  /** Seals the credentials of queued writes (WRITE_SECRET, else derived from ADMIN_TOKEN); undefined without WRITES. */
  writeSecret: StickySecret | undefined;
  originTimeoutMs: number;
  /**
   * When a request that has a stored copy is answered from it because the origin is slow, and
   * counted as a failure: "auto" (from recent origin latency), "off", or a fixed number of ms.
   */
  originSlow: { kind: "auto" } | { kind: "off" } | { kind: "fixed"; ms: number };
  /**
   * How long a request whose isolate memory holds a copy it could be served waits for the origin
   * before it is answered from that copy (at least the origin's recent p99); undefined: "off".
   * Not a failure: the origin is judged in the background as if the client had waited.
   */
  originCopyBudgetMs: number | undefined;
  /**
   * The active check that confirms a run of failures is about the origin before the breaker
   * opens, and that is the half-open probe. `path` undefined ("off"): any run of failures opens
   * the breaker and a client's request is the probe, as before the check existed.
   */
  health: { path: string | undefined; timeoutMs: number };
  /** Long-poll and streaming routes: never counted slow, their timeouts never counted as failures. */
  streamingRoutes: string[];
  breaker: {
    failureThreshold: number;
    openMs: number;
    openMaxMs: number;
    backoffMultiplier: number;
    /** How often an isolate that has seen trouble re-reads the object's state. */
    syncIntervalMs: number;
    /** Budget for one call to the breaker object before the isolate decides on its own. */
    objectTimeoutMs: number;
  };
  lkg: {
    maxAgeSeconds: number;
    tiers: LkgTier[];
    methods: string[];
    routes: string[];
    publicRoutes: string[];
    maxBodyBytes: number;
    memoryMaxBytes: number;
    kvWriteIntervalMs: number;
    cacheWriteIntervalMs: number;
    /** A healthy answer is captured only when the key's newest copy here is at least this old (0: every answer). */
    refreshMs: number;
    /** Requests for a key within SHARED_WINDOW_MS before it is written to the shared tiers (Cache API, KV). */
    sharedMinRequests: number;
    /** Response headers that change on every answer and so do not make a copy "changed" for the shared tiers. */
    volatileHeaders: string[];
    /** Most writes per second to each shared tier from one isolate. */
    sharedWritesPerSecond: number;
    /** Most keys this isolate holds no copy of yet that it stores per second, all tiers together. */
    newKeysPerSecond: number;
  };
  scrub: {
    /** Built-in plus configured, lower-case, `_` read as `-`. */
    sensitiveHeaders: string[];
    /** Request headers that make an answer unstorable (see DEFAULT_STEERING_HEADERS), lower-case, `_` read as `-`. */
    steeringHeaders: string[];
    secretQueryParams: string[];
    /** Cookie names that make a request credentialed; "*" means any cookie. */
    sessionCookies: string[];
  };
}

export type ConfigResult = { ok: true; config: Config; digest: string } | { ok: false; problems: string[] };

/** 30 s is the product's promise; configuration may lower it, never raise it. */
export const LKG_MAX_AGE_CAP_SECONDS = 30;

export const DEFAULTS = {
  ORIGIN_TIMEOUT_MS: 5000,
  ORIGIN_SLOW_MS: "auto",
  // Inside the 50 ms promise with room for the worker's own overhead; an origin whose p99 is
  // longer waits its p99 instead (src/origin/latency.ts: copyBudgetAfter).
  ORIGIN_COPY_BUDGET_MS: 35,
  ORIGIN_HEALTH_PATH: "/",
  ORIGIN_HEALTH_TIMEOUT_MS: 1000,
  ORIGIN_STREAMING_ROUTES: [] as string[],
  BREAKER_FAILURE_THRESHOLD: 5,
  // The probe is the worker's health check, one request per open period fleet-wide: cheap enough
  // to send every 1.5 s without backing off, so a healed origin is back within about 1.5 s. Not
  // shorter: each open period costs an isolate in trouble about two calls to the breaker object
  // (the probe lease, the probe's report), and one object serves the whole fleet.
  BREAKER_OPEN_MS: 1500,
  BREAKER_OPEN_MAX_MS: 1500,
  BREAKER_BACKOFF_MULTIPLIER: 2,
  BREAKER_SYNC_INTERVAL_MS: 1000,
  BREAKER_OBJECT_TIMEOUT_MS: 250,
  LKG_MAX_AGE_SECONDS: 30,
  LKG_TIERS: ["memory", "cache", "kv"] as LkgTier[],
  LKG_METHODS: ["GET", "HEAD"],
  LKG_ROUTES: ["/"],
  PUBLIC_ROUTES: [] as string[],
  LKG_MAX_BODY_BYTES: 1024 * 1024,
  LKG_MEMORY_MAX_BYTES: 32 * 1024 * 1024,
  LKG_KV_WRITE_INTERVAL_MS: 2000,
  LKG_CACHE_WRITE_INTERVAL_MS: 1000,
  LKG_REFRESH_MS: 1000,
  LKG_SHARED_MIN_REQUESTS: 4,
  LKG_VOLATILE_HEADERS: [] as string[],
  LKG_SHARED_WRITES_PER_SECOND: 10,
  LKG_NEW_KEYS_PER_SECOND: 50,
  SENSITIVE_HEADERS: [] as string[],
  SECRET_QUERY_PARAMS: [] as string[],
  SESSION_COOKIES: ["*"],
  ROUTING_SYNC_MS: 1000,
} as const;

/**
 * An assignment token is public (every client holds one) and its MAC can be checked offline
 * against guessed secrets: a short secret would be found, and with ADMIN_TOKEN as the source, the
 * admin token with it.
 */
export const STICKY_SECRET_MIN_LENGTH = 16;

/** Always treated as secret, whatever the configuration adds. */
export const BUILTIN_SECRET_QUERY_PARAMS = [
  "token",
  "access_token",
  "id_token",
  "refresh_token",
  "api_key",
  "apikey",
  "key",
  "sig",
  "signature",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "session",
  "sessionid",
  "code",
  "password",
];

/**
 * Request headers that carry a credential in common APIs and frameworks: always treated as
 * sensitive (a request carrying one is credentialed; a stored copy never keeps one), whatever
 * SENSITIVE_HEADERS adds. Names are compared as an origin reads them: case-insensitive, `_` = `-`.
 */
export const BUILTIN_SENSITIVE_HEADERS = [
  // API keys and bearer-like tokens
  "api-key",
  "apikey",
  "x-api-key",
  "x-apikey",
  "x-auth",
  "x-auth-token",
  "x-access-token",
  "x-user-token",
  "x-refresh-token",
  "x-id-token",
  "x-session-id",
  "x-session-token",
  "x-client-secret",
  "private-token",
  "x-goog-api-key",
  "x-functions-key",
  "ocp-apim-subscription-key",
  "x-amz-security-token",
  // CSRF tokens (Rails, Angular, Django): issued per session
  "x-csrf-token",
  "x-xsrf-token",
  "x-csrftoken",
  // Identity asserted by an authenticating proxy in front of the origin (oauth2-proxy, Cloudflare Access)
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-access-token",
  "x-auth-request-user",
  "x-auth-request-email",
  "x-auth-request-access-token",
  "x-remote-user",
  "cf-access-jwt-assertion",
  "cf-access-client-id",
  "cf-access-client-secret",
];

/**
 * Request headers outside the cache key that steer what the origin answers: how it builds links
 * and redirects (forwarding), which path it serves (rewrite), which method it runs (override).
 * A request carrying one is still forwarded, but its answer is neither stored nor answered from
 * the store, so a value an attacker sends can only ever shape his own answer.
 */
export const DEFAULT_STEERING_HEADERS = [
  // forwarding
  "forwarded",
  "x-forwarded-prefix",
  "x-forwarded-port",
  "x-forwarded-server",
  "x-forwarded-scheme",
  "x-forwarded-ssl",
  "x-forwarded-uri",
  "x-forwarded-path",
  "x-host",
  "x-original-host",
  "x-url-scheme",
  "front-end-https",
  // rewrite
  "x-original-url",
  "x-original-uri",
  "x-rewrite-url",
  "x-envoy-original-path",
  // method override
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
];

/**
 * Headers the worker sets itself on every forwarded request (src/origin/client.ts) or that
 * Cloudflare sets: a client's own value never reaches the origin under this spelling.
 */
export const EDGE_OWNED_HEADERS = ["x-forwarded-host", "x-forwarded-proto", "x-forwarded-for", "cf-connecting-ip"];

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const KNOWN_VARS = new Set([
  "ORIGINS",
  "ORIGIN_TIMEOUT_MS",
  "ORIGIN_SLOW_MS",
  "ORIGIN_COPY_BUDGET_MS",
  "ORIGIN_HEALTH_PATH",
  "ORIGIN_HEALTH_TIMEOUT_MS",
  "ORIGIN_STREAMING_ROUTES",
  "BREAKER_FAILURE_THRESHOLD",
  "BREAKER_OPEN_MS",
  "BREAKER_OPEN_MAX_MS",
  "BREAKER_BACKOFF_MULTIPLIER",
  "BREAKER_SYNC_INTERVAL_MS",
  "BREAKER_OBJECT_TIMEOUT_MS",
  "LKG_MAX_AGE_SECONDS",
  "LKG_TIERS",
  "LKG_METHODS",
  "LKG_ROUTES",
  "PUBLIC_ROUTES",
  "LKG_MAX_BODY_BYTES",
  "LKG_MEMORY_MAX_BYTES",
  "LKG_KV_WRITE_INTERVAL_MS",
  "LKG_CACHE_WRITE_INTERVAL_MS",
  "LKG_REFRESH_MS",
  "LKG_SHARED_MIN_REQUESTS",
  "LKG_VOLATILE_HEADERS",
  "LKG_SHARED_WRITES_PER_SECOND",
  "LKG_NEW_KEYS_PER_SECOND",
  "SENSITIVE_HEADERS",
  "SECRET_QUERY_PARAMS",
  "SESSION_COOKIES",
  "STEERING_HEADERS",
  "ROUTING",
  "ROUTING_SYNC_MS",
  "STICKY_SECRET",
  "WRITES",
  "WRITE_SECRET",
]);

type Vars = Record<string, unknown>;

/** Validate everything and report every problem together, naming the field and the value. */
/**
 * Bindings are only checked for presence, so this module needs no Workers types and
 * scripts/check-config.ts can run it under Node.
 */
export function resolveConfig(
  vars: Vars,
  bindings: { LKG_KV?: unknown; BREAKER?: unknown; METRICS?: unknown; ROUTING_OBJECT?: unknown; WRITE_QUEUE?: unknown; WRITE_LEDGER?: unknown; WRITE_BACKLOG?: unknown } = {},
): ConfigResult {
  const problems: string[] = [];
  const reader = new VarReader(vars, problems);

  const origins = readOrigins(vars["ORIGINS"], problems);
  const routing = readRouting(vars["ROUTING"], problems);
  const routingSyncMs = reader.int("ROUTING_SYNC_MS", DEFAULTS.ROUTING_SYNC_MS, 100, 60_000);
  checkRegionsAgainstPolicy(origins, routing, problems);
  const originTimeoutMs = reader.int("ORIGIN_TIMEOUT_MS", DEFAULTS.ORIGIN_TIMEOUT_MS, 1, 120_000);
  const originSlow = readOriginSlow(vars["ORIGIN_SLOW_MS"], originTimeoutMs, problems);
  const originCopyBudgetMs = readCopyBudget(vars["ORIGIN_COPY_BUDGET_MS"], originTimeoutMs, problems);
  const health = {
    path: readHealthPath(vars["ORIGIN_HEALTH_PATH"], problems),
    // At most 10 s: the check runs in waitUntil, which the runtime may cut off at about 30 s.
    timeoutMs: reader.int("ORIGIN_HEALTH_TIMEOUT_MS", DEFAULTS.ORIGIN_HEALTH_TIMEOUT_MS, 10, 10_000),
  };
  const streamingRoutes = reader.list("ORIGIN_STREAMING_ROUTES", DEFAULTS.ORIGIN_STREAMING_ROUTES, isRoutePattern, "a path starting with / (a trailing * matches any rest)");
  const failureThreshold = reader.int("BREAKER_FAILURE_THRESHOLD", DEFAULTS.BREAKER_FAILURE_THRESHOLD, 1, 1000);
  const openMs = reader.int("BREAKER_OPEN_MS", DEFAULTS.BREAKER_OPEN_MS, 100, 3_600_000);
  const openMaxMs = reader.int("BREAKER_OPEN_MAX_MS", DEFAULTS.BREAKER_OPEN_MAX_MS, 100, 3_600_000);
  const backoffMultiplier = reader.number("BREAKER_BACKOFF_MULTIPLIER", DEFAULTS.BREAKER_BACKOFF_MULTIPLIER, 1, 10);
  const syncIntervalMs = reader.int("BREAKER_SYNC_INTERVAL_MS", DEFAULTS.BREAKER_SYNC_INTERVAL_MS, 100, 60_000);
  const objectTimeoutMs = reader.int("BREAKER_OBJECT_TIMEOUT_MS", DEFAULTS.BREAKER_OBJECT_TIMEOUT_MS, 10, 10_000);
  if (openMaxMs < openMs) {
    problems.push(`BREAKER_OPEN_MAX_MS must be >= BREAKER_OPEN_MS (${openMs}), got ${openMaxMs}`);
  }

  const maxAgeSeconds = reader.int("LKG_MAX_AGE_SECONDS", DEFAULTS.LKG_MAX_AGE_SECONDS, 0, LKG_MAX_AGE_CAP_SECONDS);
  const tiers = reader.list("LKG_TIERS", DEFAULTS.LKG_TIERS, (v) => v === "memory" || v === "cache" || v === "kv", "one of memory, cache, kv") as LkgTier[];
  if (tiers.includes("kv") && !bindings.LKG_KV) {
    problems.push(`LKG_TIERS includes "kv" but the LKG_KV KV namespace binding is missing (add [[kv_namespaces]] or drop "kv")`);
  }
  const methods = reader
    .list("LKG_METHODS", DEFAULTS.LKG_METHODS, (v) => v === "GET" || v === "HEAD", "GET or HEAD (only safe methods may be stored)")
    .map((m) => m.toUpperCase());
  const routes = reader.list("LKG_ROUTES", DEFAULTS.LKG_ROUTES, isRoutePattern, "a path starting with / (a trailing * matches any rest)");
  const publicRoutes = reader.list("PUBLIC_ROUTES", DEFAULTS.PUBLIC_ROUTES, isRoutePattern, "a path starting with / (a trailing * matches any rest)");
  const maxBodyBytes = reader.int("LKG_MAX_BODY_BYTES", DEFAULTS.LKG_MAX_BODY_BYTES, 0, 25 * 1024 * 1024);
  const memoryMaxBytes = reader.int("LKG_MEMORY_MAX_BYTES", DEFAULTS.LKG_MEMORY_MAX_BYTES, 0, 96 * 1024 * 1024);
  // KV rejects more than one write per second to a key; stay clearly below that.
  const kvWriteIntervalMs = reader.int("LKG_KV_WRITE_INTERVAL_MS", DEFAULTS.LKG_KV_WRITE_INTERVAL_MS, 1000, 30_000);
  // 0 writes every answer; at most 10 s, so a copy in the shared tier keeps most of its 30 s of use.
  const cacheWriteIntervalMs = reader.int("LKG_CACHE_WRITE_INTERVAL_MS", DEFAULTS.LKG_CACHE_WRITE_INTERVAL_MS, 0, 10_000);
  // At most 10 s: every served copy is up to this much older than it would be with 0.
  const refreshMs = reader.int("LKG_REFRESH_MS", DEFAULTS.LKG_REFRESH_MS, 0, 10_000);
  const sharedMinRequests = reader.int("LKG_SHARED_MIN_REQUESTS", DEFAULTS.LKG_SHARED_MIN_REQUESTS, 1, 1000);
  const volatileHeaders = reader
    .list("LKG_VOLATILE_HEADERS", DEFAULTS.LKG_VOLATILE_HEADERS, (v) => HEADER_NAME.test(v), "an HTTP header name")
    .map((h) => h.toLowerCase());
  const sharedWritesPerSecond = reader.int("LKG_SHARED_WRITES_PER_SECOND", DEFAULTS.LKG_SHARED_WRITES_PER_SECOND, 1, 1000);
  // At least 1: a store that may never take a new key would never store anything.
  const newKeysPerSecond = reader.int("LKG_NEW_KEYS_PER_SECOND", DEFAULTS.LKG_NEW_KEYS_PER_SECOND, 1, 100_000);

  const sensitiveHeaders = reader.list("SENSITIVE_HEADERS", DEFAULTS.SENSITIVE_HEADERS, (v) => HEADER_NAME.test(v), "an HTTP header name").map(headerKey);
  const secretQueryParams = reader
    .list("SECRET_QUERY_PARAMS", DEFAULTS.SECRET_QUERY_PARAMS, (v) => v.length > 0, "a non-empty query parameter name")
    .map((p) => p.toLowerCase());
  const sessionCookies = reader.list("SESSION_COOKIES", DEFAULTS.SESSION_COOKIES, (v) => v.length > 0 && !/[;=\s,]/.test(v), 'a cookie name or "*"');
  const steeringHeaders = readSteeringHeaders(reader);
  if (routing.stickyHeader !== undefined) {
    const key = headerKey(routing.stickyHeader);
    if (BUILTIN_SENSITIVE_HEADERS.includes(key) || sensitiveHeaders.includes(key) || steeringHeaders.includes(key) || EDGE_OWNED.has(key)) {
      problems.push(
        `ROUTING.sticky_header ${JSON.stringify(routing.stickyHeader)} is a credential, steering or worker-set header the origin reads (the worker removes the assignment header before forwarding): use a header of your own, such as x-edge-assignment`,
      );
    }
  }

  const stickySecret = readStickySecret(vars, origins.length > 1 && routing.stickMs > 0, problems);
  const writes = readWrites(vars["WRITES"], { origins, originTimeoutMs, routingSyncMs }, problems);
  const writeSecret = readWriteSecret(vars, writes !== undefined, problems);
  if (writes) {
    // Queued writes need the queue, the ledger that dedupes them and the backlog that counts them; the lease lives in the routing object.
    const needed: [string, unknown, string][] = [
      ["WRITE_QUEUE", bindings.WRITE_QUEUE, "[[queues.producers]]"],
      ["WRITE_LEDGER", bindings.WRITE_LEDGER, "[[durable_objects.bindings]]"],
      ["WRITE_BACKLOG", bindings.WRITE_BACKLOG, "[[durable_objects.bindings]]"],
      ["ROUTING_OBJECT", bindings.ROUTING_OBJECT, "[[durable_objects.bindings]]"],
    ];
    for (const [name, binding, section] of needed) {
      if (!binding) problems.push(`WRITES is set but the ${name} binding is missing (see ${section} in wrangler.toml)`);
    }
  }

  // One region routes nowhere; with several, evacuations, holds and ramps are the fleet's, kept in this object.
  if (origins.length > 1 && !bindings.ROUTING_OBJECT) problems.push("the ROUTING_OBJECT Durable Object binding is missing, and ORIGINS has several regions (see [[durable_objects.bindings]] in wrangler.toml)");
  if (!bindings.BREAKER) problems.push("the BREAKER Durable Object binding is missing (see [[durable_objects.bindings]] in wrangler.toml)");
  if (!bindings.METRICS) problems.push("the METRICS Analytics Engine binding is missing (see [[analytics_engine_datasets]] in wrangler.toml)");

  for (const name of Object.keys(vars)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(name) && !KNOWN_VARS.has(name) && !WRITE_BINDINGS.has(name) && isVarValue(vars[name]) && isOurPrefix(name)) {
      problems.push(`${name} is not a known setting (known: ${[...KNOWN_VARS].join(", ")})`);
    }
  }

  if (problems.length > 0) return { ok: false, problems };

  const config: Config = {
    origins,
    routing,
    routingSyncMs,
    stickySecret,
    writes,
    writeSecret,
    originTimeoutMs,
    originSlow,
    originCopyBudgetMs,
    health,
    streamingRoutes,
    breaker: { failureThreshold, openMs, openMaxMs, backoffMultiplier, syncIntervalMs, objectTimeoutMs },
    lkg: {
      maxAgeSeconds,
      tiers,
      methods,
      routes,
      publicRoutes,
      maxBodyBytes,
      memoryMaxBytes,
      kvWriteIntervalMs,
      cacheWriteIntervalMs,
      refreshMs,
      sharedMinRequests,
      volatileHeaders,
      sharedWritesPerSecond,
      newKeysPerSecond,
    },
    scrub: {
      sensitiveHeaders: [...new Set([...BUILTIN_SENSITIVE_HEADERS, ...sensitiveHeaders])],
      steeringHeaders,
      secretQueryParams: [...new Set([...BUILTIN_SECRET_QUERY_PARAMS, ...secretQueryParams])],
      sessionCookies,
    },
  };
  return { ok: true, config, digest: digestOf(config) };
}

/** Bindings that share the WRITE prefix: a stand-in object under one of these names is a binding, not a misspelled setting. */
const WRITE_BINDINGS = new Set(["WRITE_QUEUE", "WRITE_LEDGER", "WRITE_BACKLOG"]);

/** A typo in one of our own knobs must not silently fall back to a default. */
function isOurPrefix(name: string): boolean {
  return /^(ORIGIN|BREAKER_|LKG_|PUBLIC_|SENSITIVE_|SECRET_|SESSION_|STEERING_|ROUTING|STICKY_|WRITE)/.test(name);
}

const EDGE_OWNED = new Set(EDGE_OWNED_HEADERS);

/**
 * Replaces the default list when set (a trusted proxy in front that always adds `Forwarded` would
 * otherwise make every answer unstorable). A header the worker sets itself cannot steer: listing
 * it would make every request unstorable for nothing.
 */
function readSteeringHeaders(reader: VarReader): string[] {
  const names = reader
    .list("STEERING_HEADERS", DEFAULT_STEERING_HEADERS, (v) => HEADER_NAME.test(v), "an HTTP header name", (v) =>
      EDGE_OWNED.has(headerKey(v)) ? "is set by the worker on every request (a client's value never reaches the origin), so it cannot steer: leave it out" : undefined,
    )
    .map(headerKey);
  return [...new Set(names)];
}

function readOriginSlow(raw: unknown, timeoutMs: number, problems: string[]): Config["originSlow"] {
  const value = raw === undefined || raw === "" ? DEFAULTS.ORIGIN_SLOW_MS : raw;
  if (value === "auto") return { kind: "auto" };
  if (value === "off") return { kind: "off" };
  const ms = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(ms) || ms < 1 || ms >= timeoutMs) {
    problems.push(`ORIGIN_SLOW_MS must be "auto", "off" or whole ms from 1 to below ORIGIN_TIMEOUT_MS (${timeoutMs}), got ${JSON.stringify(raw)}`);
    return { kind: "auto" };
  }
  return { kind: "fixed", ms };
}

/**
 * "off", or whole ms below the timeout: a budget at the timeout would never be reached. The
 * default steps aside for a timeout at or below it (the timeout then answers first anyway).
 */
function readCopyBudget(raw: unknown, timeoutMs: number, problems: string[]): number | undefined {
  if (raw === undefined || raw === "") return DEFAULTS.ORIGIN_COPY_BUDGET_MS < timeoutMs ? DEFAULTS.ORIGIN_COPY_BUDGET_MS : undefined;
  if (raw === "off") return undefined;
  const ms = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(ms) || ms < 1 || ms >= timeoutMs) {
    problems.push(`ORIGIN_COPY_BUDGET_MS must be "off" or whole ms from 1 to below ORIGIN_TIMEOUT_MS (${timeoutMs}), got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return ms;
}

/** Wrangler hands non-string [vars] over as parsed JSON; bindings are class instances and are not vars. */
/** "off", or an origin path (query allowed) that answers cheaply when the origin is up. */
function readHealthPath(raw: unknown, problems: string[]): string | undefined {
  const value = raw === undefined || raw === "" ? DEFAULTS.ORIGIN_HEALTH_PATH : raw;
  if (value === "off") return undefined;
  // A control character in a health path would be sent to the origin as is: matched on purpose.
  // oxlint-disable-next-line eslint/no-control-regex -- the control characters are what this refuses
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.length > 1024 || /[\s\x00-\x1f\x7f#]/.test(value)) {
    problems.push(`ORIGIN_HEALTH_PATH must be "off" or a path starting with a single / (at most 1024 characters, no spaces or #), got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return value;
}

function isVarValue(v: unknown): boolean {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean" || Array.isArray(v)) return true;
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function isRoutePattern(v: string): boolean {
  return v.startsWith("/") && !v.slice(0, -1).includes("*");
}

const ORIGIN_FIELDS = "name, url, weight, home, priority";

function readOrigins(raw: unknown, problems: string[]): RegionConfig[] {
  if (raw === undefined || raw === "") {
    problems.push('ORIGINS is required: a JSON list like [{"name":"primary","url":"https://origin.example.com","weight":1}]');
    return [];
  }
  let parsed: unknown = raw;
  if (typeof raw === "string") {
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      problems.push(`ORIGINS must be JSON, got ${JSON.stringify(raw)} (${(err as Error).message})`);
      return [];
    }
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    problems.push(`ORIGINS must be a non-empty list of {name, url, weight}, got ${JSON.stringify(parsed)}`);
    return [];
  }
  const origins: RegionConfig[] = [];
  const seen = new Set<string>();
  let homeAt: number | undefined;
  parsed.forEach((entry: unknown, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      problems.push(`ORIGINS[${i}] must be an object {name, url, weight}, got ${JSON.stringify(entry)}`);
      return;
    }
    const { name, url, weight = 1, home = false, priority = i, ...rest } = entry as Record<string, unknown>;
    for (const extra of Object.keys(rest)) problems.push(`ORIGINS[${i}].${extra} is not a known field (known: ${ORIGIN_FIELDS})`);
    let ok = true;
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9_-]{0,62}$/i.test(name)) {
      problems.push(`ORIGINS[${i}].name must be 1-63 letters, digits, '-' or '_', got ${JSON.stringify(name)}`);
      ok = false;
    } else if (seen.has(name)) {
      problems.push(`ORIGINS[${i}].name ${JSON.stringify(name)} is used twice`);
      ok = false;
    } else {
      seen.add(name);
    }
    let parsedUrl: URL | undefined;
    if (typeof url === "string" && URL.canParse(url)) parsedUrl = new URL(url);
    if (!parsedUrl || (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") || parsedUrl.search || parsedUrl.hash || parsedUrl.username) {
      problems.push(`ORIGINS[${i}].url must be an http(s) URL without query, fragment or credentials, got ${JSON.stringify(url)}`);
      ok = false;
    }
    if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
      problems.push(`ORIGINS[${i}].weight must be a number >= 0, got ${JSON.stringify(weight)}`);
      ok = false;
    }
    if (typeof home !== "boolean") {
      problems.push(`ORIGINS[${i}].home must be true or false, got ${JSON.stringify(home)}`);
      ok = false;
    } else if (home && homeAt !== undefined) {
      problems.push(`ORIGINS[${i}].home: at most one region is home, and ORIGINS[${homeAt}] already is`);
      ok = false;
    } else if (home) {
      homeAt = i;
    }
    if (typeof priority !== "number" || !Number.isInteger(priority) || priority < 0 || priority > 10_000) {
      problems.push(`ORIGINS[${i}].priority must be a whole number from 0 to 10000, got ${JSON.stringify(priority)}`);
      ok = false;
    }
    if (ok && parsedUrl) origins.push({ name: name as string, url: parsedUrl, weight: weight as number, home: home as boolean, priority: priority as number });
  });
  // No home named: the first entry is, as when ORIGINS had only names and weights.
  if (homeAt === undefined && origins.length > 0) origins[0]!.home = true;
  return origins;
}

/** What the mode needs of the regions: weighted needs some weight; failover must not contradict the home. */
function checkRegionsAgainstPolicy(origins: RegionConfig[], routing: RoutingPolicy, problems: string[]): void {
  if (origins.length < 2) return;
  if (routing.mode === "weighted" && origins.every((o) => o.weight === 0)) {
    problems.push('ROUTING.mode "weighted" needs at least one region in ORIGINS with a weight above 0, got every weight 0');
  }
  const home = origins.find((o) => o.home);
  const first = origins.reduce((best, o) => (o.priority < best.priority ? o : best));
  if (routing.mode === "failover" && home && first.priority < home.priority) {
    problems.push(
      `ORIGINS: ${JSON.stringify(home.name)} is home but ${JSON.stringify(first.name)} has a lower priority (${first.priority} < ${home.priority}), so failover mode would send traffic there first: give the home the lowest priority, or make ${JSON.stringify(first.name)} home`,
    );
  }
}

/** STICKY_SECRET, else ADMIN_TOKEN; needed only when assignments are issued (2+ regions, stick_seconds > 0). */
function readStickySecret(vars: Vars, needed: boolean, problems: string[]): StickySecret | undefined {
  return readSecret(vars, "STICKY_SECRET", needed, problems, (shortAdmin) =>
    shortAdmin !== undefined
      ? `STICKY_SECRET is not set and ADMIN_TOKEN is too short (${shortAdmin.length} characters, at least ${STICKY_SECRET_MIN_LENGTH}) to sign region assignments: set STICKY_SECRET with \`wrangler secret put STICKY_SECRET\``
      : "STICKY_SECRET is required to sign region assignments when ORIGINS has 2 or more regions and ROUTING.stick_seconds is above 0: set it with `wrangler secret put STICKY_SECRET` (or set ADMIN_TOKEN, or ROUTING.stick_seconds 0)",
  );
}

/** WRITE_SECRET, else ADMIN_TOKEN (from which message.ts derives a key), when WRITES is set. */
function readWriteSecret(vars: Vars, needed: boolean, problems: string[]): StickySecret | undefined {
  return readSecret(vars, "WRITE_SECRET", needed, problems, () => "WRITE_SECRET is required to seal the credentials of queued writes when WRITES is set: set it with `wrangler secret put WRITE_SECRET` (at least 16 characters), or set ADMIN_TOKEN");
}

/**
 * A secret of its own when set (a short one is a problem, never quietly replaced by ADMIN_TOKEN),
 * else ADMIN_TOKEN when long enough, else `missing` (given the ADMIN_TOKEN that was too short, if any).
 */
function readSecret(vars: Vars, name: "STICKY_SECRET" | "WRITE_SECRET", needed: boolean, problems: string[], missing: (shortAdmin: string | undefined) => string): StickySecret | undefined {
  const own = vars[name];
  if (own !== undefined && own !== "") {
    if (typeof own !== "string" || own.length < STICKY_SECRET_MIN_LENGTH) {
      problems.push(`${name} must be a string of at least ${STICKY_SECRET_MIN_LENGTH} characters (use 32 random bytes), got ${typeof own === "string" ? `${own.length} characters` : typeof own}`);
      return undefined;
    }
    return needed ? { source: name, secret: own } : undefined;
  }
  if (!needed) return undefined;
  const admin = vars["ADMIN_TOKEN"];
  if (typeof admin === "string" && admin.length >= STICKY_SECRET_MIN_LENGTH) return { source: "ADMIN_TOKEN", secret: admin };
  problems.push(missing(typeof admin === "string" && admin !== "" ? admin : undefined));
  return undefined;
}

class VarReader {
  private readonly vars: Vars;
  private readonly problems: string[];

  constructor(vars: Vars, problems: string[]) {
    this.vars = vars;
    this.problems = problems;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.vars[name];
    if (raw === undefined || raw === "") return fallback;
    const value = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
    if (!Number.isFinite(value) || value < min || value > max) {
      this.problems.push(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.vars[name];
    const value = this.number(name, fallback, min, max);
    if (!Number.isInteger(value)) {
      this.problems.push(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  }

  /** `refuse`: for a well-formed entry that is still wrong, why (the message after its name and value). */
  list(name: string, fallback: readonly string[], valid: (v: string) => boolean, expected: string, refuse?: (v: string) => string | undefined): string[] {
    const raw = this.vars[name];
    if (raw === undefined || raw === "") return [...fallback];
    let parsed: unknown = raw;
    if (typeof raw === "string") {
      try {
        parsed = JSON.parse(raw);
      } catch {
        this.problems.push(`${name} must be a JSON list of strings, got ${JSON.stringify(raw)}`);
        return [...fallback];
      }
    }
    if (!Array.isArray(parsed)) {
      this.problems.push(`${name} must be a JSON list of strings, got ${JSON.stringify(raw)}`);
      return [...fallback];
    }
    const out: string[] = [];
    parsed.forEach((v: unknown, i) => {
      if (typeof v !== "string" || !valid(v)) {
        this.problems.push(`${name}[${i}] must be ${expected}, got ${JSON.stringify(v)}`);
        return;
      }
      const why = refuse?.(v);
      if (why) this.problems.push(`${name}[${i}] ${JSON.stringify(v)} ${why}`);
      else out.push(v);
    });
    return out;
  }
}

/** A short, stable fingerprint so operators can tell which configuration a PoP runs. */
function digestOf(config: Config): string {
  // The secret stays out: the digest is shown to operators, and FNV is no way to hide a secret.
  const text = JSON.stringify(config, (k, v: unknown) => (v instanceof URL ? v.href : k === "stickySecret" || k === "writeSecret" ? ((v as StickySecret | undefined)?.source ?? null) : v));
  // FNV-1a, 64-bit: synchronous (crypto.subtle is async) and plenty to tell configs apart.
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}
