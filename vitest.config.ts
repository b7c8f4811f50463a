import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { filterExpectedDisconnectLogs } from "./scripts/lib/workerd-log-filter.ts";

// workerd (verbose, as the pool runs it) logs the connections the fake origin resets or truncates
// on purpose as "uncaught exception" stack dumps, even though the worker handles them; drop exactly
// those messages. Any other output, and any rejection left unhandled, still shows.
filterExpectedDisconnectLogs(process.stdout);
filterExpectedDisconnectLogs(process.stderr);

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Tests talk to a real HTTP origin started by test/global-setup.ts.
        bindings: {
          ORIGINS: JSON.stringify([{ name: "primary", url: inject("originUrl"), weight: 1 }]),
          ORIGIN_TIMEOUT_MS: "1000",
          // The breaker tests step a fake clock through open periods of these lengths.
          BREAKER_OPEN_MS: "5000",
          BREAKER_OPEN_MAX_MS: "10000",
          ADMIN_TOKEN: "test-admin-secret",
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
