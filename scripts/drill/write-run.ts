/**
 * What a write drill does beside the load (issue 11): the worker's WRITES from the plan, the
 * write-lease admin actions, GET /__edge/admin/writes sampled through the run (lease and
 * backlog), the wait for delivery after the load (status resources polled until delivered, failed
 * or a deadline), and the origins' write logs read at the end. Fetching is here; judging is in
 * write-checks.ts.
 */
import { WRITES_DEFAULTS } from "../../src/config/writes.ts";
import type { WriteEntry } from "../lib/write-log.ts";
import type { Plan, WriteAdminAction } from "./types.ts";
import type { BacklogSample, StatusRead } from "./judge/data.ts";

/**
 * The worker's WRITES for a plan: its config as written, auto_promote from how the plan promotes.
 * `rateScale` (the calibrated rate over the plan's): below 1 the replay rate is scaled with the
 * load, as the phases' rates are, so the backlog (written at the scaled rate) drains in the same
 * time and its replay weighs on the machine's reads as the plan meant.
 */
export function writesVar(plan: Plan, rateScale = 1): string | undefined {
  if (!plan.writes) return undefined;
  const config: Record<string, unknown> = { ...plan.writes.config, auto_promote: plan.writes.promote === "auto" };
  if (rateScale < 1) {
    const replay = typeof config["replay_per_second"] === "number" ? (config["replay_per_second"] as number) : WRITES_DEFAULTS.replay_per_second;
    config["replay_per_second"] = Math.max(1, Math.round(replay * rateScale));
  }
  return JSON.stringify(config);
}

/** GET /__edge/admin/writes as src/admin/writes.ts answers it: `lease` (the object's, read strongly) and `backlog` (WRITE_BACKLOG's snapshot). */
export function parseWritesAdmin(status: number, text: string, at: number): BacklogSample {
  const fail = (error: string): BacklogSample => ({ at, ok: false, length: 0, oldestAgeMs: 0, dead: 0, region: "", epoch: 0, frozen: false, promoting: false, error });
  if (status !== 200) return fail(`${status || "no answer"} ${text.slice(0, 120)}`);
  let body: { lease?: Record<string, unknown> | null; backlog?: Record<string, unknown> | null; objectError?: unknown; backlogError?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return fail(`not JSON: ${text.slice(0, 120)}`);
  }
  const { lease, backlog } = body;
  if (!lease || typeof lease["region"] !== "string" || typeof lease["epoch"] !== "number") return fail(`no lease (objectError: ${JSON.stringify(body.objectError ?? null)})`);
  if (!backlog || typeof backlog["length"] !== "number" || typeof backlog["dead"] !== "number") return fail(`no backlog (backlogError: ${JSON.stringify(body.backlogError ?? null)})`);
  const oldestAt = backlog["oldestAt"];
  return {
    at,
    ok: true,
    length: backlog["length"],
    oldestAgeMs: typeof oldestAt === "number" ? Math.max(0, at - oldestAt) : 0,
    dead: backlog["dead"],
    region: lease["region"],
    epoch: lease["epoch"],
    frozen: lease["frozen"] === true,
    promoting: lease["promotion"] !== undefined && lease["promotion"] !== null,
  };
}

export async function sampleWrites(workerUrl: string, token: string): Promise<BacklogSample> {
  const at = Date.now();
  try {
    const res = await fetch(`${workerUrl}/__edge/admin/writes`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
    return parseWritesAdmin(res.status, await res.text(), at);
  } catch (err) {
    return parseWritesAdmin(0, err instanceof Error ? err.message : String(err), at);
  }
}

export interface WriteActionRecord {
  phase: number;
  action: WriteAdminAction;
  sentAt: number;
  status: number;
  detail: string;
}

/** POST /__edge/admin/writes/<action> with the bearer: promote {region, reason}, freeze/unfreeze {reason}. */
export async function sendWriteAdmin(workerUrl: string, token: string, phase: number, a: WriteAdminAction): Promise<WriteActionRecord> {
  const sentAt = Date.now();
  const body = a.action === "promote" ? { region: a.region, reason: a.reason ?? "drill" } : { reason: a.reason ?? "drill" };
  try {
    const res = await fetch(`${workerUrl}/__edge/admin/writes/${a.action}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return { phase, action: a, sentAt, status: res.status, detail: (await res.text()).slice(0, 300) };
  } catch (err) {
    return { phase, action: a, sentAt, status: 0, detail: err instanceof Error ? err.message : String(err) };
  }
}

/** A status resource's state, or why it could not be read. */
async function readStatus(workerUrl: string, location: string): Promise<StatusRead> {
  try {
    const res = await fetch(new URL(location, workerUrl), { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    if (res.status !== 200) return { status: res.status, state: "" };
    const body = JSON.parse(text) as { state?: unknown; reason?: unknown };
    return { status: 200, state: typeof body.state === "string" ? body.state : "", ...(typeof body.reason === "string" ? { reason: body.reason } : {}) };
  } catch {
    return { status: 0, state: "" };
  }
}

const settled = (s: StatusRead | undefined) => s?.state === "delivered" || s?.state === "failed";

/**
 * After the load: polls every 202's status resource until it says delivered or failed, and the
 * backlog until it is empty, or the deadline passes. Each pass reads only what has not settled,
 * 16 at a time (loopback, two shared cores).
 */
export async function waitForDelivery(
  workerUrl: string,
  token: string,
  locations: string[],
  deadlineMs: number,
  onSample: (s: BacklogSample) => void,
  log: (line: string) => void,
): Promise<Record<string, StatusRead>> {
  const statuses: Record<string, StatusRead> = {};
  const until = Date.now() + deadlineMs;
  for (;;) {
    const open = locations.filter((l) => !settled(statuses[l]));
    for (let i = 0; i < open.length; i += 16) {
      const batch = open.slice(i, i + 16);
      const reads = await Promise.all(batch.map((l) => readStatus(workerUrl, l)));
      batch.forEach((l, j) => (statuses[l] = reads[j]!));
    }
    const sample = await sampleWrites(workerUrl, token);
    onSample(sample);
    const left = locations.filter((l) => !settled(statuses[l])).length;
    log(`drain: ${locations.length - left}/${locations.length} status resources settled, backlog ${sample.ok ? `${sample.length} (dead ${sample.dead})` : sample.error}`);
    if ((left === 0 && sample.ok && sample.length === 0) || Date.now() >= until) return statuses;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function resetWriteLogs(origins: Record<string, string>): Promise<void> {
  for (const url of Object.values(origins)) {
    const res = await fetch(`${url}/__writes/reset`, { method: "POST" });
    if (res.status !== 200) throw new Error(`origin ${url} refused to reset its write log: ${res.status}`);
  }
}

export async function readWriteLogs(origins: Record<string, string>): Promise<{ logs: Record<string, WriteEntry[]>; dropped: Record<string, number> }> {
  const logs: Record<string, WriteEntry[]> = {};
  const dropped: Record<string, number> = {};
  for (const [name, url] of Object.entries(origins)) {
    const body = (await (await fetch(`${url}/__writes`)).json()) as { writes: WriteEntry[]; dropped: number };
    logs[name] = body.writes;
    dropped[name] = body.dropped;
  }
  return { logs, dropped };
}
