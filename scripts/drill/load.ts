/**
 * Open-loop, constant-arrival-rate HTTP load generator for the drills.
 *
 * The i-th request of a phase is due at phaseStart + i / rate, whether or not earlier requests
 * have answered. Latency runs from that intended time to the end of the response body, so a
 * stalled server (or a stalled generator) shows up in the numbers instead of quietly slowing
 * the arrival rate down (no coordinated omission).
 *
 * Cheap per request, because it shares two cores with the server under test:
 * - one undici Pool (keep-alive, pipelining 1). By default requests go through
 *   `Pool.dispatch()` with one small handler object per request (the in-flight record itself)
 *   that counts the body's chunks through to its end without buffering them. `api: "request"`
 *   uses `Pool.request()` instead (callback form, record as `opaque`, body stream drained in
 *   flowing mode). Both behave the same on the wire, but undici keeps up to 256 finished
 *   requests per connection, with their handlers, before trimming its queue; with request()
 *   each one holds a response stream (several KB), so 4-5x more garbage survives each
 *   scavenge and is promoted. Measured here at 2,000 req/s: request() 45 % of a core,
 *   scavenges up to 17 ms, 3-10 % of sends > 5 ms late, p99 60 ms against a trivial origin;
 *   dispatch() 23 %, 0.5 % late, p99 5 ms. The generator must not add its own stalls to the
 *   worker's latency, hence dispatch by default;
 * - a scheduler that sleeps on setTimeout until the next intended time (setImmediate only when a
 *   send is already due), and each wake sends every request whose time has passed (catch-up).
 *   libuv timers have 1 ms granularity, so sends leave up to ~1 ms after their intended time
 *   (recorded per request as sendDelayMs, and included in latencyMs as it must be). `spinMs`
 *   trades a whole core for sub-ms send precision; the default does not spin, because the
 *   generator shares two cores with the server under test;
 * - client timeouts from one FIFO sweep every 25 ms (all requests share one timeout, so the
 *   oldest send is always at the head): no timer per request.
 *
 * Latency percentiles use HdrHistogram over integer MICROseconds (lowest 1 us, 3 significant
 * digits, auto-resizing), converted back to ms on the way out: values are exact to 0.1 %,
 * which is far finer than the ms-level resolution the drills need, and sub-ms loopback
 * latencies do not collapse into one bucket as they would with an integer-ms histogram.
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { build, type Histogram } from "hdr-histogram-js";
import { Pool, type Dispatcher } from "undici";
import type { RequestResult, SecondStats, WriteSent } from "./types.ts";

type IncomingHttpHeaders = Dispatcher.ResponseData["headers"];

export interface RequestSpec {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  key: string;
  user: string;
  /** A sticky client's name, and the region of the assignment it sends (see mix.ts). */
  client?: string;
  stuckTo?: string;
  /** A write or webhook send of the write mix (its answer's replay flag and status resource are recorded). */
  write?: Omit<WriteSent, "replayed" | "location" | "queuedBecause">;
}

/** What happened during one wall-clock second of the run (by event time, not intended time). */
export interface LivePoint {
  /** Index of the second since the run started (0 = [0 s, 1 s)). */
  second: number;
  /** Phase scheduled at the start of that second; phases.length while draining. */
  phase: number;
  sent: number;
  /** Requests that completed with an HTTP status during the second. */
  answered: number;
  late: number;
  unsent: number;
  /** Status classes of everything that completed during the second: "2xx".."5xx", "err". */
  statuses: Record<string, number>;
  fallback: number;
  /** p99 latency (ms, from intended time) of the requests that completed during the second; 0 if none. */
  p99: number;
  /** Requests sent and not yet completed, at the end of the second. */
  inFlight: number;
  /** Answers by the region that answered (x-edge-region; "" for none), of the requests that completed during the second. */
  regions: Record<string, number>;
}

export interface LoadRunOptions {
  baseUrl: string;
  phases: { rate: number; durationS: number }[];
  makeRequest: (seq: number, phase: number) => RequestSpec;
  /** Called at each phase boundary, on schedule, before that phase's first send; never awaited by the sender. */
  onPhaseStart?: (phase: number, atMs: number) => void | Promise<void>;
  onSecond?: (p: LivePoint) => void;
  /** Called with each answered request's result as it completes (sticky clients keep their assignment here). */
  onAnswer?: (r: RequestResult) => void;
  connections?: number;
  maxInFlight?: number;
  timeoutMs?: number;
  lateThresholdMs?: number;
  /**
   * Poll with setImmediate instead of sleeping when the next send is less than this many ms
   * away (default 0: never). Sends then leave within a few us of their time, at the cost of
   * one core at 100 %: only for measuring sub-ms latencies on an otherwise idle machine.
   */
  spinMs?: number;
  /**
   * The sender sleeps at least this long between wakes (default 1 ms, libuv's granularity).
   * Each wake costs a fixed ~0.3 ms of CPU here whatever it sends, so 2-4 ms halves the
   * generator's CPU at ~1k req/s, at the price of sends leaving up to tickMs late.
   */
  tickMs?: number;
  /**
   * "dispatch" (default): `Pool.dispatch()` with a small handler, no body stream.
   * "request": undici's `request()`, body drained from its stream. Same wire behaviour and
   * results, but far more short-lived garbage survives a scavenge (see the header), so GC
   * pauses, late sends and the generator's own share of p99 are several times larger.
   */
  api?: "request" | "dispatch";
}

export interface LoadRun {
  startedAtEpochMs: number;
  durationMs: number;
  results: RequestResult[];
}

/** A scheduler wake sends at most this many requests before yielding to I/O (it comes back at once). */
const MAX_BATCH = 256;
const SWEEP_EVERY_MS = 25;

type Finish = (f: Flight, status: number, error: string | undefined) => void;

/**
 * One request in flight. It is also the undici dispatch handler (api "dispatch"), so that path
 * allocates nothing else of ours per request; everything it holds is dropped once it settles,
 * because undici keeps up to 256 finished requests per connection (with their handlers) before
 * trimming its queue.
 */
class Flight implements Dispatcher.DispatchHandler {
  r: RequestResult;
  sentAt: number;
  finish: Finish;
  /** api "request": the abort handle handed to undici. */
  signal: EventEmitter | null = null;
  /** api "dispatch": undici's controller, once the request reached a connection. */
  controller: Dispatcher.DispatchController | null = null;
  status = 0;
  timedOut = false;
  done = false;

  constructor(r: RequestResult, sentAt: number, finish: Finish) {
    this.r = r;
    this.sentAt = sentAt;
    this.finish = finish;
  }

  abort(): void {
    if (this.signal) this.signal.emit("abort");
    else if (this.controller && !this.controller.aborted) this.controller.abort(new Error("client-timeout"));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Timed out while queued in the pool: give the connection straight back.
    if (this.done) controller.abort(new Error("client-timeout"));
    else this.controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    readHeaders(this.r, headers);
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    this.finish(this, this.status, undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // A body that breaks off (truncated, reset) is no answer: status 0 with the error.
    this.finish(this, 0, this.status > 0 ? `body: ${errorText(err)}` : errorText(err));
  }
}

function readHeaders(r: RequestResult, h: IncomingHttpHeaders): void {
  r.cacheStatus = headerText(h["cache-status"]);
  const age = h["age"];
  if (age !== undefined) {
    const n = Number(headerText(age));
    r.age = Number.isFinite(n) ? n : -1;
  }
  r.originUser = headerText(h["x-origin-user"]);
  r.region = headerText(h["x-edge-region"]);
  r.fakeRegion = headerText(h["x-fake-region"]);
  if (r.client !== undefined) r.assignment = assignmentOf(h);
  if (r.write) {
    r.write.replayed = headerText(h["idempotency-replayed"]).trim().toLowerCase() === "true";
    r.write.location = headerText(h["location"]);
    r.write.queuedBecause = headerText(h["x-edge-queued"]);
  }
  const servedAt = h["x-origin-served-at"];
  if (servedAt !== undefined) {
    const n = Number(headerText(servedAt));
    r.originServedAt = Number.isFinite(n) ? n : 0;
  }
}

/** The worker's assignment in an answer: its `edge-region` cookie, or the `x-edge-assignment` header. */
export function assignmentOf(h: IncomingHttpHeaders): string | undefined {
  const header = h["x-edge-assignment"];
  if (header !== undefined) return headerText(header) || undefined;
  const cookies = h["set-cookie"];
  if (cookies === undefined) return undefined;
  for (const c of typeof cookies === "string" ? [cookies] : cookies) {
    const m = /^\s*edge-region=([^;\s]*)/.exec(c);
    if (m) return m[1] || undefined;
  }
  return undefined;
}

const noop = (): void => {};

export async function runLoad(options: LoadRunOptions): Promise<LoadRun> {
  const connections = options.connections ?? 128;
  const maxInFlight = options.maxInFlight ?? 20_000;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const lateThresholdMs = options.lateThresholdMs ?? 5;
  const spinMs = options.spinMs ?? 0;
  const tickMs = Math.max(1, Math.floor(options.tickMs ?? 1));
  const useDispatch = (options.api ?? "dispatch") === "dispatch";
  const { phases, makeRequest } = options;
  for (const p of phases) {
    if (!(p.rate >= 0) || !(p.durationS >= 0)) throw new Error(`bad phase ${JSON.stringify(p)}: rate and durationS must be >= 0`);
  }
  const host = new URL(options.baseUrl);
  if (host.hostname !== "127.0.0.1" && host.hostname !== "localhost" && host.hostname !== "[::1]") {
    throw new Error(`load runs only against loopback, not ${options.baseUrl}`);
  }

  const phaseStarts: number[] = [];
  let acc = 0;
  for (const p of phases) {
    phaseStarts.push(acc);
    acc += p.durationS * 1000;
  }
  const totalMs = acc;
  const phaseCounts = phases.map((p) => Math.round(p.rate * p.durationS));
  const phaseAt = (t: number): number => {
    if (t >= totalMs) return phases.length;
    let i = 0;
    while (i + 1 < phases.length && phaseStarts[i + 1]! <= t) i++;
    return i;
  };

  const pool = new Pool(host.origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    // Our own sweep enforces timeoutMs; undici's timers are only a backstop.
    headersTimeout: timeoutMs + 5_000,
    bodyTimeout: timeoutMs + 5_000,
    connectTimeout: Math.min(timeoutMs, 10_000),
  });

  const results: RequestResult[] = [];
  // In-flight records in send order; all share one timeout, so the head is always the oldest.
  let queue: Flight[] = [];
  let head = 0;
  let inFlight = 0;
  let seq = 0;
  let lastSendAt = 0;

  // Live counters for the current wall-clock second.
  const live = { sent: 0, answered: 0, late: 0, unsent: 0, fallback: 0, statuses: {} as Record<string, number>, regions: {} as Record<string, number> };
  const onAnswer = options.onAnswer;
  const liveHist = newHistogram();

  const t0 = performance.now();
  const startedAtEpochMs = performance.timeOrigin + t0;
  const now = (): number => performance.now() - t0;

  const hookPromises: Promise<unknown>[] = [];
  const firePhase = (phase: number): void => {
    if (!options.onPhaseStart) return;
    try {
      const out = options.onPhaseStart(phase, phaseStarts[phase]!);
      if (out && typeof (out as Promise<void>).then === "function") {
        hookPromises.push((out as Promise<void>).catch((err: unknown) => console.error(`load: onPhaseStart(${phase}) failed: ${String(err)}`)));
      }
    } catch (err) {
      console.error(`load: onPhaseStart(${phase}) failed: ${String(err)}`);
    }
  };

  const finish = (f: Flight, status: number, error: string | undefined): void => {
    if (f.done) return;
    f.done = true;
    f.signal = null;
    f.controller = null;
    inFlight--;
    const r = f.r;
    r.latencyMs = now() - r.intendedAt;
    if (f.timedOut) {
      status = 0;
      error = "client-timeout";
    }
    r.status = status;
    if (error !== undefined) r.error = error;
    if (status > 0) {
      live.answered++;
      if (r.cacheStatus.includes("; hit")) live.fallback++;
      live.regions[r.region] = (live.regions[r.region] ?? 0) + 1;
      onAnswer?.(r);
    }
    const cls = statusClass(status);
    live.statuses[cls] = (live.statuses[cls] ?? 0) + 1;
    liveHist.recordValue(toMicros(r.latencyMs));
  };

  const onResponse = (err: Error | null, data: Dispatcher.ResponseData<Flight>): void => {
    const f = data.opaque;
    if (err) return finish(f, 0, errorText(err));
    readHeaders(f.r, data.headers);
    const status = data.statusCode;
    const body = data.body;
    // A body that breaks off (truncated, reset) is no answer: status 0 with the body error.
    body.on("error", (e: Error) => finish(f, 0, `body: ${errorText(e)}`));
    body.on("end", () => finish(f, status, undefined));
    body.on("data", noop);
  };

  const send = (phase: number, intendedAt: number): void => {
    const spec = makeRequest(seq++, phase);
    const r: RequestResult = {
      intendedAt,
      sendDelayMs: 0,
      latencyMs: 0,
      status: 0,
      phase,
      key: spec.key,
      method: spec.method,
      user: spec.user,
      cacheStatus: "",
      age: -1,
      originUser: "",
      originServedAt: 0,
      region: "",
      fakeRegion: "",
    };
    if (spec.client !== undefined) {
      r.client = spec.client;
      if (spec.stuckTo !== undefined) r.stuckTo = spec.stuckTo;
    }
    if (spec.write) r.write = { ...spec.write, replayed: false, location: "", queuedBecause: "" };
    results.push(r);
    if (inFlight >= maxInFlight) {
      r.sendDelayMs = -1;
      r.error = "unsent";
      live.unsent++;
      return;
    }
    const at = now();
    lastSendAt = at;
    r.sendDelayMs = at - intendedAt;
    live.sent++;
    if (r.sendDelayMs > lateThresholdMs) live.late++;
    const f = new Flight(r, at, finish);
    inFlight++;
    queue.push(f);
    try {
      if (useDispatch) {
        pool.dispatch({ path: spec.path, method: spec.method as Dispatcher.HttpMethod, headers: spec.headers, body: spec.body ?? null }, f);
      } else {
        f.signal = new EventEmitter();
        pool.request<Flight>(
          { path: spec.path, method: spec.method as Dispatcher.HttpMethod, headers: spec.headers, body: spec.body ?? null, signal: f.signal, opaque: f },
          onResponse,
        );
      }
    } catch (err) {
      finish(f, 0, errorText(err));
    }
  };

  // Client timeouts: abort everything sent more than timeoutMs ago.
  const sweep = (): void => {
    const limit = now() - timeoutMs;
    while (head < queue.length) {
      const f = queue[head]!;
      if (!f.done) {
        if (f.sentAt > limit) break;
        f.timedOut = true;
        f.abort();
        finish(f, 0, "client-timeout"); // settled now even if undici still holds it queued
      }
      head++;
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };
  const sweeper = setInterval(sweep, SWEEP_EVERY_MS);

  // Once per wall-clock second: hand the live counters over and start new ones.
  let second = 0;
  let secondTimer: NodeJS.Timeout | undefined;
  const emitSecond = (): void => {
    const p99 = liveHist.totalCount > 0 ? liveHist.getValueAtPercentile(99) / 1000 : 0;
    const point: LivePoint = {
      second,
      phase: phaseAt(second * 1000),
      sent: live.sent,
      answered: live.answered,
      late: live.late,
      unsent: live.unsent,
      statuses: live.statuses,
      fallback: live.fallback,
      p99,
      inFlight,
      regions: live.regions,
    };
    live.sent = live.answered = live.late = live.unsent = live.fallback = 0;
    live.statuses = {};
    live.regions = {};
    liveHist.reset();
    second++;
    if (options.onSecond) {
      try {
        options.onSecond(point);
      } catch (err) {
        console.error(`load: onSecond failed: ${String(err)}`);
      }
    }
  };
  const scheduleSecond = (): void => {
    secondTimer = setTimeout(
      () => {
        emitSecond();
        scheduleSecond();
      },
      Math.max(0, (second + 1) * 1000 - now()),
    );
  };
  scheduleSecond();

  // The sender: wakes, sends everything that is due (catching up), sleeps until the next due time.
  let phase = 0;
  let index = 0;
  let phaseFired = -1;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      let budget = MAX_BATCH;
      let next = Infinity;
      while (phase < phases.length) {
        const start = phaseStarts[phase]!;
        if (start > t) {
          next = start;
          break;
        }
        if (phaseFired < phase) {
          phaseFired = phase;
          firePhase(phase);
        }
        const count = phaseCounts[phase]!;
        const interval = 1000 / phases[phase]!.rate;
        while (index < count && budget > 0) {
          const due = start + index * interval;
          if (due > t) break;
          send(phase, due);
          index++;
          budget--;
        }
        if (index < count) {
          next = budget > 0 ? start + index * interval : t;
          break;
        }
        phase++;
        index = 0;
      }
      if (phase >= phases.length) {
        // Wait out the last phase's duration (a trailing rate-0 phase is a pause, not nothing).
        if (t >= totalMs) return resolve();
        next = totalMs;
      }
      const wait = next - now();
      if (wait <= 0 || wait < spinMs) setImmediate(tick);
      else if (spinMs > 0) setTimeout(tick, Math.floor(wait - spinMs));
      else setTimeout(tick, Math.max(tickMs, Math.ceil(wait)));
    };
    tick();
  });

  // Drain: everything still in flight is answered or swept as a client timeout; the hard
  // deadline below only catches what an abort failed to settle.
  const deadline = Math.max(totalMs, lastSendAt) + timeoutMs + 2 * SWEEP_EVERY_MS + 500;
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (inFlight === 0 || now() >= deadline) return resolve();
      setTimeout(check, 10);
    };
    check();
  });
  clearInterval(sweeper);
  for (let i = head; i < queue.length; i++) {
    const f = queue[i]!;
    if (!f.done) {
      f.timedOut = true;
      finish(f, 0, "client-timeout");
    }
  }
  const durationMs = now();
  if (secondTimer) clearTimeout(secondTimer);
  if (live.sent + live.answered + live.unsent + live.late > 0 || liveHist.totalCount > 0) emitSecond();
  await pool.destroy().catch(noop);
  if (hookPromises.length > 0) {
    // Phase hooks belong to the caller; give them a moment but never hang on them.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(hookPromises), new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
  }
  liveHist.destroy();
  return { startedAtEpochMs, durationMs, results };
}

function headerText(v: string | string[] | undefined): string {
  if (v === undefined) return "";
  return typeof v === "string" ? v : v.join(", ");
}

function errorText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; message?: unknown; name?: unknown };
    if (typeof e.code === "string" && e.code) return e.code;
    if (typeof e.message === "string" && e.message) return e.message;
    if (typeof e.name === "string") return e.name;
  }
  return String(err);
}

/** "2xx", "3xx", "4xx", "5xx", or "err" for no HTTP answer (status 0). */
export function statusClass(status: number): string {
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 500 && status < 600) return "5xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 300 && status < 400) return "3xx";
  if (status >= 100 && status < 200) return "1xx";
  return "err";
}

function newHistogram(): Histogram {
  // Microseconds: 1 us .. 1 h to start with, auto-resizing beyond; 3 significant digits.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return us < 1 ? 1 : us;
}

/** Requests that were really sent (not refused because maxInFlight was reached). */
export const wasSent = (r: RequestResult): boolean => r.error !== "unsent";

/**
 * Latency percentiles (ms from intended send time) over the results that pass `filter`
 * (default: every sent request, including timeouts and connection errors: their latency is
 * the time until the client gave up, which is what a user waited). NaN for an empty set.
 * Values are HdrHistogram's highest-equivalent values at 3 significant digits (<= 0.1 % high).
 */
export function percentiles(results: RequestResult[], ps: number[], filter: (r: RequestResult) => boolean = wasSent): number[] {
  const h = newHistogram();
  try {
    for (const r of results) if (filter(r)) h.recordValue(toMicros(r.latencyMs));
    if (h.totalCount === 0) return ps.map(() => NaN);
    return ps.map((p) => h.getValueAtPercentile(p) / 1000);
  } finally {
    h.destroy();
  }
}

/** One latency percentile (ms); see `percentiles`. */
export function percentile(results: RequestResult[], p: number, filter: (r: RequestResult) => boolean = wasSent): number {
  return percentiles(results, [p], filter)[0]!;
}

/**
 * Per wall-second of INTENDED time (second = floor(intendedAt / 1000)), from 0 to the last
 * second with a scheduled request. `phaseStartsMs` are the phase start offsets (ms since run
 * start); a second belongs to the last phase that started at or before its beginning.
 * Latency percentiles cover every sent request of the second (errors included, as in
 * `percentiles`); statuses count sent requests by class, "err" for status 0. `breaker` and
 * `originRequests` are left for the drill to fill.
 */
export function summarizeSeconds(results: RequestResult[], phaseStartsMs: number[], lateThresholdMs = 5): SecondStats[] {
  let last = -1;
  for (const r of results) last = Math.max(last, Math.floor(r.intendedAt / 1000));
  const buckets: RequestResult[][] = Array.from({ length: last + 1 }, () => []);
  for (const r of results) buckets[Math.floor(r.intendedAt / 1000)]!.push(r);
  const h = newHistogram();
  const out: SecondStats[] = [];
  for (let s = 0; s <= last; s++) {
    let phase = 0;
    for (let i = 0; i < phaseStartsMs.length; i++) if (phaseStartsMs[i]! <= s * 1000) phase = i;
    const st: SecondStats = {
      second: s,
      phase,
      sent: 0,
      answered: 0,
      late: 0,
      unsent: 0,
      statuses: {},
      fallback: 0,
      p50: 0,
      p95: 0,
      p99: 0,
      max: 0,
      breaker: "",
      originRequests: 0,
    };
    h.reset();
    for (const r of buckets[s]!) {
      if (r.error === "unsent") {
        st.unsent++;
        continue;
      }
      st.sent++;
      if (r.sendDelayMs > lateThresholdMs) st.late++;
      if (r.status > 0) st.answered++;
      const cls = statusClass(r.status);
      st.statuses[cls] = (st.statuses[cls] ?? 0) + 1;
      if (r.cacheStatus.includes("; hit")) st.fallback++;
      h.recordValue(toMicros(r.latencyMs));
      if (r.latencyMs > st.max) st.max = r.latencyMs;
    }
    if (h.totalCount > 0) {
      st.p50 = h.getValueAtPercentile(50) / 1000;
      st.p95 = h.getValueAtPercentile(95) / 1000;
      st.p99 = h.getValueAtPercentile(99) / 1000;
    }
    out.push(st);
  }
  h.destroy();
  return out;
}
