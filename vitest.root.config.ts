import { defineConfig } from "vitest/config";

/** Tests that need root (network namespaces for real partitions): `npm run test:root`, run by .ci/run. */
export default defineConfig({
  test: {
    name: "root",
    environment: "node",
    include: ["scripts/**/*.root-test.ts"],
    testTimeout: 30_000,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
