/**
 * The safety properties' generators reach cells (issue 13, item 1): the "runs" and
 * "parallel-halt" scenarios of test/safety/runs.ts include region cells, AZs with cells,
 * `cellsInParallel` above 1 (with AZs one at a time and all at once) and faults in one cell, so
 * rules 1, 2, 3 and 5 are checked on them (test/property/safety.test.ts runs the properties).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pipelineScopes } from "../../src/domain/scope.ts";
import { SUITE_SEED } from "../safety/properties.ts";
import { parallelScenarioArb, type Scenario, scenarioArb } from "../safety/runs.ts";

function census(scenarios: Scenario[]) {
  const count = (p: (s: Scenario) => boolean) => scenarios.filter(p).length;
  const scopes = (s: Scenario) => pipelineScopes(s.pipeline);
  return {
    regionCells: count((s) => scopes(s).some((x) => x.cell && !x.az)),
    azCells: count((s) => scopes(s).some((x) => x.cell && x.az)),
    cellsInParallel: count((s) => s.pipeline.stages.some((st) => (st.cellsInParallel ?? 1) > 1)),
    azsInParallelWithCells: count((s) =>
      s.pipeline.stages.some(
        (st) => st.azsInParallel && st.cellsInParallel !== undefined && st.cellsInParallel > 1,
      ),
    ),
    faultInACell: count((s) =>
      s.faults.some((f) => scopes(s).some((x) => x.id === f.scopes && x.cell)),
    ),
  };
}

describe("the safety generators make cells", () => {
  it("runs: every cell shape, cellsInParallel and cell faults, in a fair share of scenarios", () => {
    const c = census(fc.sample(scenarioArb, { numRuns: 300, seed: SUITE_SEED }));
    expect(c.regionCells).toBeGreaterThan(30);
    expect(c.azCells).toBeGreaterThan(30);
    expect(c.cellsInParallel).toBeGreaterThan(30);
    expect(c.azsInParallelWithCells).toBeGreaterThan(5);
    expect(c.faultInACell).toBeGreaterThan(30);
  });

  it("parallel-halt: the faulty scope of the racing wave is sometimes a cell", () => {
    const c = census(fc.sample(parallelScenarioArb, { numRuns: 150, seed: SUITE_SEED }));
    expect(c.faultInACell).toBeGreaterThan(10);
  });
});
