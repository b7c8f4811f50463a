/** A plan's routing decisions, sent to the worker's admin region routes with the bearer, each recorded with its answer. */
import type { ActionRecord } from "./judge/data.ts";
import type { AdminAction } from "./types.ts";

export async function sendAdmin(workerUrl: string, token: string, phase: number, a: AdminAction): Promise<ActionRecord> {
  const url = `${workerUrl}/__edge/admin/regions/${encodeURIComponent(a.region)}/${a.action}${a.force ? "?force=1" : ""}`;
  const shed = a.action === "shed";
  const sentAt = Date.now();
  const record = { phase, region: a.region, action: a.action, ...(a.percent !== undefined ? { percent: a.percent } : {}), sentAt };
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, ...(shed ? { "content-type": "application/json" } : {}) },
      ...(shed ? { body: JSON.stringify({ percent: a.percent }) } : {}),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    const answeredAt = Date.now();
    let decidedAt: number | undefined;
    try {
      const changedAt = (JSON.parse(text) as { control?: { changedAt?: unknown } }).control?.changedAt;
      if (typeof changedAt === "number") decidedAt = changedAt;
    } catch {
      // Not JSON: the detail says what it was.
    }
    return { ...record, answeredAt, status: res.status, ...(decidedAt !== undefined ? { decidedAt } : {}), detail: text.slice(0, 300) };
  } catch (err) {
    return { ...record, answeredAt: Date.now(), status: 0, detail: err instanceof Error ? err.message : String(err) };
  }
}
