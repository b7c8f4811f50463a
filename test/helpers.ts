/** Test harness: a worker built with an injected clock, a per-test origin scenario, and counting bindings. */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import { createApp } from "../src/app.ts";
import type { Clock } from "../src/clock.ts";
import type { BreakerObject } from "../src/breaker/object.ts";
import type { Env } from "../src/env.ts";
import { CapturingSink } from "../src/metrics/writer.ts";

export class FakeClock implements Clock {
  t: number;
  constructor(t = Date.parse("2026-11-22T00:00:00Z")) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const ORIGIN_URL = inject("originUrl");
/** A second fake origin, for tests of several regions: its scenarios are its own. */
export const ORIGIN_URL_B = inject("originUrlB");

/** The ADMIN_TOKEN vitest.config.ts gives the worker, and the header that carries it. */
export const ADMIN_TOKEN = "test-admin-secret";
export const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}` };

let counter = 0;

/** A scenario on the fake origin with its own behaviour and request log, so tests never share state. */
export function scenario(label = "t", originUrl = ORIGIN_URL) {
  const id = `${label}-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    id,
    url: (path = "/") => `https://edge.example.com/s/${id}${path}`,
    async set(setting: Record<string, unknown>): Promise<void> {
      const res = await fetch(`${originUrl}/__control/${id}`, { method: "POST", body: JSON.stringify(setting) });
      if (res.status !== 200) throw new Error(`fake origin refused ${JSON.stringify(setting)}: ${await res.text()}`);
    },
    async log(): Promise<{ count: number; requests: { method: string; path: string; headers: Record<string, string> }[] }> {
      return (await fetch(`${originUrl}/__control/${id}`)).json();
    },
  };
}

export function uniqueOriginName(): string {
  return `o-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface Harness {
  clock: FakeClock;
  originName: string;
  metrics: CapturingSink;
  env: Env;
  /** The breaker object of this harness's origin, sharing the harness's clock (tests run in the same isolate). */
  object(): Promise<DurableObjectStub<BreakerObject>>;
  /** Sends one request and waits for its answer only (background work keeps running). */
  send(input: string | Request, init?: RequestInit): Promise<{ response: Response; ctx: ExecutionContext }>;
  /** Sends one request and waits for its answer and all of its waitUntil work. */
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
}

/** A fresh worker (fresh isolate state) over the real bindings, with overridable vars and bindings. */
export function harness(
  overrides: Partial<Record<string, unknown>> = {},
  options: { clock?: FakeClock; originName?: string; caches?: CacheStorage } = {},
): Harness {
  const clock = options.clock ?? new FakeClock();
  const metrics = new CapturingSink();
  const app = createApp({ clock, caches: options.caches ?? caches });
  // A breaker object per harness: objects are keyed by origin name and outlive a single test.
  const originName = options.originName ?? uniqueOriginName();
  const testEnv = {
    ...(env as unknown as Env),
    ORIGINS: JSON.stringify([{ name: originName, url: ORIGIN_URL, weight: 1 }]),
    METRICS: metrics as unknown as AnalyticsEngineDataset,
    // Every answer captured, every key shared and every new key stored: the strictest setting for
    // the privacy and tier tests. The product's defaults (capture once per second, share keys in
    // demand, 50 new keys a second) have their own tests.
    LKG_REFRESH_MS: "0",
    LKG_SHARED_MIN_REQUESTS: "1",
    LKG_SHARED_WRITES_PER_SECOND: "1000",
    // The fake origin's "/" is a scenario no test breaks, so the product's default health check
    // would dismiss every test's failures: the breaker mechanics are tested without the check
    // (any run of failures opens it), and test/breaker-evidence.test.ts tests the check itself.
    ORIGIN_HEALTH_PATH: "off",
    LKG_NEW_KEYS_PER_SECOND: "100000",
    ...overrides,
  } as Env;
  const send = async (input: string | Request, init?: RequestInit) => {
    const ctx = createExecutionContext();
    const request = typeof input === "string" ? new Request(input, init) : input;
    const response = await app.fetch(request, testEnv, ctx);
    return { response, ctx };
  };
  return {
    clock,
    originName,
    metrics,
    env: testEnv,
    send,
    async object() {
      const namespace = env.BREAKER as Env["BREAKER"];
      const stub = namespace.get(namespace.idFromName(originName));
      await runInDurableObject(stub, (instance: BreakerObject) => {
        instance.clock = clock;
      });
      return stub;
    },
    async fetch(input, init) {
      const { response, ctx } = await send(input, init);
      await waitOnExecutionContext(ctx);
      return response;
    },
  };
}

/**
 * The header bytes a client would receive, one character per byte (latin1), for `names`: JavaScript
 * cannot show them (workerd decodes header values as UTF-8, a byte that is not valid UTF-8 becomes
 * U+FFFD), so the Headers object is sent unchanged to the fake origin, which echoes what arrived.
 */
export async function wireHeaders(headers: Headers, names: readonly string[]): Promise<[string, string][]> {
  // A native copy keeps the bytes; the body's framing headers would describe a body this GET lacks.
  const sent = new Headers(headers);
  for (const name of ["content-length", "content-encoding", "transfer-encoding"]) sent.delete(name);
  const res = await fetch(`${ORIGIN_URL}/__echo-headers`, { headers: sent });
  const echoed = ((await res.json()) as { headers: [string, string][] }).headers;
  return names.map((name) => [name, echoed.find(([n]) => n === name)?.[1] ?? "(absent)"]);
}

/** Wraps a binding so every method call is counted by name, in call order. */
export function counting<T extends object>(target: T, calls: string[], label: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(`${label}.${String(prop)}`);
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        return result;
      };
    },
  });
}

/** A breaker namespace whose objects cannot be reached: every call fails like a dead object. */
export function unreachableBreaker(): Env["BREAKER"] {
  const failing = new Proxy(
    {},
    {
      get: (_t, prop) => {
        if (prop === "then") return undefined;
        return () => Promise.reject(Object.assign(new Error("Durable Object is unreachable (test)"), { retryable: true }));
      },
    },
  );
  return {
    idFromName: (name: string) => ({ toString: () => name, name }) as unknown as DurableObjectId,
    get: () => failing,
  } as unknown as Env["BREAKER"];
}

export function requestPoints(metrics: CapturingSink) {
  return metrics.points.filter((p) => p.blobs?.[0] === "request");
}
