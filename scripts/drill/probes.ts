/**
 * The checks a multi-region drill runs itself, beside the load: a fixed gold probe set fetched
 * from each region directly and through the worker (answers_equal), each fake region's version
 * stamp (env_parity, and standing in for INDEX_HASH), and the store counts on the worker's health
 * page (cache_warm, cache_rewarmed). Fetching lives in `runChecks`; judging is pure, for tests.
 */
import type { DrillCheckName, TargetResult } from "./types.ts";

/** The gold probe set: fixed paths, the same every run, kept out of the load's keys. */
export const GOLD_PROBES = Array.from({ length: 10 }, (_, i) => `/gold/${i}`);

export interface Fetched {
  path: string;
  status: number;
  body: string;
  /** x-edge-region of the answer (through the worker), else "". */
  edgeRegion: string;
  /** x-fake-region of the answer: the region that produced the body. */
  fakeRegion: string;
  error?: string;
}

export type Stage = "pre" | "post";

async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const path = new URL(url).pathname;
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
    return { path, status: res.status, body: await res.text(), edgeRegion: res.headers.get("x-edge-region") ?? "", fakeRegion: res.headers.get("x-fake-region") ?? "" };
  } catch (err) {
    return { path, status: 0, body: "", edgeRegion: "", fakeRegion: "", error: err instanceof Error ? err.message : String(err) };
  }
}

/** The version stamp an answer carries ("v1" unless a plan gives a region another), or why there is none. */
function stampOf(f: Fetched): string {
  if (f.status !== 200) return `no answer (${f.status || f.error})`;
  try {
    const v = (JSON.parse(f.body) as { version?: unknown }).version;
    return typeof v === "string" ? v : "no stamp";
  } catch {
    return "no stamp";
  }
}

const STAMP_TEXT: Record<string, string> = {
  env_parity: "every region answers with the same version stamp",
  index_hash_equal: "every region's stamp equal (the fake regions' version stamp stands in for INDEX_HASH)",
  index_hash: "every region's stamp still equal after the run (the version stamp standing in for INDEX_HASH)",
};

/** env_parity (and the INDEX_HASH stand-ins): the gold probes' version stamps, region by region. */
function judgeStamps(name: "env_parity" | "index_hash_equal" | "index_hash", stage: Stage, direct: Record<string, Fetched[]>): TargetResult {
  const stamps = Object.entries(direct).map(([region, answers]) => [region, [...new Set(answers.map(stampOf))]] as const);
  const all = new Set(stamps.flatMap(([, s]) => s));
  return {
    name: `${stage}: ${name}`,
    target: STAMP_TEXT[name]!,
    measured: stamps.map(([region, s]) => `${region} ${s.join(" / ")}`).join("; "),
    pass: all.size === 1 && ![...all][0]!.startsWith("no "),
  };
}

/**
 * An answer's content: the fake origin's JSON without its per-answer stamps (seq, servedAt), which
 * differ on every answer unless the plan's origin keeps them out of the body (stableBody).
 */
function contentOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return body;
    const { seq: _seq, servedAt: _servedAt, ...content } = parsed as Record<string, unknown>;
    return JSON.stringify(content);
  } catch {
    return body;
  }
}

/** answers_equal: every gold probe answers the same content from every region directly and through the worker. */
function judgeAnswers(stage: Stage, direct: Record<string, Fetched[]>, viaWorker: Fetched[]): TargetResult {
  const differing: string[] = [];
  for (const f of viaWorker) {
    const answers = [["worker", f] as const, ...Object.entries(direct).map(([region, list]) => [region, list.find((x) => x.path === f.path)] as const)];
    const bad = answers.filter(([, a]) => !a || a.status !== 200);
    const bodies = new Set(answers.map(([, a]) => contentOf(a?.body ?? "")));
    if (bad.length > 0) differing.push(`${f.path}: ${bad.map(([who, a]) => `${who} ${a ? a.status || a.error : "not fetched"}`).join(", ")}`);
    else if (bodies.size > 1) differing.push(`${f.path}: ${answers.map(([who, a]) => `${who} ${stampOf(a!)}`).join(" / ")}`);
  }
  const served = new Map<string, number>();
  for (const f of viaWorker) served.set(f.edgeRegion || "no region", (served.get(f.edgeRegion || "no region") ?? 0) + 1);
  return {
    name: `${stage}: answers_equal`,
    target: `the ${GOLD_PROBES.length} gold probes answer the same content (per-answer stamps aside) from ${Object.keys(direct).join(", ")} directly and through the worker`,
    measured: `${viaWorker.length - differing.length} of ${viaWorker.length} equal (through the worker: ${[...served].map(([r, n]) => `${r} x${n}`).join(", ")})${differing.length ? `; ${differing.slice(0, 3).join("; ")}` : ""}`,
    pass: viaWorker.length === GOLD_PROBES.length && differing.length === 0,
  };
}

interface HealthLkg {
  lkg?: { tiers?: string[]; memory?: { entries?: number } | null; counters?: { stores?: Record<string, number> } };
}

/** cache_warm / cache_rewarmed: the health page's store counts hold at least the plan's hot keys. */
export function judgeStore(name: "cache_warm" | "cache_rewarmed", stage: Stage, status: number, health: unknown, hotKeys: number): TargetResult {
  const lkg = (health as HealthLkg | undefined)?.lkg;
  const entries = lkg?.memory?.entries;
  const stores = lkg?.counters?.stores ?? {};
  const storesText = Object.entries(stores).map(([tier, n]) => `${tier} ${n}`).join(", ");
  const held = entries ?? Object.values(stores).reduce((a, b) => a + b, 0);
  return {
    name: `${stage}: ${name}`,
    target: `the store holds at least the ${hotKeys} hot keys (health page: memory entries, else stores per tier)${name === "cache_rewarmed" ? "; no purge ran before it" : ""}`,
    measured: status === 200 && lkg ? `${entries !== undefined ? `${entries} entries in memory` : "no memory tier"}; stores ${storesText || "none"}` : `health page answered ${status}`,
    pass: status === 200 && held >= hotKeys,
  };
}

export interface CheckTargets {
  workerUrl: string;
  adminToken: string;
  /** Region name -> its fake origin's URL. */
  origins: Record<string, string>;
  hotKeys: number;
}

/** Runs a stage's checks now and judges them. */
export async function runChecks(stage: Stage, names: DrillCheckName[], t: CheckTargets): Promise<TargetResult[]> {
  if (names.length === 0) return [];
  const direct: Record<string, Fetched[]> = {};
  const needsDirect = names.some((n) => n !== "cache_warm" && n !== "cache_rewarmed");
  if (needsDirect) for (const [region, url] of Object.entries(t.origins)) direct[region] = await Promise.all(GOLD_PROBES.map((p) => get(`${url}${p}`)));
  const out: TargetResult[] = [];
  for (const name of names) {
    if (name === "env_parity" || name === "index_hash_equal" || name === "index_hash") out.push(judgeStamps(name, stage, direct));
    else if (name === "answers_equal") {
      // One at a time, as a client reading the gold set would.
      const via: Fetched[] = [];
      for (const p of GOLD_PROBES) via.push(await get(`${t.workerUrl}${p}`));
      out.push(judgeAnswers(stage, direct, via));
    } else {
      const res = await fetch(`${t.workerUrl}/__edge/health`, { headers: { authorization: `Bearer ${t.adminToken}` } }).catch(() => undefined);
      const body = res ? await res.json().catch(() => undefined) : undefined;
      out.push(judgeStore(name, stage, res?.status ?? 0, body, t.hotKeys));
    }
  }
  return out;
}
