/**
 * `rollbackWaves` (src/domain/rollback.ts): a wave-by-wave rollback-all is ordered as a
 * deployment (safety rule 1): newest stage first, regions of a stage together, a region's AZs
 * one at a time unless the stage deploys them in parallel; the one-box phase has no part of
 * its own. Table cases, then a property over random pipelines and target sets.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ScopeState } from "../../src/domain/model.ts";
import { type Pipeline, type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { planStage } from "../../src/domain/planner.ts";
import { type DecisionRollback, rollbackWaves } from "../../src/domain/rollback.ts";
import { pipelineScopes } from "../../src/domain/scope.ts";

const definition: Pipeline = parsePipeline({
  name: "orders-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az3"] }, "eu-west-1"],
      oneBox: true,
      bake: { minutes: 60 },
    },
    {
      name: "prod-2",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
      azsInParallel: true,
      bake: { minutes: 60 },
    },
  ],
});

const scope = (id: string): ScopeState => ({
  pipeline: "orders-api",
  scope: id,
  version: "v7",
  previousVersion: "v6",
  percent: 100,
  status: "stable",
  since: "2026-12-01T10:00:00.000Z",
  cause: "test",
  runId: "run-v7",
  rev: 3,
});

/** Targets for these scopes, with the step the planner has for each (its full step). */
function targets(pipeline: Pipeline, ids: string[]): DecisionRollback[] {
  const steps = pipeline.stages.flatMap((s) =>
    planStage(s).regions.flatMap((r) => r.phases.flat().filter((st) => st.kind === "full")),
  );
  return ids.map((id) => {
    const step = steps.find((s) => s.scope === id);
    if (!step) throw new Error(`no step for ${id}`);
    return { scope: scope(id), toVersion: "v6", step };
  });
}

/** The waves as scope ids. */
const ids = (pipeline: Pipeline, scopes: string[]) =>
  rollbackWaves(pipeline, targets(pipeline, scopes)).map((w) => ({
    stage: w.stage,
    regions: w.regions.map((r) => ({
      region: r.region,
      phases: r.phases.map((p) => p.map((t) => t.scope.scope)),
    })),
  }));

describe("rollbackWaves", () => {
  it("newest stage first; a region's AZs one at a time; AZs in parallel together", () => {
    expect(
      ids(definition, [
        "beta/us-east-1",
        "prod-1/us-east-1/use1-az1",
        "prod-1/us-east-1/use1-az2",
        "prod-1/us-east-1/use1-az3",
        "prod-1/eu-west-1",
        "prod-2/eu-north-1/eun1-az1",
        "prod-2/eu-north-1/eun1-az2",
      ]),
    ).toEqual([
      {
        stage: "prod-2",
        regions: [
          {
            region: "eu-north-1",
            phases: [["prod-2/eu-north-1/eun1-az1", "prod-2/eu-north-1/eun1-az2"]],
          },
        ],
      },
      {
        stage: "prod-1",
        regions: [
          {
            region: "us-east-1",
            phases: [
              ["prod-1/us-east-1/use1-az1"],
              ["prod-1/us-east-1/use1-az2"],
              ["prod-1/us-east-1/use1-az3"],
            ],
          },
          { region: "eu-west-1", phases: [["prod-1/eu-west-1"]] },
        ],
      },
      { stage: "beta", regions: [{ region: "us-east-1", phases: [["beta/us-east-1"]] }] },
    ]);
  });

  it("drops what has nothing to roll back: empty phases, regions and stages", () => {
    expect(ids(definition, ["prod-1/us-east-1/use1-az2"])).toEqual([
      {
        stage: "prod-1",
        regions: [{ region: "us-east-1", phases: [["prod-1/us-east-1/use1-az2"]] }],
      },
    ]);
    expect(rollbackWaves(definition, [])).toEqual([]);
  });

  it("a target whose scope the pipeline no longer has is left out", () => {
    const [known] = targets(definition, ["prod-1/eu-west-1"]);
    const stray = { ...(known as DecisionRollback), scope: scope("prod-9/eu-west-1") };
    expect(rollbackWaves(definition, [stray])).toEqual([]);
  });

  it("keeps every target exactly once, and stages in reverse pipeline order", () => {
    const region = (name: string, prefix: string) =>
      fc
        .option(fc.uniqueArray(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), {
          nil: undefined,
        })
        .map((azs) => (azs ? { region: name, azs: azs.map((n) => `${prefix}-az${n}`) } : name));
    const stage = (name: string) =>
      fc.record({
        name: fc.constant(name),
        regions: fc
          .subarray(
            [
              ["us-east-1", "use1"],
              ["eu-west-1", "euw1"],
              ["ap-southeast-2", "apse2"],
            ] as const,
            { minLength: 1 },
          )
          .chain((rs) => fc.tuple(...rs.map(([r, p]) => region(r, p)))),
        azsInParallel: fc.boolean(),
        oneBox: fc.boolean(),
        bake: fc.constant({ minutes: 10 }),
      });
    const pipelineArb = fc
      .tuple(stage("beta"), stage("prod-1"), stage("prod-2"))
      .map((stages) =>
        parsePipeline({ name: "orders-api", stages: stages as PipelineInput["stages"] }),
      );
    fc.assert(
      fc.property(
        pipelineArb.chain((p) =>
          fc.tuple(fc.constant(p), fc.subarray(pipelineScopes(p).map((s) => s.id))),
        ),
        ([pipeline, chosen]) => {
          const waves = rollbackWaves(pipeline, targets(pipeline, chosen));
          const flat = waves.flatMap((w) => w.regions.flatMap((r) => r.phases.flat()));
          expect(flat.map((t) => t.scope.scope).sort()).toEqual([...chosen].sort());
          const order = pipeline.stages.map((s) => s.name);
          const indexes = waves.map((w) => order.indexOf(w.stage));
          expect(indexes).toEqual([...indexes].sort((a, b) => b - a));
          for (const w of waves) {
            const st = pipeline.stages.find((s) => s.name === w.stage);
            for (const r of w.regions) {
              // One AZ per phase unless the stage deploys its AZs in parallel.
              if (!st?.azsInParallel) for (const p of r.phases) expect(p).toHaveLength(1);
              expect(r.phases.every((p) => p.length > 0)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 200, seed: 0x5eed },
    );
  });
});
