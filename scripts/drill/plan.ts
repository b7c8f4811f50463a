/** Drill plans: JSON files in scripts/drill/plans/, validated with every problem named at once. */
import { readFile, readdir } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { profileProblems } from "../lib/latency-profile.ts";
import { routingProblems } from "./regions.ts";
import { isSeedPlan, translateSeed } from "./seed.ts";
import { ADMIN_ACTIONS, DRILL_CHECKS, WRITE_ADMIN_ACTIONS, type FaultSetting, type Phase, type Plan } from "./types.ts";

export const PLANS_DIR = join(dirname(fileURLToPath(import.meta.url)), "plans");
export const DEFAULT_PLAN = "partition";
/** Bounds that keep every drill finite and loopback-sized on a 2-core machine. */
export const MAX_RATE = 20_000;
const MAX_TOTAL_S = 300;

export async function listPlans(): Promise<string[]> {
  return (await readdir(PLANS_DIR)).filter((f) => f.endsWith(".json")).map((f) => basename(f, ".json")).sort();
}

/** A plan by name (from plans/) or by path to a JSON file: a drill plan, or the runbook's seed plan format (seed.ts). */
export async function loadPlan(nameOrPath: string): Promise<Plan> {
  // `npm run` starts in the package root; a path is meant from where the user typed it.
  const path = nameOrPath.endsWith(".json") ? resolve(process.env["INIT_CWD"] ?? process.cwd(), nameOrPath) : join(PLANS_DIR, `${nameOrPath}.json`);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new Error(`no plan ${JSON.stringify(nameOrPath)}: known plans are ${(await listPlans()).join(", ")}, or give a path to a .json file`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`plan ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (isSeedPlan(raw)) {
    const { plan, problems } = translateSeed(raw, basename(path, ".json"));
    // The translation must itself be a valid plan; a problem there is the drill's, and named as such.
    problems.push(...(problems.length === 0 ? validatePlan(plan).map((p) => `(translated plan) ${p}`) : []));
    if (problems.length > 0) throw new Error(`seed plan ${path} has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
    return plan;
  }
  const problems = validatePlan(raw);
  if (problems.length > 0) throw new Error(`plan ${path} has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
  return normalizePlan(raw as Plan);
}

/** A phase may give one admin action or a list; the drill reads a list. */
function normalizePlan(plan: Plan): Plan {
  for (const phase of plan.phases) {
    const admin = phase.admin as unknown;
    if (admin !== undefined && !Array.isArray(admin)) phase.admin = [admin as NonNullable<Phase["admin"]>[number]];
  }
  return plan;
}

const MODES = ["healthy", "status", "blackhole", "partition", "reset", "truncate", "stall-body", "flaky"];

export function validatePlan(raw: unknown): string[] {
  const problems: string[] = [];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return ["a plan must be a JSON object"];
  const plan = raw as Record<string, unknown>;
  if (typeof plan["name"] !== "string" || !plan["name"]) problems.push(`name must be a non-empty string, got ${JSON.stringify(plan["name"])}`);
  if (typeof plan["description"] !== "string") problems.push(`description must be a string, got ${JSON.stringify(plan["description"])}`);
  if (plan["vars"] !== undefined) {
    const vars = plan["vars"];
    if (typeof vars !== "object" || vars === null || Array.isArray(vars)) problems.push(`vars must be an object of strings`);
    else for (const [k, v] of Object.entries(vars)) if (typeof v !== "string") problems.push(`vars.${k} must be a string (as wrangler passes [vars]), got ${JSON.stringify(v)}`);
  }
  const mix = plan["mix"] as Record<string, unknown> | undefined;
  if (typeof mix !== "object" || mix === null) problems.push("mix is required: {hotKeys, coldKeys, hotShare, credentialedShare, users, writeShare}");
  else {
    for (const k of ["hotKeys", "coldKeys", "users"]) {
      if (!Number.isInteger(mix[k]) || (mix[k] as number) < 1) problems.push(`mix.${k} must be a whole number >= 1, got ${JSON.stringify(mix[k])}`);
    }
    for (const k of ["hotShare", "credentialedShare", "writeShare"]) {
      if (typeof mix[k] !== "number" || (mix[k] as number) < 0 || (mix[k] as number) > 1) problems.push(`mix.${k} must be a share from 0 to 1, got ${JSON.stringify(mix[k])}`);
    }
  }
  if (mix && mix["hostile"] !== undefined) problems.push(...validateHostile(mix["hostile"]));
  const regions = validateRegions(plan, problems);
  if (mix && mix["sticky"] !== undefined) {
    const st = mix["sticky"] as Record<string, unknown> | null;
    if (!regions) problems.push("mix.sticky needs regions: sticky clients keep a region");
    else if (typeof st !== "object" || st === null) problems.push(`mix.sticky must be {clients, share}, got ${JSON.stringify(st)}`);
    else {
      if (!(Number.isInteger(st["clients"]) && (st["clients"] as number) >= 1 && (st["clients"] as number) <= 1000)) problems.push(`mix.sticky.clients must be a whole number from 1 to 1000, got ${JSON.stringify(st["clients"])}`);
      if (!(typeof st["share"] === "number" && st["share"] > 0 && st["share"] <= 0.5)) problems.push(`mix.sticky.share must be above 0 and at most 0.5, got ${JSON.stringify(st["share"])}`);
    }
  }
  if (mix && mix["writes"] !== undefined) problems.push(...validateWriteMix(mix["writes"], plan["writes"] !== undefined));
  if (plan["writes"] !== undefined) problems.push(...validateWrites(plan["writes"], regions));
  const phases = plan["phases"];
  if (!Array.isArray(phases) || phases.length === 0) {
    problems.push("phases must be a non-empty list");
    return problems;
  }
  let total = 0;
  let baselines = 0;
  phases.forEach((p: unknown, i) => {
    const at = `phases[${i}]`;
    if (typeof p !== "object" || p === null) return problems.push(`${at} must be an object`);
    const phase = p as Partial<Phase> & Record<string, unknown>;
    if (typeof phase.name !== "string" || !phase.name) problems.push(`${at}.name must be a non-empty string`);
    if (typeof phase.durationS !== "number" || phase.durationS <= 0) problems.push(`${at}.durationS must be > 0, got ${JSON.stringify(phase.durationS)}`);
    else total += phase.durationS;
    if (typeof phase.rate !== "number" || phase.rate <= 0 || phase.rate > MAX_RATE) problems.push(`${at}.rate must be from 1 to ${MAX_RATE} req/s, got ${JSON.stringify(phase.rate)}`);
    if (typeof phase.fault !== "boolean") problems.push(`${at}.fault must be true or false, got ${JSON.stringify(phase.fault)}`);
    if (phase.baseline === true) baselines++;
    if (phase.hostile !== undefined && typeof phase.hostile !== "boolean") problems.push(`${at}.hostile must be true or false, got ${JSON.stringify(phase.hostile)}`);
    if (phase.hostile === true && !(plan["mix"] as Plan["mix"] | undefined)?.hostile?.length) problems.push(`${at}.hostile is true but mix.hostile names no hostile client`);
    if (typeof phase.origins !== "object" || phase.origins === null) problems.push(`${at}.origins must map origin names to a fault setting`);
    else
      for (const [name, setting] of Object.entries(phase.origins)) {
        if (regions && !regions.includes(name)) problems.push(`${at}.origins.${name} is not one of the regions (${regions.join(", ")})`);
        problems.push(...validateFault(`${at}.origins.${name}`, setting));
      }
    if (phase.admin !== undefined) problems.push(...validateAdmin(`${at}.admin`, phase.admin, regions));
    if (phase.writeAdmin !== undefined) problems.push(...validateWriteAdmin(`${at}.writeAdmin`, phase.writeAdmin, regions, plan["writes"] !== undefined));
  });
  if (total > MAX_TOTAL_S) problems.push(`phases last ${total} s in all; at most ${MAX_TOTAL_S} s`);
  if (plan["latency"] !== undefined) problems.push(...validateLatency(plan["latency"], regions ?? phases.flatMap((p: { origins?: unknown }) => (typeof p?.origins === "object" && p.origins !== null ? Object.keys(p.origins) : []))));
  if (baselines !== 1) problems.push(`exactly one phase must be the baseline ("baseline": true), found ${baselines}`);
  return problems;
}

/** `latency`: a profile per origin the plan names (a region's name in a multi-region plan). */
function validateLatency(raw: unknown, origins: string[]): string[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [`latency must map origin names to {medianMs, p99Ms}, got ${JSON.stringify(raw)}`];
  const problems: string[] = [];
  for (const [name, profile] of Object.entries(raw)) {
    if (!origins.includes(name)) problems.push(`latency.${name} is not an origin of this plan (${[...new Set(origins)].join(", ")})`);
    problems.push(...profileProblems(`latency.${name}`, profile));
  }
  return problems;
}

/** The region names of a multi-region plan (undefined for a single-origin plan), with its problems added. */
function validateRegions(plan: Record<string, unknown>, problems: string[]): string[] | undefined {
  const raw = plan["regions"];
  const vars = (plan["vars"] ?? {}) as Record<string, unknown>;
  if (raw === undefined) {
    for (const k of ["routing", "checks"]) if (plan[k] !== undefined) problems.push(`${k} needs regions (a multi-region plan)`);
    return undefined;
  }
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > 8) {
    problems.push(`regions must list 2 to 8 regions {name, weight?, home?, priority?}, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const names: string[] = [];
  let homes = 0;
  raw.forEach((r: unknown, i) => {
    const at = `regions[${i}]`;
    if (typeof r !== "object" || r === null) return problems.push(`${at} must be an object {name, weight?, home?, priority?}`);
    const g = r as Record<string, unknown>;
    if (typeof g["name"] !== "string" || !/^[a-z0-9-]{1,32}$/.test(g["name"])) problems.push(`${at}.name must be 1-32 of a-z, 0-9, -, got ${JSON.stringify(g["name"])}`);
    else if (names.includes(g["name"])) problems.push(`${at}.name ${JSON.stringify(g["name"])} is used twice`);
    else names.push(g["name"]);
    if (g["weight"] !== undefined && !(typeof g["weight"] === "number" && g["weight"] >= 0)) problems.push(`${at}.weight must be a number >= 0, got ${JSON.stringify(g["weight"])}`);
    if (g["home"] !== undefined && typeof g["home"] !== "boolean") problems.push(`${at}.home must be true or false, got ${JSON.stringify(g["home"])}`);
    if (g["home"] === true) homes++;
    if (g["priority"] !== undefined && !Number.isInteger(g["priority"])) problems.push(`${at}.priority must be a whole number, got ${JSON.stringify(g["priority"])}`);
  });
  if (homes > 1) problems.push(`at most one region is home, found ${homes}`);
  if (plan["routing"] !== undefined) problems.push(...routingProblems(plan["routing"]));
  for (const k of ["ORIGINS", "ROUTING", "ADMIN_TOKEN", "WRITES"]) if (vars[k] !== undefined) problems.push(`vars.${k} is set by the drill for a multi-region plan (use regions / routing / writes)`);
  const checks = plan["checks"];
  if (checks !== undefined) {
    if (typeof checks !== "object" || checks === null) problems.push(`checks must be {pre?, post?}, got ${JSON.stringify(checks)}`);
    else
      for (const [stage, list] of Object.entries(checks)) {
        if (stage !== "pre" && stage !== "post") problems.push(`checks.${stage}: the stages are pre and post`);
        else if (!Array.isArray(list) || !list.every((c) => (DRILL_CHECKS as readonly unknown[]).includes(c))) problems.push(`checks.${stage} must list checks from ${DRILL_CHECKS.join(", ")}, got ${JSON.stringify(list)}`);
      }
  }
  return names;
}

function validateAdmin(at: string, raw: unknown, regions: string[] | undefined): string[] {
  if (!regions) return [`${at} needs regions (a multi-region plan)`];
  const list = Array.isArray(raw) ? raw : [raw];
  const problems: string[] = [];
  list.forEach((a: unknown, i) => {
    const where = Array.isArray(raw) ? `${at}[${i}]` : at;
    if (typeof a !== "object" || a === null) return problems.push(`${where} must be {region, action, percent?, force?}`);
    const x = a as Record<string, unknown>;
    if (typeof x["region"] !== "string" || !regions.includes(x["region"])) problems.push(`${where}.region must be one of ${regions.join(", ")}, got ${JSON.stringify(x["region"])}`);
    if (!(ADMIN_ACTIONS as readonly unknown[]).includes(x["action"])) problems.push(`${where}.action must be one of ${ADMIN_ACTIONS.join(", ")}, got ${JSON.stringify(x["action"])}`);
    if (x["action"] === "shed" && !(typeof x["percent"] === "number" && x["percent"] >= 0 && x["percent"] <= 100)) problems.push(`${where}.percent must be 0..100 for shed, got ${JSON.stringify(x["percent"])}`);
    if (x["action"] !== "shed" && x["percent"] !== undefined) problems.push(`${where}.percent is for shed only`);
    if (x["force"] !== undefined && typeof x["force"] !== "boolean") problems.push(`${where}.force must be true or false, got ${JSON.stringify(x["force"])}`);
  });
  return problems;
}

/** The write mix's shares: of all requests (share, webhookShare), or of their own sends (retries). */
function validateWriteMix(raw: unknown, hasWrites: boolean): string[] {
  if (!hasWrites) return ["mix.writes needs writes (the worker's WRITES setting)"];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [`mix.writes must be {share, webhookShare, retryShare?, changedShare?, webhookRetryShare?, path?, webhookPath?}, got ${JSON.stringify(raw)}`];
  const m = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of ["share", "webhookShare"]) if (!(typeof m[k] === "number" && (m[k] as number) >= 0 && (m[k] as number) <= 1)) problems.push(`mix.writes.${k} must be a share from 0 to 1, got ${JSON.stringify(m[k])}`);
  if (typeof m["share"] === "number" && typeof m["webhookShare"] === "number" && m["share"] + m["webhookShare"] > 1) problems.push(`mix.writes.share + webhookShare must be at most 1, got ${m["share"] + m["webhookShare"]}`);
  for (const k of ["retryShare", "changedShare", "webhookRetryShare"]) if (m[k] !== undefined && !(typeof m[k] === "number" && (m[k] as number) >= 0 && (m[k] as number) <= 0.5)) problems.push(`mix.writes.${k} must be a share from 0 to 0.5, got ${JSON.stringify(m[k])}`);
  for (const k of ["path", "webhookPath"]) if (m[k] !== undefined && !(typeof m[k] === "string" && /^\/[\w./-]{0,200}$/.test(m[k]))) problems.push(`mix.writes.${k} must be a path, got ${JSON.stringify(m[k])}`);
  for (const k of Object.keys(m)) if (!["share", "webhookShare", "retryShare", "changedShare", "webhookRetryShare", "path", "webhookPath"].includes(k)) problems.push(`mix.writes.${k} is not a write mix field`);
  return problems;
}

function validateWrites(raw: unknown, regions: string[] | undefined): string[] {
  if (!regions) return ["writes needs regions (a multi-region plan): one writer among several regions"];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [`writes must be {config, promote, emitFrom?, freezeFollowers?}, got ${JSON.stringify(raw)}`];
  const w = raw as Record<string, unknown>;
  const problems: string[] = [];
  const config = w["config"];
  if (typeof config !== "object" || config === null || Array.isArray(config)) problems.push(`writes.config must be the worker's WRITES object, got ${JSON.stringify(config)}`);
  else {
    if ((config as Record<string, unknown>)["auto_promote"] !== undefined) problems.push("writes.config.auto_promote is set by the drill from writes.promote");
    const writer = (config as Record<string, unknown>)["writer"];
    if (writer !== undefined && !(typeof writer === "string" && regions.includes(writer))) problems.push(`writes.config.writer must be one of the regions (${regions.join(", ")}), got ${JSON.stringify(writer)}`);
  }
  if (w["promote"] !== "auto" && w["promote"] !== "admin") problems.push(`writes.promote must be "auto" (the worker promotes on the writer's breaker) or "admin" (the phases' writeAdmin), got ${JSON.stringify(w["promote"])}`);
  if (w["emitFrom"] !== undefined && !(typeof w["emitFrom"] === "string" && regions.includes(w["emitFrom"]))) problems.push(`writes.emitFrom must be one of the regions (${regions.join(", ")}), got ${JSON.stringify(w["emitFrom"])}`);
  if (w["freezeFollowers"] !== undefined && w["freezeFollowers"] !== true) problems.push(`writes.freezeFollowers can only be true: a follower never takes a direct write (one writer region), got ${JSON.stringify(w["freezeFollowers"])}`);
  for (const k of Object.keys(w)) if (!["config", "promote", "emitFrom", "freezeFollowers"].includes(k)) problems.push(`writes.${k} is not a writes field`);
  return problems;
}

function validateWriteAdmin(at: string, raw: unknown, regions: string[] | undefined, hasWrites: boolean): string[] {
  if (!hasWrites || !regions) return [`${at} needs writes and regions`];
  if (!Array.isArray(raw)) return [`${at} must be a list of {action: promote|freeze|unfreeze, region?, reason?}`];
  const problems: string[] = [];
  raw.forEach((a: unknown, i) => {
    const where = `${at}[${i}]`;
    if (typeof a !== "object" || a === null) return problems.push(`${where} must be {action, region?, reason?}`);
    const x = a as Record<string, unknown>;
    if (!(WRITE_ADMIN_ACTIONS as readonly unknown[]).includes(x["action"])) problems.push(`${where}.action must be one of ${WRITE_ADMIN_ACTIONS.join(", ")}, got ${JSON.stringify(x["action"])}`);
    if (x["action"] === "promote" && !(typeof x["region"] === "string" && regions.includes(x["region"]))) problems.push(`${where}.region must be one of ${regions.join(", ")}, got ${JSON.stringify(x["region"])}`);
    if (x["action"] !== "promote" && x["region"] !== undefined) problems.push(`${where}.region is for promote only`);
    if (x["reason"] !== undefined && !(typeof x["reason"] === "string" && x["reason"].length <= 200)) problems.push(`${where}.reason must be a string of at most 200 characters`);
  });
  return problems;
}

function validateHostile(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [`mix.hostile must be a list of {name, share, setting}, got ${JSON.stringify(raw)}`];
  const problems: string[] = [];
  let total = 0;
  const names = new Set<string>();
  raw.forEach((h: unknown, i) => {
    const at = `mix.hostile[${i}]`;
    if (typeof h !== "object" || h === null) return problems.push(`${at} must be an object {name, share, setting}`);
    const stream = h as Record<string, unknown>;
    const name = stream["name"];
    if (typeof name !== "string" || !/^[a-z0-9-]{1,32}$/.test(name)) problems.push(`${at}.name must be 1-32 of a-z, 0-9, -, got ${JSON.stringify(name)}`);
    else if (names.has(name)) problems.push(`${at}.name ${JSON.stringify(name)} is used twice`);
    else names.add(name);
    const share = stream["share"];
    if (typeof share !== "number" || share <= 0 || share > 0.5) problems.push(`${at}.share must be above 0 and at most 0.5, got ${JSON.stringify(share)}`);
    else total += share;
    problems.push(...validateFault(`${at}.setting`, stream["setting"]));
  });
  if (total > 0.5) problems.push(`mix.hostile shares add up to ${total}; at most 0.5, so most of the mix stays the users the targets are about`);
  return problems;
}

function validateFault(at: string, raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null) return [`${at} must be an object with a mode`];
  const f = raw as Partial<FaultSetting> & Record<string, unknown>;
  if (typeof f.mode !== "string" || !MODES.includes(f.mode)) return [`${at}.mode must be one of ${MODES.join(", ")}, got ${JSON.stringify(f.mode)}`];
  const problems: string[] = [];
  if (f.mode === "status" && !(Number.isInteger(f["status"]) && (f["status"] as number) >= 200 && (f["status"] as number) <= 599)) {
    problems.push(`${at}.status must be 200-599, got ${JSON.stringify(f["status"])}`);
  }
  if (f.mode === "flaky" && !(typeof f["failRate"] === "number" && f["failRate"] >= 0 && f["failRate"] <= 1)) {
    problems.push(`${at}.failRate must be 0..1, got ${JSON.stringify(f["failRate"])}`);
  }
  if (f["version"] !== undefined && !(typeof f["version"] === "string" && /^[\w.-]{1,32}$/.test(f["version"]))) problems.push(`${at}.version must be 1-32 of letters, digits, . _ -, got ${JSON.stringify(f["version"])}`);
  for (const k of ["latencyMs", "jitterMs"]) {
    if (f[k] !== undefined && !(typeof f[k] === "number" && (f[k] as number) >= 0 && (f[k] as number) <= 60_000)) problems.push(`${at}.${k} must be 0..60000 ms, got ${JSON.stringify(f[k])}`);
  }
  return problems;
}
