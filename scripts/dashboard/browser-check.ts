/**
 * `npm run dashboard:check -- <report dir | latest>`: opens a drill's dashboard.html in headless
 * Chromium (Debian's, driven by playwright-core; no browser download) and checks what a person
 * would: the page loads without console errors, every panel is there and has data, and each
 * chart drew something. Saves dashboard.png next to the page. Exits non-zero with every problem.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { CHART_PANELS } from "./render.ts";
import { WRITE_CHART_PANELS } from "./render-writes.ts";
import { latestReport } from "./run.ts";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
// As root, without a sandbox; and no background traffic, which this machine's network refuses.
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function checkDashboard(dir: string): Promise<{ problems: string[]; screenshot: string; panels: { panel: string; rows: number; marks: number }[] }> {
  const page = join(dir, "dashboard.html");
  if (!existsSync(page)) throw new Error(`${dir} has no dashboard.html: run \`npm run dashboard -- ${dir}\` first`);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const problems: string[] = [];
  try {
    const tab = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    tab.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    tab.on("requestfailed", (r) => problems.push(`failed to load ${r.url()}`));
    const res = await tab.goto(pathToFileURL(page).href, { waitUntil: "load" });
    if (!res?.ok()) problems.push(`dashboard.html did not load (${res?.status()})`);
    const panels = await tab.$$eval("[data-panel]", (els) =>
      els.map((el) => ({
        panel: el.getAttribute("data-panel") ?? "",
        rows: Number(el.getAttribute("data-rows")),
        // Marks drawn: lines, bars and state segments (not axes or text).
        marks: el.querySelectorAll("svg polyline, svg path, svg rect").length,
        width: el.querySelector("svg")?.getBoundingClientRect().width ?? 0,
      })),
    );
    // Charts only: the tables (totals, checked below; failing routes, failovers and routing
    // changes) are rightly empty when every failure was the origin's and one region served all.
    // The write charts are drawn only when their panel has rows (none without WRITES): checked when there.
    for (const name of [...CHART_PANELS, ...WRITE_CHART_PANELS]) {
      const shown = panels.filter((p) => p.panel === name);
      if (shown.length === 0 && CHART_PANELS.includes(name)) problems.push(`panel ${name} is missing`);
      for (const p of shown) {
        if (!(p.rows > 0)) problems.push(`panel ${name} has no data`);
        if (p.width < 300) problems.push(`panel ${name} is not drawn at a readable size (${p.width}px)`);
        if (p.marks < 3) problems.push(`panel ${name} drew nothing`);
      }
    }
    const totals = await tab.$$eval("table:first-of-type tbody tr", (rows) => rows.length);
    if (totals < 1) problems.push("the totals table is empty");
    const headings = await tab.$$eval("h2", (hs) => hs.map((h) => h.textContent ?? ""));
    for (const section of ["Failing routes", "Regions", "Failovers", "Routing changes", "Writes"]) {
      if (!headings.includes(section)) problems.push(`the ${section.toLowerCase()} section is missing`);
    }
    const screenshot = join(dir, "dashboard.png");
    await tab.screenshot({ path: screenshot, fullPage: true });
    return { problems, screenshot, panels };
  } finally {
    await browser.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = process.argv[2] ?? "latest";
  (async () => {
    const dir = arg === "latest" ? await latestReport() : resolve(arg);
    const { problems, screenshot, panels } = await checkDashboard(dir);
    console.log(`dashboard check: ${panels.length} panels, ${panels.map((p) => `${p.panel} ${p.rows} rows`).join(", ")}`);
    console.log(`screenshot: ${screenshot}`);
    if (problems.length) {
      console.error(`dashboard check: FAIL\n  - ${problems.join("\n  - ")}`);
      process.exit(1);
    }
    console.log("dashboard check: PASS (no console errors, every panel has data)");
  })().catch((err: unknown) => {
    console.error(`dashboard check: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
