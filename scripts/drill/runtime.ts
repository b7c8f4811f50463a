/**
 * Runs a worker in workerd through Miniflare with its real bindings (SQLite Durable Object, KV,
 * Cache API), listening on a direct socket: the request path skips Miniflare's entry worker,
 * which would otherwise cap local throughput at a fraction of workerd's.
 */
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { setPriority, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { pidsMatching } from "../lib/proc-cpu.ts";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Same as wrangler.toml, so the drill runs what deploys. */
export const COMPATIBILITY_DATE = "2026-10-01";

export interface RunningWorker {
  url: string;
  port: number;
  /** The workerd process(es) this instance started, for CPU accounting. */
  pids: number[];
  /** The instance's throwaway directory (its bundle and, under state/, every binding's storage). */
  dir: string;
  dispose(): Promise<void>;
}

/** Bundles a worker entry (TypeScript) into one ES module, as wrangler would. */
export async function bundle(entry: string, outDir: string): Promise<string> {
  const outfile = join(outDir, "worker.mjs");
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:*", "node:*"],
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    logLevel: "error",
  });
  return outfile;
}

export interface WorkerOptions {
  entry: string;
  port: number;
  vars: Record<string, string>;
  /** The product's bindings; the bare pass-through worker needs none. */
  productBindings: boolean;
  logLevel?: LogLevel;
  /** Expose the worker's V8 inspector on this loopback port (for CPU profiles), named "worker". */
  inspectorPort?: number;
  /**
   * Run workerd at a lower CPU priority than the load generator and the fake origins (nice
   * WORKERD_NICE). One 2-core machine stands in for three: the clients', the origins' and the
   * edge's. When they contend, the edge's process waits, so the load keeps its schedule (the
   * instrument stays true) and any wait shows in the edge's own latency, which makes the targets
   * harder, never easier. Not for the bench, which measures CPU per request.
   */
  yieldToLoad?: boolean;
}

/** The nice value of a drill's workerd (yieldToLoad): CFS gives a nice-0 process about 3 x its share when both want the CPU. */
export const WORKERD_NICE = 5;

export interface ObjectBinding {
  className: string;
  useSQLite: boolean;
}

const objectBindings = new Map<string, Promise<Record<string, ObjectBinding>>>();

/**
 * The Durable Object bindings as wrangler.toml declares them (read by wrangler's own reader), so
 * the drill binds every object the worker deploys with (the breaker, the fleet routing object,
 * ...) without a list kept in step by hand. SQLite-backed when a migration says so.
 */
/** The queues wrangler.toml declares (issue 11: the write queue and its dead-letter queue), in Miniflare's terms. */
export interface QueueBindings {
  producers: Record<string, { queueName: string }>;
  consumers: Record<string, { maxBatchSize?: number; maxBatchTimeout?: number; maxRetries?: number; deadLetterQueue?: string; retryDelay?: number }>;
}

interface WranglerQueues {
  producers?: { binding: string; queue: string }[];
  consumers?: { queue: string; max_batch_size?: number; max_batch_timeout?: number; max_retries?: number; dead_letter_queue?: string; retry_delay?: number }[];
}

/** Queues from wrangler's own reader, so the drill's worker consumes its queues as deployed (none: a worker without them). */
export async function queueBindings(configPath = join(root, "wrangler.toml")): Promise<QueueBindings> {
  const { unstable_readConfig } = await import("wrangler");
  const queues = (unstable_readConfig({ config: configPath }, { hideWarnings: true }) as { queues?: WranglerQueues }).queues ?? {};
  return queueOptions(queues);
}

/** wrangler.toml's [[queues.*]] entries as Miniflare's queueProducers / queueConsumers. */
export function queueOptions(queues: WranglerQueues): QueueBindings {
  const producers = Object.fromEntries((queues.producers ?? []).map((p) => [p.binding, { queueName: p.queue }]));
  const consumers = Object.fromEntries(
    (queues.consumers ?? []).map((c) => [
      c.queue,
      {
        ...(c.max_batch_size !== undefined ? { maxBatchSize: c.max_batch_size } : {}),
        ...(c.max_batch_timeout !== undefined ? { maxBatchTimeout: c.max_batch_timeout } : {}),
        ...(c.max_retries !== undefined ? { maxRetries: c.max_retries } : {}),
        ...(c.dead_letter_queue !== undefined ? { deadLetterQueue: c.dead_letter_queue } : {}),
        ...(c.retry_delay !== undefined ? { retryDelay: c.retry_delay } : {}),
      },
    ]),
  );
  return { producers, consumers };
}

export function durableObjectBindings(configPath = join(root, "wrangler.toml")): Promise<Record<string, ObjectBinding>> {
  let read = objectBindings.get(configPath);
  read ??= import("wrangler").then(({ unstable_readConfig }) => {
    const config = unstable_readConfig({ config: configPath }, { hideWarnings: true });
    const sqlite = new Set((config.migrations ?? []).flatMap((m: { new_sqlite_classes?: string[] }) => m.new_sqlite_classes ?? []));
    return Object.fromEntries((config.durable_objects?.bindings ?? []).map((b: { name: string; class_name: string }) => [b.name, { className: b.class_name, useSQLite: sqlite.has(b.class_name) }]));
  });
  objectBindings.set(configPath, read);
  return read;
}

/**
 * Where a worker's throwaway state goes: a RAM-backed directory when the machine has one. On disk,
 * workerd waits on each Durable Object commit on the thread that serves every request, and a
 * laptop's disk is not what Durable Object storage costs. Measured (2026-12-03, scratch A/B: 400
 * queued writes replayed at 50/s beside 150 reads/s): the reads' p95 x4.6 and x2.6 over the quiet
 * seconds with the state on this ext4 disk, x1.9 and x2.1 in /dev/shm. Reports and logs stay where
 * they were.
 */
export function stateRoot(candidates = ["/dev/shm"]): string {
  for (const dir of candidates) {
    try {
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // Absent or read-only: the next one, then the temp dir.
    }
  }
  return tmpdir();
}

/** One worker's script and socket in Miniflare's terms: bundled into `dir`, its vars as plain bindings, listening on a direct socket. */
async function workerOptions(entry: string, dir: string, vars: Record<string, string>, port: number) {
  return {
    modules: true,
    modulesRoot: dir,
    scriptPath: await bundle(entry, dir),
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
    bindings: vars,
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  };
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const queues = options.productBindings ? await queueBindings() : undefined;
  const bindings = options.productBindings
    ? {
        durableObjects: await durableObjectBindings(),
        ...(queues && Object.keys(queues.producers).length ? { queueProducers: queues.producers } : {}),
        ...(queues && Object.keys(queues.consumers).length ? { queueConsumers: queues.consumers } : {}),
        kvNamespaces: ["LKG_KV"],
        analyticsEngineDatasets: { METRICS: { dataset: "edge_fallback" } },
        cacheAPI: true,
      }
    : {};
  const dir = await mkdtemp(join(stateRoot(), "edge-fallback-drill-"));
  const workerdBefore = new Set(pidsMatching("workerd"));
  let mf: Miniflare | undefined;
  try {
    const main = { ...(await workerOptions(options.entry, dir, options.vars, options.port)), ...bindings };
    const shared = {
      log: new Log(options.logLevel ?? LogLevel.WARN),
      // No Request.cf download: nothing here may wait on the network.
      cf: false,
      // Every object, KV and cache entry under the fresh dir (Miniflare's default is a directory in the
      // temp dir, on disk here): each drill starts from an empty store and a closed breaker.
      resourcePersistencePath: join(dir, "state"),
      ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
    };
    const inspected = options.inspectorPort !== undefined ? { name: "worker", unsafeInspectorProxy: true } : {};
    mf = new Miniflare(convertV4MiniflareOptions({ ...shared, ...main, ...inspected } as Parameters<typeof convertV4MiniflareOptions>[0]));
    await mf.ready;
  } catch (err) {
    // Nothing of a worker that never started may stay behind: its workerd, its bundle, its state.
    await mf?.dispose().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const url = `http://127.0.0.1:${options.port}`;
  // Started one at a time, so the new workerd processes are this instance's.
  const pids = pidsMatching("workerd").filter((pid) => !workerdBefore.has(pid));
  if (options.yieldToLoad) for (const pid of pids) setPriority(pid, WORKERD_NICE);
  return {
    url,
    port: options.port,
    dir,
    pids,
    async dispose() {
      await mf!.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
