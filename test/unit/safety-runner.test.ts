/**
 * The safety-property runner (test/safety/properties.ts) itself: a property that fails reports
 * a shrunk counterexample with the seed and path that replay it, and counts only the scenarios
 * checked before it failed. The property here flags every rollback as a violation, a stand-in
 * for a broken rule that the real scenarios reach often.
 */
import { describe, expect, it } from "vitest";
import {
  checkProperty,
  describeFailure,
  propertyNamed,
  type SafetyProperty,
} from "../safety/properties.ts";

const runs = propertyNamed("runs");
const noRollbackEver: SafetyProperty<unknown> = {
  ...runs,
  name: "no-rollback-ever",
  async run(scenario, stores) {
    const result = await runs.run(scenario, stores);
    const rolledBack = result.exercised.includes(3);
    return {
      ...result,
      problems: [...result.problems, ...(rolledBack ? ["rule 3: a scope rolled back"] : [])],
    };
  },
};

describe("safety property runner", () => {
  it("reports a shrunk counterexample that its seed and path replay", {
    timeout: 600_000,
  }, async () => {
    const report = await checkProperty(noRollbackEver, { numRuns: 50, seed: 42, stores: "memory" });
    expect(report.failure).toBeDefined();
    const failure = report.failure as NonNullable<typeof report.failure>;
    expect(failure.problems).toContain("rule 3: a scope rolled back");
    expect(report.scenarios).toBeLessThan(50);
    expect(describeFailure(report)).toContain(
      `npm run soak -- --property no-rollback-ever --seed 42 --path ${failure.path}`,
    );
    // The seed and path replay the shrunk case alone, first try.
    const replay = await checkProperty(noRollbackEver, {
      numRuns: 50,
      seed: 42,
      path: failure.path,
      stores: "memory",
    });
    expect(replay.scenarios).toBe(1);
    expect(replay.failure?.counterexample).toBe(failure.counterexample);
  });

  it("counts every scenario of a property that holds", { timeout: 600_000 }, async () => {
    const report = await checkProperty(propertyNamed("parallel-halt"), {
      numRuns: 10,
      seed: 1,
      stores: "memory",
    });
    expect(report.failure).toBeUndefined();
    expect(report.scenarios).toBe(10);
    expect(report.exercised[3]).toBe(10);
  });
});
