/** Harness pieces for the two-region tests (test/regions-*.test.ts): two real fake origins, one scenario on both, the fleet object on the test's clock. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Env } from "../src/env.ts";
import type { CapturingSink } from "../src/metrics/writer.ts";
import type { RoutingObject } from "../src/routing/object.ts";
import type { RoutingRules } from "../src/routing/state.ts";
import { ADMIN_HEADERS, FakeClock, harness, ORIGIN_URL, ORIGIN_URL_B, requestPoints, uniqueOriginName, type Harness } from "./helpers.ts";

export const STICKY_SECRET = "a-test-sticky-secret-0123456789";
/** Later than any real clock in a test run: alarms the fleet object sets on this clock never fire during the test. */
export const FUTURE = Date.parse("2031-01-01T00:00:00Z");
/** A loopback port nothing listens on (discard): every connection is refused. */
export const CLOSED_PORT_URL = "http://127.0.0.1:9";

type Log = { count: number; requests: { method: string; path: string; headers: Record<string, string> }[] };

/** One fake-origin scenario on one server. */
export interface Side {
  set(setting: Record<string, unknown>): Promise<void>;
  log(): Promise<Log>;
}

function side(id: string, originUrl: string): Side {
  return {
    async set(setting) {
      const res = await fetch(`${originUrl}/__control/${id}`, { method: "POST", body: JSON.stringify(setting) });
      if (res.status !== 200) throw new Error(`fake origin refused ${JSON.stringify(setting)}: ${await res.text()}`);
    },
    async log() {
      return (await fetch(`${originUrl}/__control/${id}`)).json();
    },
  };
}

/** One scenario id on both fake origins: the same path, each region its own behaviour and request log. */
export function pair(label: string) {
  const id = `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return { id, url: (path = "/") => `https://edge.example.com/s/${id}${path}`, home: side(id, ORIGIN_URL), away: side(id, ORIGIN_URL_B) };
}

export interface TwoRegions {
  h: Harness;
  home: string;
  away: string;
}

/**
 * A worker with two regions: `home` (ORIGIN_URL, home: true) and `away` (ORIGIN_URL_B), in
 * failover mode unless `routing` says otherwise. `homeUrl` / `awayUrl` replace a region's URL
 * (a closed port, or a path prefix so that region's health path is a scenario too).
 */
export function twoRegions(options: { routing?: Record<string, unknown>; vars?: Record<string, unknown>; homeUrl?: string; awayUrl?: string; clock?: FakeClock } = {}): TwoRegions {
  const home = uniqueOriginName();
  const away = uniqueOriginName();
  const h = harness(
    {
      ORIGINS: JSON.stringify([
        { name: home, url: options.homeUrl ?? ORIGIN_URL, home: true },
        { name: away, url: options.awayUrl ?? ORIGIN_URL_B },
      ]),
      ROUTING: JSON.stringify({ mode: "failover", ...options.routing }),
      STICKY_SECRET,
      // After 32 answers the auto slow deadline is 25 ms of wall time: on a machine busy with the
      // whole suite a healthy home answer can take that long, fail over, and move a share. Tests
      // of slowness set their own. The copy budget (35 ms) likewise: a healthy answer past it
      // would be served from the copy; test/copy-budget.test.ts tests it with two regions.
      ORIGIN_SLOW_MS: "off",
      ORIGIN_COPY_BUDGET_MS: "off",
      ...options.vars,
    },
    options.clock ? { clock: options.clock } : {},
  );
  return { h, home, away };
}

/** The routing columns of a request point: blob14-16 and double7-8. */
export interface Routed {
  answered: string;
  from: string;
  reason: string;
  ramp: number;
  tried: number;
}

/** A blob or index as the text the worker wrote (it writes only strings). */
function text(value: unknown): string {
  return typeof value === "string" ? value : `(not a string: ${JSON.stringify(value)})`;
}

export function routed(point: AnalyticsEngineDataPoint): Routed {
  const blobs = point.blobs ?? [];
  const doubles = point.doubles ?? [];
  return { answered: text(blobs[13]), from: text(blobs[14]), reason: text(blobs[15]), ramp: Number(doubles[6]), tried: Number(doubles[7]) };
}

/** The routing columns of the harness's latest request point. */
export function lastRouted(metrics: CapturingSink): Routed {
  return routed(requestPoints(metrics).at(-1)!);
}

/** Routing points (blob1 "routing"): [index1, blob2 action, blob3 reason, blob4 source, double1 percent, double2 step]. */
export function routingPoints(metrics: CapturingSink): [string, string, string, string, number, number][] {
  return metrics.points
    .filter((p) => p.blobs?.[0] === "routing")
    .map((p) => [text(p.indexes?.[0]), text(p.blobs?.[1]), text(p.blobs?.[2]), text(p.blobs?.[3]), Number(p.doubles?.[0]), Number(p.doubles?.[1])]);
}

/**
 * The one fleet routing object, on the test's clock (a ramp's start and its steps are read against
 * the isolate's clock) and with the test's ramp rules (the object reads its own from the
 * configuration the pool gives it, not the harness's vars).
 */
export async function fleetOn(clock: FakeClock, rules: RoutingRules): Promise<DurableObjectStub<RoutingObject>> {
  const namespace = env.ROUTING_OBJECT as Env["ROUTING_OBJECT"];
  const stub = namespace.get(namespace.idFromName("fleet"));
  await runInDurableObject(stub, (instance: RoutingObject) => {
    instance.clock = clock;
    instance.rules = rules;
  });
  return stub;
}

/** The regions admin page's view of one region in this isolate. */
export async function isolateRegion(h: Harness, name: string): Promise<{ usable: boolean; rampPercent: number; control: { admin: string; held: boolean; rampStartedAt: number | null } }> {
  const res = await h.fetch("https://edge.example.com/__edge/admin/regions", { headers: ADMIN_HEADERS });
  const page = (await res.json()) as { isolate: { regions: { name: string; usable: boolean; rampPercent: number; control: { admin: string; held: boolean; rampStartedAt: number | null } }[] } };
  return page.isolate.regions.find((r) => r.name === name)!;
}
