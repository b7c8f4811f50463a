/** Starts the real HTTP origins the tests proxy to, on loopback, for the whole run: one per region the tests model. */
import type { TestProject } from "vitest/node";
import { startFakeOrigin } from "../scripts/lib/fake-origin.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startFakeOrigin();
  // A second region: its own server, so one region can fail while the other answers.
  const second = await startFakeOrigin();
  project.provide("originUrl", origin.url);
  project.provide("originUrlB", second.url);
  return async () => {
    await origin.close();
    await second.close();
  };
}
