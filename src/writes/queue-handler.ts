/** The worker's `queue` handler: the write queue and its dead-letter queue, each to its consumer, with the bindings as dependencies. */
import type { Clock } from "../clock.ts";
import { resolveConfig, type Config, type ConfigResult } from "../config.ts";
import type { Env } from "../env.ts";
import { WRITES_DEFAULTS } from "../config/writes.ts";
import { backlogPoint, writePoint } from "../metrics/write-points.ts";
import { emit, type MetricsSink } from "../metrics/writer.ts";
import { routingLink } from "../routing/link.ts";
import { WRITE_BACKLOG_NAME, type BacklogSnapshot, type DeadLetter } from "./backlog.ts";
import { consumeDeadLetters, consumeWrites, ReplayPacer, type BacklogStub, type ConsumerDeps, type ConsumerEvent, type LedgerStub } from "./consumer.ts";
import { keyLedger } from "./ledger.ts";
import { leaseConfig, leaseSettings } from "./lease-settings.ts";
import type { WriteSecret } from "./message.ts";
import type { ReplayBacklog } from "./replay.ts";
import type { QueuedWrite } from "./types.ts";

/** The queue names in wrangler.toml; an [env.*] that renames them must rename these. */
export const WRITE_QUEUE_NAME = "edge-fallback-writes";
export const WRITE_DLQ_NAME = "edge-fallback-writes-dlq";
/** A broken configuration delivers nothing: look again in this many seconds. */
const BROKEN_CONFIG_DELAY_S = 30;

const configs = new WeakMap<object, ConfigResult>();
/** One replay schedule per isolate: batches handed over at once take turns. */
const pacer = new ReplayPacer();

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
  if (batch.queue === WRITE_QUEUE_NAME) await consumeWrites(batch, deps);
  else if (batch.queue === WRITE_DLQ_NAME) await consumeDeadLetters(batch, deps);
  // Thrown, so the batch is retried and the log says why: a renamed queue must not be acked unread.
  else throw new Error(`queue ${JSON.stringify(batch.queue)} has no consumer here (expected ${WRITE_QUEUE_NAME} or ${WRITE_DLQ_NAME})`);
  await reportBacklog(env, clock);
}

/** One backlog point per batch: the dashboard's backlog over time, as the backlog object counts it (a failed read writes none). */
async function reportBacklog(env: Env, clock: Clock): Promise<void> {
  try {
    const snapshot = await backlogStub(env).snapshot();
    emit(env.METRICS, backlogPoint({ length: snapshot.length, oldestAgeMs: snapshot.oldestAt === undefined ? 0 : Math.max(0, clock.now() - snapshot.oldestAt), dead: snapshot.dead }));
  } catch {
    // Bookkeeping: the batch's outcome stands.
  }
}

export function consumerDeps(env: Env, config: Config, clock: Clock): ConsumerDeps {
  // Messages may outlive a WRITES that was removed: they are still delivered, under the defaults.
  const link = routingLink(env.ROUTING_OBJECT, config.breaker.objectTimeoutMs);
  const configured = leaseConfig(config);
  return {
    lease: () => link.lease(configured),
    ledger: (message) => ledgerStub(env, message),
    backlog: backlogStub(env),
    origins: config.origins,
    originTimeoutMs: config.originTimeoutMs,
    maxStoredResultBytes: config.writes?.maxStoredResultBytes ?? WRITES_DEFAULTS.max_stored_result_bytes,
    replayPerSecond: config.writes?.replayPerSecond ?? WRITES_DEFAULTS.replay_per_second,
    pacer,
    sensitiveHeaders: config.scrub.sensitiveHeaders,
    leaseTrustMs: leaseSettings(config).leaseTrustMs,
    secret: config.writeSecret as WriteSecret | undefined,
    clock,
    report: (event) => reportOutcome(env.METRICS, event),
  };
}

function ledgerStub(env: Env, message: QueuedWrite): LedgerStub {
  const ns = env.WRITE_LEDGER;
  if (!ns) throw new Error("the WRITE_LEDGER Durable Object binding is missing (see wrangler.toml)");
  // RPC types widen the answers' tuples; the consumer reads them as the ledger's own types.
  return keyLedger(ns.get(ns.idFromString(message.ledger)), message.record) as unknown as LedgerStub;
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

/** One write point per outcome; a dead letter is in the log too (an operator must replay it). */
function reportOutcome(sink: MetricsSink | undefined, event: ConsumerEvent): void {
  // The ledger id only: the status id's secret half is the capability to read the write's answer.
  if (event.outcome === "dead_lettered") console.warn(`write ${event.message?.ledger ?? "?"} dead-lettered: ${event.reason ?? ""}`);
  emit(
    sink,
    writePoint({
      action: event.outcome,
      region: event.region ?? "",
      epoch: event.epoch ?? 0,
      kind: event.message?.kind ?? "write",
      queueDelayMs: event.queueDelayMs,
      attempt: event.attempt,
      status: event.status ?? 0,
    }),
  );
}
