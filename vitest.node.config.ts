import { defineConfig } from "vitest/config";

/** The drill kit's own logic (plans, target checks), which runs in Node, not in workerd. */
export default defineConfig({
  test: {
    name: "drill-kit",
    environment: "node",
    include: ["scripts/**/*.test.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
