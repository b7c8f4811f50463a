/** Harness pieces for the write path's tests: a worker with WRITES over the real ledger and backlog, and a queue that records what it is sent. */
import type { QueuedWrite } from "../src/writes/types.ts";
import { harness, scenario, type Harness } from "./helpers.ts";

export interface RecordingQueue {
  sent: QueuedWrite[];
  /** The options of each send (contentType above all: the body is an ArrayBuffer, which only v8 keeps). */
  options: (QueueSendOptions | undefined)[];
  /** Make the next sends fail, as a queue that refuses them would. */
  refuse: boolean;
  send(message: QueuedWrite, options?: QueueSendOptions): Promise<void>;
  sendBatch(messages: Iterable<MessageSendRequest<QueuedWrite>>): Promise<void>;
}

export function recordingQueue(): RecordingQueue {
  const queue: RecordingQueue = {
    sent: [],
    options: [],
    refuse: false,
    async send(message, options) {
      if (queue.refuse) throw new Error("queue unavailable (test)");
      // Structured clone, as Queues does: the test sees what a consumer would.
      queue.sent.push(structuredClone(message));
      queue.options.push(options);
    },
    async sendBatch(messages) {
      for (const m of messages) await queue.send(m.body, { contentType: m.contentType });
    },
  };
  return queue;
}

export interface WriteWorker {
  h: Harness;
  queue: RecordingQueue;
  s: ReturnType<typeof scenario>;
  /** A write route URL of this test's scenario. */
  url(path?: string): string;
}

/** One region with WRITES: every path of this test's scenario is a write route, `<scenario>/hooks` a webhook route. */
export function writeWorker(options: { vars?: Record<string, unknown>; originUrl?: string; webhookRule?: string } = {}): WriteWorker {
  const s = scenario("w");
  const queue = recordingQueue();
  const writes = {
    routes: [{ path: `/s/${s.id}/`, methods: ["POST", "PUT", "PATCH", "DELETE"], idempotency: "required" }],
    webhooks: [{ path: `/s/${s.id}/hooks`, dedupe_key: options.webhookRule ?? "sha256(event_id+rev)" }],
    max_queued_body_bytes: 1024,
  };
  const h = harness({ WRITES: JSON.stringify(writes), WRITE_QUEUE: queue, ...options.vars });
  if (options.originUrl) h.env.ORIGINS = JSON.stringify([{ name: h.originName, url: options.originUrl, weight: 1 }]);
  return { h, queue, s, url: (path = "/orders") => s.url(path) };
}

export function post(key: string | undefined, body: string, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", body, headers: { "content-type": "application/json", ...(key === undefined ? {} : { "idempotency-key": key }), ...headers } };
}
