/** Starts the real HTTP origin the tests proxy to, on loopback, for the whole run. */
import type { TestProject } from "vitest/node";
import { startFakeOrigin } from "../scripts/lib/fake-origin.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startFakeOrigin();
  project.provide("originUrl", origin.url);
  return () => origin.close();
}
