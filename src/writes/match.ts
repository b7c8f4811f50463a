/** Which write rule a request falls under: a configured write route with its method, a webhook route, or none (passes through as before). */
import { matchRoute } from "../scrub/routes.ts";
import type { WebhookRoute, WriteRoute, WritesConfig } from "./types.ts";

export type WriteRule = { kind: "write"; route: WriteRoute } | { kind: "webhook"; route: WebhookRoute };

export function matchWrite(writes: WritesConfig | undefined, method: string, pathname: string): WriteRule | undefined {
  if (writes === undefined) return undefined;
  for (const route of writes.webhooks) {
    if (route.methods.includes(method) && matchRoute([route.pattern], pathname) !== undefined) return { kind: "webhook", route };
  }
  for (const route of writes.routes) {
    if (route.methods.includes(method) && matchRoute([route.pattern], pathname) !== undefined) return { kind: "write", route };
  }
  return undefined;
}
