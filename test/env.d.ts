/** Types for the test-only context: the fake origin's URL and the worker's Env as `cloudflare:workers` sees it. */
import type { Env as WorkerEnv } from "../src/env.ts";

declare module "vitest" {
  interface ProvidedContext {
    originUrl: string;
    // The second region's origin (test/regions*.test.ts).
    originUrlB: string;
  }
}

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
