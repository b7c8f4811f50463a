import { defineConfig } from "vitest/config";

/** The panel SQL on a real ClickHouse engine: needs chdb (`npm run dashboard:install`). */
export default defineConfig({
  test: {
    name: "dashboard",
    environment: "node",
    include: ["scripts/**/*.dashboard-test.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
