/**
 * Self-check of the drill report writer: builds synthetic runs (a 60 s outage with a latency
 * spike, fallback answers and a breaker going closed -> open -> half-open -> closed; and a
 * brownout with adjacent short fault phases on two origins), writes their reports, checks that
 * every SVG is well-formed XML and that report.md / report.json hold what they must, and, when
 * Debian's chromium is installed, renders each SVG to a PNG to look at.
 *
 *   node scripts/drill/report-check.ts [--out DIR]     (default: a new temp dir)
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeReport, type PhaseWindow, type ReportInput } from "./report.ts";
import type { Phase, Plan, SecondStats } from "./types.ts";

/** Deterministic pseudo-random numbers, so the synthetic runs are the same every time. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function windows(phases: Phase[]): PhaseWindow[] {
  let at = 0;
  return phases.map((p) => {
    const w = { name: p.name, fromS: at, toS: at + p.durationS, fault: p.fault, origins: p.origins as Record<string, unknown> };
    at += p.durationS;
    return w;
  });
}

const MIX: Plan["mix"] = { hotKeys: 50, coldKeys: 2000, hotShare: 0.8, credentialedShare: 0.05, users: 20, writeShare: 0.02 };

/** 60 s: 20 s healthy, 20 s origin blackholed, 20 s recovery. */
export function outageInput(): ReportInput {
  const rand = rng(7);
  const plan: Plan = {
    name: "synthetic-outage",
    description: "Synthetic: the origin blackholes for 20 s; hot keys must be answered from the LKG copy with p99 < 50 ms.",
    vars: { ORIGIN_TIMEOUT_MS: "1500" },
    mix: MIX,
    phases: [
      { name: "baseline", durationS: 20, rate: 200, fault: false, baseline: true, origins: { primary: { mode: "healthy" } } },
      { name: "blackhole", durationS: 20, rate: 200, fault: true, origins: { primary: { mode: "blackhole" } } },
      { name: "recovery", durationS: 20, rate: 200, fault: false, origins: { primary: { mode: "healthy" } } },
    ],
  };
  const breakerAt = (t: number): string => (t < 21 ? "closed" : t === 30 || t === 40 ? "half-open" : t < 41 ? "open" : "closed");
  const seconds: SecondStats[] = [];
  for (let t = 0; t < 60; t++) {
    const phase = t < 20 ? 0 : t < 40 ? 1 : 2;
    const sent = 200;
    const base = 1.6 + rand() * 0.6;
    let p50 = base;
    let p95 = base * 2.1 + rand();
    let p99 = base * 3 + rand() * 2;
    let fallback = 0;
    let c5 = 0;
    let err = 0;
    let c4 = Math.round(rand() * 3);
    let originRequests = 196 + Math.round(rand() * 4);
    if (phase === 1) {
      // First second: requests hang until the origin timeout, the breaker trips.
      if (t === 20) {
        p50 = 480;
        p95 = 1450;
        p99 = 1510;
        err = 14;
        c5 = 9;
        fallback = 120;
        originRequests = 60;
      } else {
        p50 = 2.4 + rand();
        p95 = 6 + rand() * 3;
        p99 = 11 + rand() * 8;
        fallback = 178 + Math.round(rand() * 6);
        c5 = 16 + Math.round(rand() * 4); // cold keys without a copy: fast 503
        originRequests = t === 30 ? 1 : 0;
        if (t === 30) p99 = 1500; // the failed half-open probe waits for the timeout
      }
      c4 = Math.round(rand() * 2);
    } else if (t === 40) {
      p99 = 22;
      fallback = 90;
      originRequests = 110;
    }
    const ok2 = sent - c4 - c5 - err;
    seconds.push({
      second: t,
      phase,
      sent,
      answered: sent - err,
      late: 0,
      unsent: 0,
      statuses: { "2xx": ok2, "4xx": c4, "5xx": c5, err },
      fallback,
      p50,
      p95,
      p99,
      max: p99 * 1.3,
      breaker: breakerAt(t),
      originRequests,
    });
  }
  const totals = {
    requests: seconds.reduce((a, s) => a + s.sent, 0),
    answered: seconds.reduce((a, s) => a + s.answered, 0),
    "fallback answers": seconds.reduce((a, s) => a + s.fallback, 0),
    "DO calls per 1000 requests": 0.42,
    "origin requests while open": 1,
    "p99 during fault (ms)": 14.8,
  };
  return {
    plan,
    startedAt: "2026-01-01T12:00:00.000Z",
    durationS: 60,
    command: "PATH=$PWD/node_modules/.bin:$PATH node scripts/drill/run.ts synthetic-outage",
    seconds,
    targets: [
      { name: "p99 during fault", target: "< 50 ms", measured: "14.8 ms (first fault second excluded: 1510 ms)", pass: true },
      { name: "hot keys answered during fault", target: "100 %", measured: "100 % (3,562 of 3,562)", pass: true },
      { name: "origin requests while open", target: "<= 1 probe at a time", measured: "1 | max concurrency 1", pass: true },
      { name: "cold keys fail fast", target: "503 in < 50 ms", measured: "p99 1,510 ms (timeouts in second 20)", pass: false },
      { name: "no cross-user leaks", target: "0", measured: "0", pass: true },
    ],
    phaseWindows: windows(plan.phases),
    totals,
    environment: { node: process.version, cores: "2", runtime: "synthetic <no runtime> & \"quotes\"" },
    notes: ["Synthetic data written by scripts/drill/report-check.ts; not a measurement.", "Escaping check: <b>not bold</b> & 'quotes' | pipe."],
    dataPointsFile: "datapoints.json",
  };
}

/** 46 s brownout with adjacent short fault phases on two origins (exercises band-label placement). */
export function brownoutInput(): ReportInput {
  const rand = rng(11);
  const plan: Plan = {
    name: "synthetic-brownout",
    description: "Synthetic: a slowing primary with a rising share of 503s, a secondary that resets once.",
    mix: MIX,
    phases: [
      { name: "baseline", durationS: 10, rate: 1000, fault: false, baseline: true, origins: { primary: { mode: "healthy" }, secondary: { mode: "healthy" } } },
      { name: "slow", durationS: 6, rate: 1000, fault: true, origins: { primary: { mode: "healthy", latencyMs: 20, jitterMs: 15 } } },
      { name: "slow-10pct", durationS: 6, rate: 1000, fault: true, origins: { primary: { mode: "flaky", failRate: 0.1, status: 503, latencyMs: 20, jitterMs: 15 } } },
      { name: "slow-30pct", durationS: 6, rate: 1000, fault: true, origins: { primary: { mode: "flaky", failRate: 0.3, status: 503, latencyMs: 20 } } },
      { name: "slow-60pct-and-resets", durationS: 3, rate: 1000, fault: true, origins: { primary: { mode: "flaky", failRate: 0.6, status: 503 }, secondary: { mode: "reset" } } },
      { name: "502s", durationS: 2, rate: 1000, fault: true, origins: { primary: { mode: "status", status: 502 }, secondary: { mode: "healthy" } } },
      { name: "healed", durationS: 13, rate: 1000, fault: false, origins: { primary: { mode: "healthy" } } },
    ],
  };
  const pw = windows(plan.phases);
  const seconds: SecondStats[] = [];
  for (let t = 0; t < 46; t++) {
    const phase = pw.findIndex((w) => t >= w.fromS && t < w.toS);
    const name = pw[phase]!.name;
    const slow = name.startsWith("slow") ? 20 : 0;
    const failShare = name === "slow-10pct" ? 0.1 : name === "slow-30pct" ? 0.3 : name.startsWith("slow-60") ? 0.6 : name === "502s" ? 1 : 0;
    const open = failShare >= 0.3 && t % 6 !== 0;
    const fallback = open ? 900 : Math.round(1000 * failShare * 0.9);
    const c5 = open ? 40 : Math.round(1000 * failShare * 0.1);
    const p99 = slow + 3 + rand() * (slow ? 25 : 3);
    seconds.push({
      second: t,
      phase,
      sent: 1000,
      answered: 1000,
      late: 0,
      unsent: 0,
      statuses: { "2xx": 1000 - c5, "4xx": 0, "5xx": c5, err: 0 },
      fallback,
      p50: slow + 1 + rand(),
      p95: slow + 2 + rand() * (slow ? 15 : 2),
      p99,
      max: p99 * 1.5,
      breaker: open ? (t % 6 === 3 ? "half-open" : "open") : "closed",
      originRequests: open ? 1 : 1000,
    });
  }
  return {
    plan,
    startedAt: "2026-01-01T12:10:00.000Z",
    durationS: 46,
    command: "PATH=$PWD/node_modules/.bin:$PATH node scripts/drill/run.ts synthetic-brownout",
    seconds,
    targets: [{ name: "p99 during fault", target: "< 50 ms", measured: "46.1 ms", pass: true }],
    phaseWindows: pw,
    totals: { requests: 46000 },
    environment: { node: process.version },
    notes: [],
  };
}

/**
 * A plausible run of any plan (the shipped plans under plans/), so that every real phase layout
 * (short adjacent fault phases, fractional bounds, many bands) is drawn at least once.
 */
export function synthesize(plan: Plan): ReportInput {
  const rand = rng(plan.name.length * 31 + plan.phases.length);
  const pw = windows(plan.phases);
  const durationS = pw[pw.length - 1]?.toS ?? 0;
  const seconds: SecondStats[] = [];
  let faultSince = -1;
  for (let t = 0; t < Math.ceil(durationS); t++) {
    const phase = Math.max(0, pw.findIndex((w) => t >= Math.floor(w.fromS) && t < w.toS));
    const w = pw[phase]!;
    const rate = plan.phases[phase]?.rate ?? 100;
    if (w.fault && faultSince < 0) faultSince = t;
    if (!w.fault) faultSince = -1;
    const inFault = faultSince >= 0 ? t - faultSince : -1;
    const breaker = inFault < 0 ? "closed" : inFault === 0 ? "closed" : inFault % 5 === 0 ? "half-open" : "open";
    const fallback = inFault < 0 ? 0 : Math.round(rate * (inFault === 0 ? 0.5 : 0.9));
    const c5 = inFault < 0 ? 0 : Math.round(rate * 0.07);
    const err = inFault === 0 ? Math.round(rate * 0.03) : 0;
    const base = 1.5 + rand();
    seconds.push({
      second: t,
      phase,
      sent: rate,
      answered: rate - err,
      late: 0,
      unsent: 0,
      statuses: { "2xx": rate - c5 - err, "4xx": Math.round(rand() * 3), "5xx": c5, err },
      fallback,
      p50: base,
      p95: inFault === 0 ? 900 : base * 2 + rand() * (inFault > 0 ? 5 : 1),
      p99: inFault === 0 ? 5000 : base * 3 + rand() * (inFault > 0 ? 20 : 3),
      max: inFault === 0 ? 5000 : 40,
      breaker,
      originRequests: breaker === "open" ? 0 : breaker === "half-open" ? 1 : Math.round(rate * 0.98),
    });
  }
  return {
    plan,
    startedAt: "2026-01-01T13:00:00.000Z",
    durationS,
    command: `PATH=$PWD/node_modules/.bin:$PATH node scripts/drill/run.ts ${plan.name}`,
    seconds,
    targets: [{ name: "p99 during fault (synthetic)", target: "< 50 ms", measured: "n/a", pass: true }],
    phaseWindows: pw,
    totals: { requests: seconds.reduce((a, s) => a + s.sent, 0) },
    environment: { node: process.version },
    notes: ["Synthetic numbers drawn on a real plan's phases; not a measurement."],
  };
}

async function shippedPlans(): Promise<Plan[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "plans");
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dir, n), "utf8")) as Plan));
}

/**
 * A small XML well-formedness check (enough for our generated SVG): one root element,
 * properly nested and closed tags, quoted and unique attributes, known or numeric entities,
 * no raw '<' or '&' in text or attribute values.
 */
export function checkWellFormed(xml: string): string[] {
  const errors: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const name = /^[A-Za-z_:][\w:.-]*/;
  const checkText = (text: string, where: number): void => {
    for (const m of text.matchAll(/&([^;\s]*);?/g)) {
      const ent = m[0];
      if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(ent)) errors.push(`bad entity ${JSON.stringify(ent.slice(0, 12))} near ${where}`);
    }
    if (text.includes("<")) errors.push(`raw '<' near ${where}`);
  };
  if (xml.startsWith("<?xml")) i = xml.indexOf("?>") + 2;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    checkText(text, i);
    if (stack.length === 0 && text.trim() !== "") errors.push(`text outside the root near ${i}`);
    if (lt < 0) break;
    if (xml.startsWith("<!--", lt)) {
      const end = xml.indexOf("-->", lt);
      if (end < 0) return [...errors, "unterminated comment"];
      i = end + 3;
      continue;
    }
    const gt = xml.indexOf(">", lt);
    if (gt < 0) return [...errors, `unterminated tag at ${lt}`];
    let tag = xml.slice(lt + 1, gt);
    // '>' inside a quoted attribute value would end the tag early; extend until quotes balance.
    let end = gt;
    while ((tag.match(/"/g)?.length ?? 0) % 2 === 1) {
      const next = xml.indexOf(">", end + 1);
      if (next < 0) return [...errors, `unterminated attribute at ${lt}`];
      end = next;
      tag = xml.slice(lt + 1, end);
    }
    i = end + 1;
    if (tag.startsWith("/")) {
      const n = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== n) errors.push(`</${n}> closes <${open ?? "nothing"}> at ${lt}`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const n = name.exec(body)?.[0];
    if (!n) {
      errors.push(`bad tag name at ${lt}: ${JSON.stringify(body.slice(0, 20))}`);
      continue;
    }
    let rest = body.slice(n.length);
    const seen = new Set<string>();
    const attr = /^\s+([A-Za-z_:][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/;
    for (;;) {
      const m = attr.exec(rest);
      if (!m) break;
      if (seen.has(m[1]!)) errors.push(`duplicate attribute ${m[1]} on <${n}> at ${lt}`);
      seen.add(m[1]!);
      checkText(m[3] ?? m[4] ?? "", lt);
      rest = rest.slice(m[0].length);
    }
    if (rest.trim() !== "") errors.push(`malformed attributes on <${n}> at ${lt}: ${JSON.stringify(rest.slice(0, 30))}`);
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(n);
  }
  if (stack.length) errors.push(`unclosed: ${stack.join(" > ")}`);
  if (roots !== 1) errors.push(`expected one root element, found ${roots}`);
  return errors;
}

function which(cmd: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Renders an SVG to a PNG with headless chromium; returns the PNG path or undefined. */
function renderPng(chromium: string, svg: string, width: number, height: number): string | undefined {
  const png = svg.replace(/\.svg$/, ".png");
  try {
    execFileSync(
      chromium,
      ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", `--window-size=${width},${height}`, `--screenshot=${png}`, pathToFileURL(svg).href],
      { stdio: "ignore", timeout: 60_000 },
    );
    return existsSync(png) ? png : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const outFlag = argv.indexOf("--out");
  const root = outFlag >= 0 && argv[outFlag + 1] ? resolve(argv[outFlag + 1]!) : await mkdtemp(join(tmpdir(), "edge-fallback-report-check-"));
  const chromium = which("chromium") ?? which("chromium-browser");
  let passed = 0;
  let failed = 0;
  const check = (ok: boolean, what: string): void => {
    if (ok) passed++;
    else failed++;
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  };

  const inputs: { sub: string; input: ReportInput }[] = [
    { sub: "synthetic-outage", input: outageInput() },
    { sub: "synthetic-brownout", input: brownoutInput() },
    ...(await shippedPlans()).map((plan) => ({ sub: join("plans", plan.name), input: synthesize(plan) })),
  ];
  for (const { sub, input } of inputs) {
    const dir = join(root, sub);
    const written = await writeReport(dir, input);
    console.log(`\n${input.plan.name}: ${written.md}`);
    const md = await readFile(written.md, "utf8");
    const json = JSON.parse(await readFile(written.json, "utf8")) as { pass: boolean; seconds: unknown[] };
    const expectPass = input.targets.every((t) => t.pass);
    check(json.pass === expectPass && json.seconds.length === input.seconds.length, `report.json has pass=${expectPass} and every second`);
    check(md.startsWith(`# Drill \`${input.plan.name}\`: ${expectPass ? "PASS" : "FAIL"}`), "report.md title says PASS/FAIL");
    check(md.includes(input.command) && md.includes("| target | required | measured | result |"), "report.md has the command and the targets table");
    check(input.targets.every((t) => md.includes(t.pass ? "✅" : t.inconclusive ? "⚠️" : "❌")), "report.md marks targets ✅/❌/⚠️");
    check(["charts/latency.svg", "charts/status.svg", "charts/breaker.svg"].every((c) => md.includes(`](${c})`)), "report.md links the three charts");
    if (input.dataPointsFile) check(md.includes(`](${input.dataPointsFile})`), "report.md links the data points file");
    for (const chart of written.charts) {
      const svg = await readFile(chart, "utf8");
      const errors = checkWellFormed(svg);
      check(errors.length === 0, `${chart} is well-formed XML${errors.length ? `: ${errors.slice(0, 3).join("; ")}` : ""}`);
      check(!/NaN|undefined|Infinity/.test(svg), `${chart} has no NaN/undefined/Infinity`);
      const size = /width="(\d+)" height="(\d+)"/.exec(svg);
      if (chromium && size) {
        const png = renderPng(chromium, chart, Number(size[1]), Number(size[2]));
        check(png !== undefined, `rendered ${png ?? chart.replace(/\.svg$/, ".png")}`);
      }
    }
  }
  if (!chromium) console.log("\n(chromium not installed: no PNGs rendered; apt-get install chromium to look at the charts)");
  console.log(`\nreports under ${root}`);
  console.log(`report-check: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`report-check: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      process.exit(2);
    },
  );
}
