import { defineConfig } from "vitest/config";

/** Settings every tier shares. */
const shared = {
  setupFiles: ["test/support/setup.ts"],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  env: {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    // No CloudWatch here: the handlers' embedded-metric output would only be noise.
    POWERTOOLS_METRICS_DISABLED: "true",
  },
};

export default defineConfig({
  test: {
    // Two cores: DynamoDB Local (one JVM for the whole run) plus two test workers.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Two tiers, one `vitest run`: the unit tier needs no Java, so it has no globalSetup and a
    // unit file starts in about a second; the tiers that talk to DynamoDB Local start one JVM
    // for the whole run (test/support/global-setup.ts).
    projects: [
      {
        extends: true,
        test: { ...shared, name: "unit", include: ["test/unit/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          ...shared,
          // Whole rollouts on DynamoDB Local (5–17 ms a call): a crash test that replays a run
          // once per side effect takes 8 s alone and over 60 s on a loaded 2-core machine.
          testTimeout: 180_000,
          name: "dynamo",
          include: [
            "test/contract/**/*.test.ts",
            "test/integration/**/*.test.ts",
            "test/e2e/**/*.test.ts",
            "test/property/**/*.test.ts",
            "test/infra/**/*.test.ts",
          ],
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
