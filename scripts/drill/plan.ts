/** Drill plans: JSON files in scripts/drill/plans/, validated with every problem named at once. */
import { readFile, readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FaultSetting, Phase, Plan } from "./types.ts";

export const PLANS_DIR = join(dirname(fileURLToPath(import.meta.url)), "plans");
export const DEFAULT_PLAN = "partition";
/** Bounds that keep every drill finite and loopback-sized on a 2-core machine. */
export const MAX_RATE = 20_000;
const MAX_TOTAL_S = 300;

export async function listPlans(): Promise<string[]> {
  return (await readdir(PLANS_DIR)).filter((f) => f.endsWith(".json")).map((f) => basename(f, ".json")).sort();
}

/** A plan by name (from plans/) or by path to a JSON file. */
export async function loadPlan(nameOrPath: string): Promise<Plan> {
  const path = nameOrPath.endsWith(".json") ? nameOrPath : join(PLANS_DIR, `${nameOrPath}.json`);
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
  const problems = validatePlan(raw);
  if (problems.length > 0) throw new Error(`plan ${path} has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
  return raw as Plan;
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
    else for (const [name, setting] of Object.entries(phase.origins)) problems.push(...validateFault(`${at}.origins.${name}`, setting));
  });
  if (total > MAX_TOTAL_S) problems.push(`phases last ${total} s in all; at most ${MAX_TOTAL_S} s`);
  if (baselines !== 1) problems.push(`exactly one phase must be the baseline ("baseline": true), found ${baselines}`);
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
  for (const k of ["latencyMs", "jitterMs"]) {
    if (f[k] !== undefined && !(typeof f[k] === "number" && (f[k] as number) >= 0 && (f[k] as number) <= 60_000)) problems.push(`${at}.${k} must be 0..60000 ms, got ${JSON.stringify(f[k])}`);
  }
  return problems;
}
