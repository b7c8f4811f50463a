import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Tests talk to a real HTTP origin started by test/global-setup.ts.
        bindings: {
          ORIGINS: JSON.stringify([{ name: "primary", url: inject("originUrl"), weight: 1 }]),
          ORIGIN_TIMEOUT_MS: "1000",
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
