/** The worker's `queue` handler: the write queue and its dead-letter queue, each to its consumer, with the bindings as dependencies. */
import type { Clock } from "../clock.ts";
import { resolveConfig, type Config, type ConfigResult } from "../config.ts";
import type { Env } from "../env.ts";
import { withTimeout } from "../timeout.ts";
import { WRITE_BACKLOG_NAME, type BacklogSnapshot, type DeadLetter } from "./backlog.ts";
import { consumeDeadLetters, consumeWrites, type BacklogStub, type ConsumerDeps, type ConsumerEvent, type LedgerStub } from "./consumer.ts";
import { writeSecretFrom } from "./message.ts";
import type { ReplayBacklog } from "./replay.ts";
import type { QueuedWrite, WritesConfig, WriterLease } from "./types.ts";

/** The queue names in wrangler.toml; an [env.*] that renames them must rename these. */
export const WRITE_QUEUE_NAME = "edge-fallback-writes";
export const WRITE_DLQ_NAME = "edge-fallback-writes-dlq";
/** StoredResult default (WRITES.max_stored_result_bytes) until config.writes exists. */
const DEFAULT_MAX_STORED_RESULT_BYTES = 64 * 1024;
/** A broken configuration delivers nothing: look again in this many seconds. */
const BROKEN_CONFIG_DELAY_S = 30;

const configs = new WeakMap<object, ConfigResult>();

export async function handleQueue(batch: MessageBatch<QueuedWrite>, env: Env, clock: Clock): Promise<void> {
  let resolved = configs.get(env);
  if (!resolved) {
    resolved = resolveConfig(env, env);
    configs.set(env, resolved);
  }
  if (!resolved.ok) {
    console.error(`queue ${batch.queue}: invalid configuration, nothing delivered: ${resolved.problems.join("; ")}`);
    batch.retryAll({ delaySeconds: BROKEN_CONFIG_DELAY_S });
    return;
  }
  const deps = consumerDeps(env, resolved.config, clock);
  if (batch.queue === WRITE_QUEUE_NAME) return consumeWrites(batch, deps);
  if (batch.queue === WRITE_DLQ_NAME) return consumeDeadLetters(batch, deps);
  // Thrown, so the batch is retried and the log says why: a renamed queue must not be acked unread.
  throw new Error(`queue ${JSON.stringify(batch.queue)} has no consumer here (expected ${WRITE_QUEUE_NAME} or ${WRITE_DLQ_NAME})`);
}

/** The WRITES part the consumer reads; config.writes once the lead's config/writes.ts lands. */
function writesOf(config: Config): Partial<WritesConfig> {
  return (config as Config & { writes?: WritesConfig }).writes ?? {};
}

/**
 * The RoutingObject's lease RPC as the writer-lease branch has it (`lease(configured: LeaseConfig)`,
 * with routingLink(...).lease), typed here until it is part of the class: once merged, this is
 * `routingLink(env.ROUTING_OBJECT, budget).lease(leaseConfig(config))`.
 */
interface LeaseRpc {
  lease(configured: { writer: string; regions: string[] }): Promise<WriterLease>;
}

export function consumerDeps(env: Env, config: Config, clock: Clock): ConsumerDeps {
  const writes = writesOf(config);
  const initialWriter = writes.initialWriter ?? config.origins.find((o) => o.home)?.name ?? config.origins[0]!.name;
  const budget = config.breaker.objectTimeoutMs;
  return {
    lease: () => {
      const ns = env.ROUTING_OBJECT;
      const stub = ns.get(ns.idFromName("fleet")) as unknown as LeaseRpc;
      return withTimeout(stub.lease({ writer: initialWriter, regions: config.origins.map((o) => o.name) }), budget, () => new Error(`routing object did not answer the lease read within ${budget} ms`));
    },
    ledger: (message) => ledgerStub(env, message.ledger),
    backlog: backlogStub(env),
    origins: config.origins,
    originTimeoutMs: config.originTimeoutMs,
    maxStoredResultBytes: writes.maxStoredResultBytes ?? DEFAULT_MAX_STORED_RESULT_BYTES,
    secret: writeSecretFrom(env),
    clock,
    report: logDeadLetters,
  };
}

function ledgerStub(env: Env, idHex: string): LedgerStub {
  const ns = env["WRITE_LEDGER"] as DurableObjectNamespace | undefined;
  if (!ns) throw new Error("the WRITE_LEDGER Durable Object binding is missing (see wrangler.toml)");
  return ns.get(ns.idFromString(idHex)) as unknown as LedgerStub;
}

/** The fleet backlog object as the consumers and the replay use it; every call fails, as an unreachable object's would, without the binding. */
export function backlogStub(env: Env): BacklogStub & ReplayBacklog & { add(statusId: string, at: number): Promise<void>; snapshot(): Promise<BacklogSnapshot> } {
  const missing = () => Promise.reject(new Error("the WRITE_BACKLOG Durable Object binding is missing (see wrangler.toml)"));
  const ns = env.WRITE_BACKLOG;
  if (!ns) return { add: missing, settle: missing, dead: missing, takeDead: missing, replayed: missing, snapshot: missing };
  // A stub per call: one whose object broke stays broken, a new one reconnects.
  const stub = () => ns.get(ns.idFromName(WRITE_BACKLOG_NAME));
  return {
    add: (statusId, at) => stub().add(statusId, at),
    settle: (ids) => stub().settle(ids),
    dead: (message, reason) => stub().dead(message, reason),
    // RPC types widen the header tuples to string[][]; the values are the tuples stored.
    takeDead: (limit, statusId) => stub().takeDead(limit, statusId) as unknown as Promise<DeadLetter[]>,
    replayed: (ids) => stub().replayed(ids),
    snapshot: () => stub().snapshot(),
  };
}

/** Until consumer points exist (metrics), a dead letter is at least in the log. */
function logDeadLetters(event: ConsumerEvent): void {
  if (event.outcome === "dead_lettered") console.warn(`write ${event.message?.statusId ?? "?"} dead-lettered: ${event.reason ?? ""}`);
}
