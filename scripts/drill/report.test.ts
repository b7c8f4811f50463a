/** The report writer on synthetic runs: the files a drill leaves behind, charts that parse, and a breaker chart at the transitions' real times. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { brownoutInput, checkWellFormed, outageInput } from "./report-check.ts";
import { stateRects, xScale } from "./svg-geometry.ts";
import { breakerTransitionsFrom, renderCharts, writeReport, type BreakerTransition, type ReportInput } from "./report.ts";

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

describe("breaker chart from the transitions", () => {
  // Opens at 15.3 s; a probe 10 s later fails after 49 ms; the next succeeds after 49 ms.
  const transitions: BreakerTransition[] = [
    { at: 15_300, from: "closed", to: "open", cause: "failure", origin: "primary", source: "object" },
    { at: 25_300, from: "open", to: "half-open", cause: "probe-granted", origin: "primary", source: "object" },
    { at: 25_349, from: "half-open", to: "open", cause: "probe-failure", origin: "primary", source: "object" },
    { at: 35_349, from: "open", to: "half-open", cause: "probe-granted", origin: "primary", source: "object" },
    { at: 35_398, from: "half-open", to: "closed", cause: "probe-success", origin: "primary", source: "object" },
  ];
  const input = (): ReportInput => ({ ...outageInput(), breakerTransitions: transitions });

  it("draws the opening at 15.3 s, not at the next whole second", () => {
    const svg = renderCharts(input()).breaker;
    const x = xScale(svg);
    const rects = stateRects(svg, "breaker");
    expect(rects.map((r) => r.state)).toEqual(["closed", "open", "half-open", "open", "half-open", "closed"]);
    const open = rects[1]!;
    expect(Math.abs(open.x - x(15.3))).toBeLessThan(0.1);
    expect(Math.abs(open.x - x(16))).toBeGreaterThan(5);
    // The closed state before it ends exactly there.
    expect(Math.abs(rects[0]!.x + rects[0]!.width - x(15.3))).toBeLessThan(0.1);
  });

  it("draws a 49 ms half-open as a band 49 ms wide, and marks it so it can be found", () => {
    const svg = renderCharts(input()).breaker;
    const x = xScale(svg);
    const halfOpen = stateRects(svg, "breaker").filter((r) => r.state === "half-open");
    expect(halfOpen).toHaveLength(2);
    const expected = x(25.349) - x(25.3);
    expect(expected).toBeGreaterThan(0.3);
    for (const r of halfOpen) {
      expect(Math.abs(r.width - expected)).toBeLessThan(0.02);
      // Not padded to a whole second (nor to a minimum of a few px).
      expect(r.width).toBeLessThan(x(1) - x(0));
    }
    expect(Math.abs(halfOpen[0]!.x - x(25.3))).toBeLessThan(0.1);
    expect(svg.match(/data-marker="half-open"/g)).toHaveLength(2);
    expect(svg).toContain("breaker: half-open from 25.300 s to 25.349 s");
    expect(checkWellFormed(svg)).toEqual([]);
  });

  it("takes the transitions from the run's data points, in ms since the load started", () => {
    const t0 = Date.parse("2026-12-01T21:26:34.840Z");
    const points = [
      { timestamp: t0 + 25_349, indexes: ["primary"], blobs: ["breaker", "half-open", "open", "probe-failure", "object"] },
      { timestamp: t0 + 15_300, indexes: ["primary"], blobs: ["breaker", "closed", "open", "failure", "object"] },
      { timestamp: t0 + 16_000, indexes: ["primary"], blobs: ["request", "lkg_served", "breaker_open", "open", "memory"] },
      { timestamp: t0 + 25_300, indexes: ["primary"], blobs: ["breaker", "open", "half-open", "probe-granted", "object"] },
      { timestamp: t0 + 30_000, indexes: ["primary"], blobs: ["breaker", "open", "closed", "forced", "somebody-else"] },
    ];
    expect(breakerTransitionsFrom(points, t0)).toEqual(transitions.slice(0, 3));
  });

  it("lists the transitions in report.md to the ms, with how long each state lasted", async () => {
    const { md } = await written(input());
    expect(md).toContain("| 15.300 | 10000 | primary | closed | open | failure | object |");
    expect(md).toContain("| 25.300 | 49 | primary | open | half-open | probe-granted | object |");
  });

  it("gives an isolate's own decisions a row of their own", () => {
    const svg = renderCharts({ ...input(), breakerTransitions: [...transitions, { at: 40_000, from: "closed", to: "open", cause: "failure", origin: "primary", source: "isolate" }] }).breaker;
    expect(stateRects(svg, "breaker (object)").map((r) => r.state)).toEqual(["closed", "open", "half-open", "open", "half-open", "closed"]);
    expect(stateRects(svg, "breaker (isolate alone)").map((r) => r.state)).toEqual(["closed", "open"]);
  });

  it("without transitions, still draws the per-second samples", () => {
    const svg = renderCharts(outageInput()).breaker;
    const x = xScale(svg);
    const open = stateRects(svg, "breaker").find((r) => r.state === "open")!;
    expect(Math.abs(open.x - x(21))).toBeLessThan(0.1);
  });
});

describe("multi-region report", () => {
  it("adds the regions chart, the regions, admin actions and routing changes, and lists what is not supported yet", async () => {
    const base = outageInput();
    const t0 = Date.parse("2026-12-01T12:00:00Z");
    const input: ReportInput = {
      ...base,
      loadStartedAtEpochMs: t0,
      plan: {
        ...base.plan,
        regions: [{ name: "us-east", home: true }, { name: "eu-west" }],
        unsupported: [{ field: "webhook_policy", reason: "webhooks: issue 11 builds it" }],
        translation: ["evacuate us-east: POST /__edge/admin/regions/us-east/evacuate at 10 s"],
      },
      seconds: base.seconds.map((s) => ({ ...s, regions: { "us-east": s.second < 20 ? 200 : 0, "eu-west": s.second < 20 ? 0 : 190, "": 10 } })),
      regions: {
        names: ["us-east", "eu-west"],
        urls: { "us-east": "http://127.0.0.1:1", "eu-west": "http://127.0.0.1:2" },
        routing: { mode: "failover", hysteresis_s: 5 },
        actions: [{ phase: 1, region: "us-east", action: "evacuate", sentAt: t0 + 20_000, answeredAt: t0 + 20_004, status: 200, detail: '{"region":"us-east"}' }],
        changes: [{ at: t0 + 20_002, region: "us-east", action: "evacuate", reason: "admin", source: "admin", percent: 0, step: 0, generation: 2 }],
      },
    };
    const { out, md } = await written(input);
    expect(out.charts.map((c) => c.slice(c.lastIndexOf("/") + 1)).sort()).toEqual(["breaker.svg", "latency.svg", "regions.svg", "status.svg"]);
    for (const chart of out.charts) {
      const svg = await readFile(chart, "utf8");
      expect(checkWellFormed(svg)).toEqual([]);
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    }
    expect(md).toContain("- not supported yet: `webhook_policy`: webhooks: issue 11 builds it");
    expect(md).toContain("- evacuate us-east: POST /__edge/admin/regions/us-east/evacuate at 10 s");
    expect(md).toContain("| us-east | http://127.0.0.1:1 | 1 | yes | 0 |");
    expect(md).toContain('| 20.000 | blackhole | us-east | evacuate | 200 | 4 | {"region":"us-east"} |');
    expect(md).toContain("| 20.002 | us-east | evacuate | admin | admin | 0 | 0 | 2 |");
    expect(md).toContain("![answers per second by region](charts/regions.svg)");
  });
});

