/** The report writer on synthetic runs: the files a drill leaves behind, and charts that parse. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { brownoutInput, checkWellFormed, outageInput } from "./report-check.ts";
import { writeReport, type ReportInput } from "./report.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function written(input: ReportInput) {
  const dir = await mkdtemp(join(tmpdir(), "edge-fallback-report-test-"));
  dirs.push(dir);
  const out = await writeReport(dir, input);
  return { out, md: await readFile(out.md, "utf8"), json: JSON.parse(await readFile(out.json, "utf8")) as { pass: boolean; seconds: unknown[]; targets: unknown[] } };
}

describe("drill report", () => {
  for (const [label, make] of [["outage", outageInput], ["brownout", brownoutInput]] as const) {
    it(`writes report.md, report.json and three well-formed charts (${label})`, async () => {
      const input = make();
      const { out, md, json } = await written(input);
      const pass = input.targets.every((t) => t.pass);
      expect(json.pass).toBe(pass);
      expect(json.seconds).toHaveLength(input.seconds.length);
      expect(json.targets).toEqual(input.targets);
      expect(md.startsWith(`# Drill \`${input.plan.name}\`: ${pass ? "PASS" : "FAIL"}`)).toBe(true);
      expect(md).toContain(input.command);
      expect(md).toContain("| target | required | measured | result |");
      for (const t of input.targets) {
        const row = md.split("\n").find((line) => line.startsWith(`| ${t.name} |`));
        // A "|" inside a cell is escaped, or it would split the row.
        expect(row).toContain(`| ${t.measured.replaceAll("|", "\\|")} |`);
        expect(row!.endsWith(t.pass ? "| ✅ pass |" : "| ❌ fail |")).toBe(true);
      }
      expect(out.charts.map((c) => c.slice(c.lastIndexOf("/") + 1)).sort()).toEqual(["breaker.svg", "latency.svg", "status.svg"]);
      for (const chart of out.charts) {
        const svg = await readFile(chart, "utf8");
        expect(checkWellFormed(svg)).toEqual([]);
        expect(svg).not.toMatch(/NaN|undefined|Infinity/);
      }
    });
  }
});
