/**
 * Cells (issue 13, item 1): the region entry's `cells` and AZs with cells in the pipeline
 * schema, the planner's cell batches, scope ids with a cell level, `{cell}` in alarm, dimension
 * and target name templates, the deploy roles' grants per cell, and the local fleet's traffic
 * split over cells.
 */
import { describe, expect, it } from "vitest";
import { azIdsOf } from "../../src/domain/aws-regions.ts";
import { resolveAlarmName } from "../../src/domain/blockers.ts";
import {
  MAX_CELLS_PER_GROUP,
  MAX_SCOPES_PER_STAGE,
  type PipelineInput,
  PipelineValidationError,
  parsePipeline,
  pipelineJsonSchema,
  type Stage,
  stageSchema,
} from "../../src/domain/pipeline.ts";
import { type DeployStep, planStage } from "../../src/domain/planner.ts";
import { planSchedule } from "../../src/domain/schedule.ts";
import {
  parseScopeId,
  placementOf,
  regionOf,
  scopeGlobProblem,
  scopeId,
  stageScopes,
} from "../../src/domain/scope.ts";
import { resolveTemplate } from "../../src/domain/targets/resolve.ts";
import { cellShares, SimulatedFleet } from "../../src/local/fleet.ts";
import { deployTargetGrants } from "../../stacks/targets-iam.ts";

type StageInput = PipelineInput["stages"][number];

const stage = (s: Partial<StageInput> & Pick<StageInput, "regions">): Stage =>
  stageSchema.parse({ name: "prod-1", bake: { minutes: 60 }, ...s });

/** The problems of a pipeline with these stages, as `path: message` lines. */
function problems(stages: unknown[], extra: Record<string, unknown> = {}): string[] {
  try {
    parsePipeline({ name: "orders-api", ...extra, stages });
  } catch (err) {
    if (err instanceof PipelineValidationError) {
      return err.problems.map((p) => `${p.path}: ${p.message}`);
    }
    throw err;
  }
  return [];
}

const prod = (regions: unknown[], more: Record<string, unknown> = {}) => ({
  name: "prod-1",
  regions,
  bake: { minutes: 30 },
  ...more,
});

describe("pipeline schema: cells", () => {
  it("accepts cells on a region and cells inside AZs, returned as written", () => {
    const p = parsePipeline({
      name: "orders-api",
      stages: [
        prod(
          [
            {
              region: "us-east-1",
              azs: [
                { az: "use1-az1", cells: ["c1", "c2"] },
                { az: "use1-az2", cells: ["c1"] },
              ],
            },
            { region: "eu-west-1", cells: ["blue", "green", "7"] },
            "eu-north-1",
            { region: "us-west-2", azs: ["usw2-az1"] },
          ],
          { cellsInParallel: 2 },
        ),
      ],
    });
    expect(p.stages[0]?.regions[1]).toEqual({ region: "eu-west-1", cells: ["blue", "green", "7"] });
    expect(p.stages[0]?.cellsInParallel).toBe(2);
    expect(regionOf(p.stages[0]?.regions[0] as Stage["regions"][number])).toEqual({
      region: "us-east-1",
      azs: ["use1-az1", "use1-az2"],
    });
  });

  it.each([
    [[{ region: "us-east-1", cells: ["c1", "cell-2"] }], "stages[0].regions[0].cells[1]"],
    [[{ region: "us-east-1", cells: ["C1"] }], "stages[0].regions[0].cells[0]"],
    [[{ region: "us-east-1", cells: [""] }], "stages[0].regions[0].cells[0]"],
    [[{ region: "us-east-1", cells: ["c".repeat(17)] }], "stages[0].regions[0].cells[0]"],
    [
      [{ region: "us-east-1", azs: [{ az: "use1-az1", cells: ["c/1"] }] }],
      "stages[0].regions[0].azs[0].cells[0]",
    ],
  ])("refuses a malformed cell id %j at %s", (regions, path) => {
    expect(problems([prod(regions)])).toEqual([
      `${path}: must be a cell id: 1-16 lowercase letters or digits (no dashes), such as c1`,
    ]);
  });

  it("refuses duplicate cells with their path, in a region and in an AZ", () => {
    expect(
      problems([
        prod([
          { region: "us-east-1", cells: ["c1", "c2", "c1"] },
          {
            region: "eu-west-1",
            azs: [
              { az: "euw1-az1", cells: ["c1"] },
              { az: "euw1-az2", cells: ["c1", "c3", "c3"] },
            ],
          },
        ]),
      ]),
    ).toEqual([
      'stages[0].regions[0].cells[2]: duplicate cell "c1" (also cells[0])',
      'stages[0].regions[1].azs[1].cells[2]: duplicate cell "c3" (also cells[1])',
    ]);
  });

  it("refuses cells both on a region and in its AZs, and a region whose AZs mix both forms", () => {
    expect(
      problems([
        prod([
          { region: "us-east-1", azs: ["use1-az1"], cells: ["c1"] },
          { region: "eu-west-1", azs: [{ az: "euw1-az1", cells: ["c1"] }, "euw1-az2"] },
        ]),
      ]),
    ).toEqual([
      'stages[0].regions[0].cells: give cells either on the region or inside each AZ ({ "az": ..., "cells": [...] }), not both',
      "stages[0].regions[1].azs: either every AZ of a region lists its cells or none does",
    ]);
  });

  it("refuses an AZ with cells that lacks cells, has none, or has unknown fields", () => {
    expect(
      problems([
        prod([
          {
            region: "us-east-1",
            azs: [
              { az: "use1-az1" },
              { az: "use1-az2", cells: [] },
              { az: "use1-az3", cells: ["c1"], weight: 2 },
            ],
          },
        ]),
      ]),
    ).toEqual([
      "stages[0].regions[0].azs[0].cells: is required",
      "stages[0].regions[0].azs[1].cells: must list at least one cell",
      "stages[0].regions[0].azs[2].weight: unknown field",
    ]);
  });

  it("bounds the counts: cells per group, AZs per region, scopes per stage", () => {
    const cells = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    expect(
      problems([prod([{ region: "us-east-1", cells: cells(MAX_CELLS_PER_GROUP + 1) }])]),
    ).toEqual([`stages[0].regions[0].cells: must list at most ${MAX_CELLS_PER_GROUP} cells`]);
    const azs = Array.from({ length: 11 }, (_, i) => `use1-az${i + 1}`);
    expect(problems([prod([{ region: "us-east-1", azs }])])).toContain(
      "stages[0].regions[0].azs: must list at most 10 Availability Zones",
    );
    // Every AZ of four regions, each with the most cells: more than a stage may have.
    const regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"];
    const big = regions.map((region) => ({
      region,
      azs: azIdsOf(region).map((az) => ({ az, cells: cells(MAX_CELLS_PER_GROUP) })),
    }));
    const scopes = regions.reduce((n, r) => n + azIdsOf(r).length * MAX_CELLS_PER_GROUP, 0);
    expect(scopes).toBeGreaterThan(MAX_SCOPES_PER_STAGE);
    expect(problems([prod(big, { bake: { minutes: 1 } })])).toEqual([
      `stages[0].regions: this stage has ${scopes} scopes (regions x AZs x cells): at most ${MAX_SCOPES_PER_STAGE}`,
    ]);
  });

  it("cellsInParallel: a positive integer, only with cells, at most the largest cell list", () => {
    const cells = [{ region: "us-east-1", azs: [{ az: "use1-az1", cells: ["c1", "c2", "c3"] }] }];
    expect(problems([prod(cells, { cellsInParallel: 3 })])).toEqual([]);
    expect(problems([prod(cells, { cellsInParallel: 4 })])).toEqual([
      "stages[0].cellsInParallel: must be at most the stage's largest cell list (3 cells)",
    ]);
    expect(problems([prod(cells, { cellsInParallel: 0 })])).toEqual([
      "stages[0].cellsInParallel: must be a positive integer",
    ]);
    expect(problems([prod(["us-east-1"], { cellsInParallel: 1 })])).toEqual([
      "stages[0].cellsInParallel: the stage lists no cells (give a region or AZ its cells, or remove this)",
    ]);
  });

  it("counts cell steps in the stage's longest bake", () => {
    // 20 cells one at a time, each baking 20 days: 400 days, more than a year.
    const cells = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const long = prod([{ region: "us-east-1", cells }], { bake: { minutes: 20 * 1440 } });
    expect(problems([long])[0]).toMatch(
      /^stages\[0\]\.bake: this stage's bakes, one after another, add up to 400 days/,
    );
    // Ten at a time: two batches, 40 days.
    expect(problems([{ ...long, cellsInParallel: 10 }])).toEqual([]);
  });

  it("accepts {cell} in alarm and dimension templates; refuses unknown placeholders", () => {
    const stages = [prod([{ region: "us-east-1", cells: ["c1"] }])];
    expect(problems(stages, { alarms: ["orders-{region}-{cell}-faults"] })).toEqual([]);
    expect(
      problems(stages, {
        metrics: {
          namespace: "Orders",
          dimensions: { Cell: "{cell}" },
          versionDimension: "Version",
          requests: "Requests",
          faults: "Faults",
          latency: "Latency",
        },
      }),
    ).toEqual([]);
    expect(problems(stages, { alarms: ["orders-{cel}"] })[0]).toMatch(
      /^alarms\[0\]: may only use the placeholders .*\{cell\}/,
    );
  });

  it("the JSON Schema describes cells and cellsInParallel", () => {
    const text = JSON.stringify(pipelineJsonSchema());
    expect(text).toContain('"cellsInParallel"');
    expect(text).toContain("^[a-z0-9]{1,16}$");
  });
});

/** Compact rendering of a step: "one-box use1-az1/c1 10%" / "full c2". */
const show = (step: DeployStep) =>
  `${step.kind} ${[step.az, step.cell].filter(Boolean).join("/") || step.region}${step.kind === "one-box" ? ` ${step.percent}%` : ""}`;
const phasesOf = (s: Stage) => planStage(s).regions.map((r) => r.phases.map((p) => p.map(show)));

describe("planner: cells", () => {
  it("region cells one at a time, one-box in the first cell", () => {
    expect(
      phasesOf(
        stage({ regions: [{ region: "us-east-1", cells: ["c1", "c2", "c3"] }], oneBox: true }),
      ),
    ).toEqual([[["one-box c1 10%"], ["full c1"], ["full c2"], ["full c3"]]]);
  });

  it("cellsInParallel cells at a time inside a region", () => {
    expect(
      phasesOf(
        stage({
          regions: [{ region: "us-east-1", cells: ["c1", "c2", "c3"] }],
          cellsInParallel: 2,
        }),
      ),
    ).toEqual([[["full c1", "full c2"], ["full c3"]]]);
  });

  it("AZs one at a time, their cells cellsInParallel at a time inside each", () => {
    const s = stage({
      regions: [
        {
          region: "us-east-1",
          azs: [
            { az: "use1-az1", cells: ["c1", "c2", "c3"] },
            { az: "use1-az2", cells: ["c1", "c2"] },
          ],
        },
      ],
      cellsInParallel: 2,
      oneBox: { percent: 5 },
    });
    expect(phasesOf(s)).toEqual([
      [
        ["one-box use1-az1/c1 5%"],
        ["full use1-az1/c1", "full use1-az1/c2"],
        ["full use1-az1/c3"],
        ["full use1-az2/c1", "full use1-az2/c2"],
      ],
    ]);
    const first = planStage(s).regions[0]?.phases[1]?.[1];
    expect(first).toEqual({
      scope: "prod-1/us-east-1/use1-az1/c2",
      region: "us-east-1",
      az: "use1-az1",
      cell: "c2",
      kind: "full",
      percent: 100,
      bakeSeconds: 3600,
    });
  });

  it("azsInParallel with cells: the k-th batch of every AZ together, never two cells of one AZ", () => {
    const s = stage({
      regions: [
        {
          region: "us-east-1",
          azs: [
            { az: "use1-az1", cells: ["c1", "c2", "c3"] },
            { az: "use1-az2", cells: ["c1"] },
          ],
        },
      ],
      azsInParallel: true,
    });
    expect(phasesOf(s)).toEqual([
      [["full use1-az1/c1", "full use1-az2/c1"], ["full use1-az1/c2"], ["full use1-az1/c3"]],
    ]);
  });

  it("every scope of the stage is planned exactly once at 100%, in stageScopes order", () => {
    const s = stage({
      regions: [
        {
          region: "us-east-1",
          azs: [
            { az: "use1-az1", cells: ["c1", "c2"] },
            { az: "use1-az2", cells: ["c9"] },
          ],
        },
        { region: "eu-west-1", cells: ["a", "b"] },
        "eu-north-1",
      ],
      cellsInParallel: 2,
      oneBox: true,
    });
    const full = planStage(s)
      .regions.flatMap((r) => r.phases.flat())
      .filter((st) => st.kind === "full")
      .map((st) => st.scope);
    expect(full).toEqual(stageScopes(s).map((sc) => sc.id));
  });
});

describe("scope ids with cells", () => {
  it.each([
    ["prod-1", "us-east-1", "use1-az1", "c2", "prod-1/us-east-1/use1-az1/c2"],
    ["prod-1", "us-east-1", undefined, "c2", "prod-1/us-east-1/c2"],
    ["prod-1", "us-east-1", "use1-az1", undefined, "prod-1/us-east-1/use1-az1"],
  ])("scopeId(%j, %j, %j, %j) is %j and parses back", (st, region, az, cell, id) => {
    expect(scopeId(st, region, az, cell)).toBe(id);
    const ref = parseScopeId(id);
    expect(ref).toEqual({
      id,
      stage: st,
      region,
      ...(az ? { az } : {}),
      ...(cell ? { cell } : {}),
    });
    expect(placementOf(ref)).toEqual({ ...(az ? { az } : {}), ...(cell ? { cell } : {}) });
  });

  it.each([
    "prod-1/us-east-1/c1/use1-az1",
    "prod-1/us-east-1/use1-az1/use1-az2",
    "prod-1/us-east-1/c1/c2",
  ])("refuses %j (a cell before an AZ, two AZs, two cells)", (id) => {
    expect(() => parseScopeId(id)).toThrow(`"${id}" is not a scope id`);
  });

  it("stageScopes lists cells in order, with their AZ", () => {
    const s = stage({
      regions: [
        { region: "us-east-1", azs: [{ az: "use1-az1", cells: ["c2", "c1"] }] },
        { region: "eu-west-1", cells: ["c1"] },
      ],
    });
    expect(stageScopes(s)).toEqual([
      {
        id: "prod-1/us-east-1/use1-az1/c2",
        stage: "prod-1",
        region: "us-east-1",
        az: "use1-az1",
        cell: "c2",
      },
      {
        id: "prod-1/us-east-1/use1-az1/c1",
        stage: "prod-1",
        region: "us-east-1",
        az: "use1-az1",
        cell: "c1",
      },
      { id: "prod-1/eu-west-1/c1", stage: "prod-1", region: "eu-west-1", cell: "c1" },
    ]);
  });

  it("a fault or block glob may name one cell, or every cell of an AZ", () => {
    const p = parsePipeline({
      name: "orders-api",
      stages: [prod([{ region: "us-east-1", azs: [{ az: "use1-az1", cells: ["c1", "c2"] }] }])],
    });
    expect(scopeGlobProblem("prod-1/us-east-1/use1-az1/c2", p)).toBeUndefined();
    expect(scopeGlobProblem("prod-1/us-east-1/use1-az1/*", p)).toBeUndefined();
    expect(scopeGlobProblem("prod-1/us-east-1/use1-az1/c3", p)).toMatch(/matches no scope/);
  });
});

describe("{cell} in alarm names", () => {
  const cell = parseScopeId("prod-1/us-east-1/use1-az1/c2");
  const zonal = parseScopeId("prod-1/us-east-1/use1-az1");
  it("resolves for a cell scope; a cell template does not apply to a scope without a cell", () => {
    expect(resolveAlarmName("orders-{az}-{cell}-faults", "orders-api", cell)).toBe(
      "orders-use1-az1-c2-faults",
    );
    expect(resolveAlarmName("orders-{cell}-faults", "orders-api", zonal)).toBeUndefined();
    // A regional alarm judges every cell of its region.
    expect(resolveAlarmName("orders-{region}-faults", "orders-api", cell)).toBe(
      "orders-us-east-1-faults",
    );
  });
});

describe("{cell} in target names", () => {
  const cellStage = prod([{ region: "us-east-1", azs: [{ az: "use1-az1", cells: ["c1", "c2"] }] }]);
  const alias = (functionName: string) => ({ type: "lambda-alias", functionName, alias: "live" });

  it("a stage with cells needs {cell} in the target's resource name", () => {
    expect(problems([cellStage], { target: alias("orders-{az}") })).toEqual([
      'target.functionName: must use {cell}: stage "prod-1" deploys cell by cell, so each cell needs its own lambda-alias resource (functionName with {cell} or alias with {cell}); else one deploy would change every cell at once',
    ]);
    expect(problems([cellStage], { target: alias("orders-{az}-{cell}") })).toEqual([]);
  });

  it("refuses {cell} where the stage has scopes without cells", () => {
    expect(problems([prod(["us-east-1"])], { target: alias("orders-{region}-{cell}") })).toEqual([
      'target.functionName: uses {cell}, but stage "prod-1" has scopes without cells: give the stage its own target',
    ]);
  });

  it("resolves {cell}, and says when the scope has none", () => {
    expect(resolveTemplate("orders-{cell}", { cell: "c2" })).toBe("orders-c2");
    expect(() => resolveTemplate("orders-{cell}", { region: "us-east-1" })).toThrow(
      '"orders-{cell}" uses {cell}, which has no value here (the scope is not a cell)',
    );
  });

  it("grants the deploy roles each cell's own resource (no wildcard)", () => {
    const p = parsePipeline({
      name: "orders-api",
      target: alias("orders-{az}-{cell}"),
      stages: [cellStage],
    });
    const resources = deployTargetGrants([p], {
      partition: "aws",
      account: "123456789012",
    }).flatMap((g) => g.resources);
    expect(resources).toContain(
      "arn:aws:lambda:us-east-1:123456789012:function:orders-use1-az1-c1",
    );
    expect(resources).toContain(
      "arn:aws:lambda:us-east-1:123456789012:function:orders-use1-az1-c2",
    );
    expect(resources.some((r) => r.includes("*") || r.includes("{"))).toBe(false);
  });
});

describe("local fleet: cells split their AZ's traffic", () => {
  const p = parsePipeline({
    name: "orders-api",
    stages: [
      prod([
        {
          region: "us-east-1",
          azs: [
            { az: "use1-az1", cells: ["c1", "c2"] },
            { az: "use1-az2", cells: ["c1", "c2", "c3", "c4"] },
          ],
        },
        "eu-west-1",
      ]),
    ],
  });

  it("each cell gets 1/n of its group", () => {
    const shares = cellShares([p]);
    expect(shares.get("prod-1/us-east-1/use1-az1/c2")).toBe(0.5);
    expect(shares.get("prod-1/us-east-1/use1-az2/c4")).toBe(0.25);
    expect(shares.get("prod-1/eu-west-1")).toBe(1);
  });

  it("a cell serves its share of the requests", async () => {
    const fleet = new SimulatedFleet({
      pipeline: p,
      initialVersion: "v1",
      clock: { now: () => new Date(0) },
    });
    const total = async (scope: string) => {
      const minutes = await fleet.minutes({
        pipeline: p,
        scope: parseScopeId(scope),
        from: new Date(0),
        to: new Date(60 * 60_000),
        select: "all",
      });
      return (minutes ?? []).reduce((n, m) => n + m.requests, 0);
    };
    // An hour at 1000 rpm ±10% noise: the cell of four serves a quarter of it.
    const region = await total("prod-1/eu-west-1");
    const quarter = await total("prod-1/us-east-1/use1-az2/c4");
    expect(region).toBeGreaterThan(60 * 900);
    expect(quarter).toBeGreaterThan(60 * 225);
    expect(quarter).toBeLessThan(60 * 275);
  });
});

describe("plan: the blast radius counts cells", () => {
  it("each cell is its share of its AZ; the AZ counts as exposed from its first cell", () => {
    const p = parsePipeline({
      name: "orders-api",
      target: { type: "none" },
      stages: [
        prod([
          {
            region: "us-east-1",
            azs: [
              { az: "use1-az1", cells: ["c1", "c2"] },
              { az: "use1-az2", cells: ["c1", "c2"] },
            ],
          },
        ]),
      ],
    });
    const steps = planSchedule(p, { start: new Date("2026-01-05T09:00:00Z") }).steps;
    expect(steps.map((s) => [s.scope, s.blast?.trafficPercent, s.blast?.azs.exposed])).toEqual([
      ["prod-1/us-east-1/use1-az1/c1", 25, 1],
      ["prod-1/us-east-1/use1-az1/c2", 50, 1],
      ["prod-1/us-east-1/use1-az2/c1", 75, 2],
      ["prod-1/us-east-1/use1-az2/c2", 100, 2],
    ]);
  });
});
