import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: DynamoDB Local (one JVM for the whole run) plus two test workers.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // No CloudWatch here: the handlers' embedded-metric output would only be noise.
      POWERTOOLS_METRICS_DISABLED: "true",
    },
  },
});
