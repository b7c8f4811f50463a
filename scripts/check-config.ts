/**
 * `npm run check-config [-- --env NAME] [-- --config PATH]`
 *
 * Reads wrangler.toml with wrangler's own reader (so [env.*] sections behave exactly as they do
 * for `wrangler dev` / `wrangler deploy`: [vars] and bindings are NOT inherited by environments),
 * then runs the worker's own `resolveConfig` over the vars and the presence of the bindings.
 * Prints every problem in one message and exits 1, or prints a short summary and exits 0.
 * An --env the file does not define exits 1 naming the envs it does define (wrangler itself only
 * warns, and would check, or deploy, the top-level configuration instead). --help prints the usage
 * and exits 0; an unknown option or an argument exits 2 with the usage.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, stripVTControlCharacters } from "node:util";
import { BUILTIN_SECRET_QUERY_PARAMS, BUILTIN_SENSITIVE_HEADERS, resolveConfig, type Config } from "../src/config.ts";


/** What the worker exports and expects; kept in step with src/index.ts and src/env.ts. */
const BREAKER_BINDING = "BREAKER";
const BREAKER_CLASS = "BreakerObject";
const KV_BINDING = "LKG_KV";
const METRICS_BINDING = "METRICS";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const USAGE = `usage: npm run check-config [-- --env NAME] [--config PATH]
  --env, -e NAME     check the [env.NAME] section (as \`wrangler deploy --env NAME\` reads it)
  --config, -c PATH  another wrangler.toml (default: the project's)
  --help, -h         this text
exit status: 0 valid, 1 problems found, 2 bad arguments`;

/** A usage error: the message and the usage on stderr, exit 2. */
function usage(message: string): never {
  console.error(`check-config: ${message}\n${USAGE}`);
  process.exit(2);
}

let args: { env?: string | undefined; config?: string | undefined; help?: boolean | undefined };
try {
  args = parseArgs({
    options: {
      env: { type: "string", short: "e" },
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  usage((err as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

// Loaded after the arguments, so --help and a usage error answer at once.
const { experimental_readRawConfig, unstable_readConfig } = await import("wrangler");

const envName = args.env === "" ? undefined : args.env;
const envLabel = envName ? `env "${envName}"` : "the default env";
// `npm run` changes into the package root; a relative --config is meant from where the user typed it.
const configPath = args.config ? resolve(process.env["INIT_CWD"] ?? process.cwd(), args.config) : resolve(root, "wrangler.toml");
const shownPath = configPath.startsWith(root + "/") ? configPath.slice(root.length + 1) : configPath;

const problems: string[] = [];
const warnings: string[] = [];
const notes: string[] = [];

// --- 0. the env asked for exists ----------------------------------------------------------------

if (envName) {
  const defined = definedEnvs();
  if (defined && !defined.includes(envName)) {
    const known = defined.length > 0 ? `the envs it defines: ${defined.join(", ")}` : "it defines no envs (no [env.NAME] sections); leave out --env to check the top-level configuration";
    console.error(`check-config: env "${envName}" is not defined in ${shownPath}; ${known}`);
    process.exit(1);
  }
}

/** The [env.NAME] sections of the file, or undefined when it cannot be read (reported below, with wrangler's words). */
function definedEnvs(): string[] | undefined {
  try {
    const raw = experimental_readRawConfig({ config: configPath }).rawConfig as { env?: Record<string, unknown> };
    return Object.keys(raw.env ?? {});
  } catch {
    return undefined;
  }
}

// --- 1. wrangler's view of the file ----------------------------------------------------------

interface WranglerView {
  vars: Record<string, unknown>;
  durableObjects: { name: string; class_name?: string; script_name?: string }[];
  kvNamespaces: { binding: string; id?: string }[];
  analyticsEngine: { binding: string; dataset?: string }[];
  queueProducers: { binding: string; queue?: string }[];
  queueConsumers: { queue: string; dead_letter_queue?: string }[];
  migrations: { new_sqlite_classes?: string[]; new_classes?: string[]; renamed_classes?: unknown; deleted_classes?: string[] }[];
}

function fromWrangler(): WranglerView | undefined {
  // Wrangler prints its config warnings (for example: [vars] not inherited by an [env.*]) through
  // console.warn, synchronously, while reading; collect them so they land in our one report.
  const originalWarn = console.warn;
  console.warn = (...parts: unknown[]) => {
    warnings.push(wranglerText(parts.map(String).join(" ")));
  };
  try {
    const config = unstable_readConfig({ config: configPath, env: envName }, { hideWarnings: false });
    return {
      vars: { ...(config.vars as Record<string, unknown>) },
      durableObjects: [...(config.durable_objects?.bindings ?? [])],
      kvNamespaces: [...(config.kv_namespaces ?? [])],
      analyticsEngine: [...(config.analytics_engine_datasets ?? [])],
      queueProducers: [...(config.queues?.producers ?? [])],
      queueConsumers: [...(config.queues?.consumers ?? [])],
      migrations: [...(config.migrations ?? [])],
    };
  } catch (err) {
    // A TOML syntax error (wrangler's ParseError) carries where it is; say so.
    const at = (err as { location?: { line?: number; column?: number; lineText?: string } }).location;
    const where = at?.line ? ` (line ${at.line}, column ${at.column ?? 0}: ${JSON.stringify(at.lineText ?? "")})` : "";
    problems.push(`wrangler rejects ${shownPath}: ${wranglerText(err instanceof Error ? err.message : String(err))}${where}`);
    return fromRawFile();
  } finally {
    console.warn = originalWarn;
  }
}

/**
 * When wrangler refuses the file, still check what we can so the report is complete: the raw file,
 * with wrangler's rule for environments (vars and bindings come from [env.NAME] only).
 */
function fromRawFile(): WranglerView | undefined {
  let raw: RawSection;
  try {
    raw = experimental_readRawConfig({ config: configPath }).rawConfig as RawSection;
  } catch {
    return undefined; // Not even parseable (TOML syntax, missing file): wrangler's message says it all.
  }
  const source = envName ? raw.env?.[envName] : raw;
  if (!source) return undefined;
  const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  return {
    vars: { ...source.vars },
    durableObjects: list(source.durable_objects?.bindings),
    kvNamespaces: list(source.kv_namespaces),
    analyticsEngine: list(source.analytics_engine_datasets),
    queueProducers: list(source.queues?.producers),
    queueConsumers: list(source.queues?.consumers),
    migrations: list(source.migrations ?? raw.migrations), // migrations are inherited, unlike the rest
  };
}

/** A top-level or [env.NAME] section of the file as TOML gives it: nothing in it is trusted yet. */
interface RawSection {
  vars?: Record<string, unknown>;
  durable_objects?: { bindings?: unknown };
  kv_namespaces?: unknown;
  analytics_engine_datasets?: unknown;
  queues?: { producers?: unknown; consumers?: unknown };
  migrations?: unknown;
  env?: Record<string, RawSection | undefined>;
}

/** Wrangler's messages come formatted for a terminal: drop colours, the banner and the "Processing" line. */
function wranglerText(message: string): string {
  const lines = stripVTControlCharacters(message)
    .replace(/^\s*(▲ \[WARNING\]|✘ \[ERROR\])\s*/u, "")
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line !== "" && !/^\s*Processing .* configuration:$/.test(line));
  const indent = Math.min(...lines.map((line) => /^ */.exec(line)![0].length));
  const text = lines.map((line) => line.slice(indent)).join("\n");
  // A single diagnostic comes as "- text"; our own list already supplies the bullet.
  return (lines.length > 0 && !/\n- /.test(text) ? text.replace(/^- /, "") : text).replaceAll("\n", "\n    ");
}

const view = fromWrangler();

// --- 2. the worker's own validation ------------------------------------------------------------


let summary: string[] = [];
if (view) {
  const { vars } = view;
  const breaker = view.durableObjects.find((b) => b.name === BREAKER_BINDING);
  const kv = view.kvNamespaces.find((b) => b.binding === KV_BINDING);
  const metrics = view.analyticsEngine.find((b) => b.binding === METRICS_BINDING);

  // Presence is all resolveConfig looks at; a truthy stand-in is enough.
  const bindings: Record<string, unknown> = {};
  if (breaker) bindings[BREAKER_BINDING] = { placeholder: BREAKER_BINDING };
  if (view.durableObjects.some((b) => b.name === "ROUTING_OBJECT")) bindings["ROUTING_OBJECT"] = { placeholder: "ROUTING_OBJECT" };
  if (kv) bindings[KV_BINDING] = { placeholder: KV_BINDING };
  if (metrics) bindings[METRICS_BINDING] = { placeholder: METRICS_BINDING };
  for (const name of ["WRITE_LEDGER", "WRITE_BACKLOG"]) if (view.durableObjects.some((b) => b.name === name)) bindings[name] = { placeholder: name };
  const writeQueue = view.queueProducers.find((p) => p.binding === "WRITE_QUEUE");
  if (writeQueue) bindings["WRITE_QUEUE"] = { placeholder: "WRITE_QUEUE" };

  // Secrets never live in wrangler.toml: stand in for STICKY_SECRET so a multi-region file is
  // judged on what it holds, and say below that the secret must be set.
  const secretAbsent = !("STICKY_SECRET" in vars) && !("ADMIN_TOKEN" in vars);
  const writeSecretAbsent = !("WRITE_SECRET" in vars) && !("ADMIN_TOKEN" in vars);
  const judged = { ...vars };
  if (secretAbsent) judged["STICKY_SECRET"] = "check-config-stand-in-secret";
  if (writeSecretAbsent) judged["WRITE_SECRET"] = "check-config-stand-in-secret";
  const result = resolveConfig(judged, bindings);
  if (!result.ok) problems.push(...result.problems);
  if (result.ok && result.config.writes) {
    // A queue the worker sends to but never consumes would hold every queued write for good.
    const queue = writeQueue?.queue;
    const consumer = view.queueConsumers.find((c) => c.queue === queue);
    if (!consumer) problems.push(`WRITES is set but no [[queues.consumers]] entry consumes ${JSON.stringify(queue)} (the WRITE_QUEUE producer's queue): queued writes would never be delivered`);
    else if (!consumer.dead_letter_queue) problems.push(`the [[queues.consumers]] entry for ${JSON.stringify(queue)} has no dead_letter_queue: a write past its retries would be deleted; set one and consume it too`);
    else if (!view.queueConsumers.some((c) => c.queue === consumer.dead_letter_queue)) problems.push(`the dead-letter queue ${JSON.stringify(consumer.dead_letter_queue)} has no [[queues.consumers]] entry: dead letters would expire unseen after the queue's retention`);
    if (writeSecretAbsent) notes.push("WRITES seals queued writes' credentials with WRITE_SECRET: set it with `wrangler secret put WRITE_SECRET` (or ADMIN_TOKEN)");
  }

  // Things resolveConfig cannot see from presence alone.
  if (breaker && !breaker.script_name && breaker.class_name !== BREAKER_CLASS) {
    problems.push(`the ${BREAKER_BINDING} Durable Object binding must use class_name "${BREAKER_CLASS}" (the class src/index.ts exports), got ${JSON.stringify(breaker.class_name)}`);
  }
  if (breaker && !breaker.script_name && breaker.class_name === BREAKER_CLASS) {
    const sqlite = view.migrations.some((m) => m.new_sqlite_classes?.includes(BREAKER_CLASS));
    const kvBacked = view.migrations.some((m) => m.new_classes?.includes(BREAKER_CLASS));
    if (kvBacked) problems.push(`${BREAKER_CLASS} is created by a [[migrations]] new_classes entry; it needs SQLite storage: use new_sqlite_classes`);
    else if (!sqlite) problems.push(`no [[migrations]] entry creates ${BREAKER_CLASS}: add new_sqlite_classes = ["${BREAKER_CLASS}"]`);
  }
  if (kv?.id && /^0+$/.test(kv.id)) {
    const fix = `create the namespace with \`wrangler kv namespace create ${KV_BINDING}\` and put its id in ${envName ? `[env.${envName}]` : "wrangler.toml"}`;
    if (envName) warnings.push(`${KV_BINDING} uses the placeholder id ${kv.id}: ${fix}`);
    else notes.push(`${KV_BINDING} uses the placeholder id (fine locally); before deploying, ${fix}`);
  }
  if ("STICKY_SECRET" in vars) {
    warnings.push("STICKY_SECRET is set in [vars], in plain text; remove it and store it as a secret with `wrangler secret put STICKY_SECRET`");
  }
  if (result.ok && result.config.stickySecret && secretAbsent) {
    notes.push(
      `with ${result.config.origins.length} regions and stickiness, region assignments are signed: set \`wrangler secret put STICKY_SECRET${envName ? ` --env ${envName}` : ""}\` ` +
        "(at least 16 characters; without it a key is derived from ADMIN_TOKEN, and with neither the worker refuses the configuration)",
    );
  }
  if ("ADMIN_TOKEN" in vars) {
    warnings.push("ADMIN_TOKEN is set in [vars], in plain text; remove it and store it as a secret with `wrangler secret put ADMIN_TOKEN`");
  }

  if (result.ok) {
    const { config } = result;
    if (envName) {
      for (const origin of config.origins) {
        if (isLoopback(origin.url)) {
          warnings.push(`origin ${origin.name} is ${origin.url.href}, a loopback address: deployed to ${envLabel}, the worker cannot reach it`);
        }
      }
    } else if (config.origins.some((o) => isLoopback(o.url))) {
      notes.push("the default env points at a loopback origin (the local demo, `npm start`); set ORIGINS to the real origin before deploying it");
    }
    summary = describe(config, result.digest, { breaker, kv, metrics }, BUILTIN_SECRET_QUERY_PARAMS.length);
  }
}

notes.push(
  `ADMIN_TOKEN is a secret, never a [vars] entry: set it with \`wrangler secret put ADMIN_TOKEN${envName ? ` --env ${envName}` : ""}\` ` +
    "(locally: ADMIN_TOKEN=... in .dev.vars); while it is unset the admin routes are disabled",
);

// --- 3. report --------------------------------------------------------------------------------

const bullet = (items: string[], label: string) => items.map((item) => `  ${label}${item}`).join("\n");

if (problems.length > 0) {
  const lines = [`check-config: ${shownPath} (${envLabel}) has ${problems.length} problem${problems.length === 1 ? "" : "s"}:`, bullet(problems, "- ")];
  if (warnings.length > 0) lines.push("warnings:", bullet(warnings, "- "));
  lines.push(bullet(notes, "note: "));
  console.error(lines.join("\n"));
  process.exit(1);
}

const lines = [`check-config: ${shownPath} (${envLabel}) is valid`, ...summary];
if (warnings.length > 0) lines.push("warnings:", bullet(warnings, "- "));
lines.push(bullet(notes, "note: "));
console.log(lines.join("\n"));
// Wrangler may leave an update check or timers behind; the answer is complete.
process.exit(0);

// --- helpers ------------------------------------------------------------------------------------

function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host.startsWith("127.") || host === "::1" || host === "0.0.0.0" || host === "::";
}

function describe(
  config: Config,
  digest: string,
  found: { breaker?: { class_name?: string } | undefined; kv?: { id?: string } | undefined; metrics?: { dataset?: string } | undefined },
  builtinSecretParams: number,
): string[] {
  const list = (items: string[]) => (items.length > 0 ? items.join(", ") : "(none)");
  const { breaker, lkg, scrub } = config;
  const configuredSecret = scrub.secretQueryParams.length - builtinSecretParams;
  const bindings = [
    `${BREAKER_BINDING} -> ${found.breaker?.class_name ?? "?"}`,
    found.kv ? `${KV_BINDING} -> ${found.kv.id ?? "?"}` : `${KV_BINDING} absent`,
    `${METRICS_BINDING} -> ${found.metrics?.dataset ?? "?"}`,
  ];
  return [
    `  digest      ${digest}`,
    ...config.origins.map((o, i) => `  ${i === 0 ? "origins    " : "           "} ${o.name} ${o.url.href} (weight ${o.weight}, priority ${o.priority}${o.home ? ", home" : ""})`),
    `  routing     ${describeRouting(config)}`,
    `  timeout     ${config.originTimeoutMs} ms per origin request; copy budget ${config.originCopyBudgetMs === undefined ? "off" : `${config.originCopyBudgetMs} ms`}`,
    `  breaker     opens after ${breaker.failureThreshold} failures; open ${breaker.openMs}-${breaker.openMaxMs} ms (x${breaker.backoffMultiplier}); sync ${breaker.syncIntervalMs} ms; object budget ${breaker.objectTimeoutMs} ms`,
    `  lkg         tiers ${list(lkg.tiers)}; max age ${lkg.maxAgeSeconds} s; methods ${list(lkg.methods)}; routes ${list(lkg.routes)}; public ${list(lkg.publicRoutes)}`,
    `  scrub       sensitive headers: ${BUILTIN_SENSITIVE_HEADERS.length} built in + ${list(scrub.sensitiveHeaders.slice(BUILTIN_SENSITIVE_HEADERS.length))}; secret query params: ${builtinSecretParams} built in + ${Math.max(0, configuredSecret)} configured; session cookies ${list(scrub.sessionCookies)}`,
    `  steering    ${list(scrub.steeringHeaders)}`,
    `  bindings    ${bindings.join(", ")}`,
  ];
}

function describeRouting(config: Config): string {
  const r = config.routing;
  const stick = config.origins.length < 2 ? "one region, no stickiness" : r.stickMs === 0 ? "no stickiness" : `sticky ${r.stickMs / 1000} s by ${r.stickyHeader ? `header ${r.stickyHeader}` : "cookie edge-region"}`;
  return (
    `${r.mode}; ${stick}; leave after ${r.down} failures, return after ${r.up} successes, ${r.hysteresisMs / 1000} s apart; ` +
    `return-to-home ${r.gradualWeights.join("/")} % every ${r.stepDwellMs / 1000} s; retries ${r.retryBudget.ratio * 100} % (min ${r.retryBudget.minPerSecond}/s); sync ${config.routingSyncMs} ms`
  );
}
