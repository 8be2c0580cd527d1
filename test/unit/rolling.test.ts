/**
 * Rolling steps (issue 13 item 5): `stages[].rolling` deploys each full step in traffic steps,
 * each baking `bakeMinutes` before the next; the 100% step bakes the stage's full bake.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bakePolicy } from "../../src/app/stage-steps/bake-policy.ts";
import { inFlightDeployRequest } from "../../src/app/stage-steps/deploy.ts";
import type { Run } from "../../src/domain/model.ts";
import {
  MAX_ROLLING_STEPS,
  PipelineValidationError,
  type Problem,
  parsePipeline,
  type Stage,
  stageSchema,
} from "../../src/domain/pipeline.ts";
import { type DeployStep, planStage, stepKindAt } from "../../src/domain/planner.ts";

const stage = (s: Record<string, unknown>): Stage =>
  stageSchema.parse({ name: "prod-1", bake: { minutes: 60 }, ...s });
const show = (step: DeployStep) =>
  `${step.kind} ${step.az ?? step.region} ${step.percent}% ${step.bakeSeconds / 60}m`;
const phasesOf = (s: Stage) => planStage(s).regions.map((r) => r.phases.map((p) => p.map(show)));

function problemsOf(input: unknown): Problem[] {
  try {
    parsePipeline(input, "p.json");
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineValidationError);
    return (err as PipelineValidationError).problems;
  }
}

const pipeline = (st: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  name: "orders",
  stages: [{ name: "prod-1", regions: ["us-east-1"], bake: { minutes: 60 }, ...st }],
  ...over,
});

describe("planStage with rolling steps", () => {
  it("a region without AZs: one step per percent, short bakes, then the full bake at 100%", () => {
    expect(
      phasesOf(
        stage({ regions: ["us-east-1"], rolling: { percents: [25, 50, 100], bakeMinutes: 10 } }),
      ),
    ).toEqual([
      [["rolling us-east-1 25% 10m"], ["rolling us-east-1 50% 10m"], ["full us-east-1 100% 60m"]],
    ]);
  });

  it("AZs one at a time: each AZ rolls through its percents before the next AZ starts", () => {
    expect(
      phasesOf(
        stage({
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
          oneBox: true,
          rolling: { percents: [50, 100], bakeMinutes: 5 },
        }),
      ),
    ).toEqual([
      [
        ["one-box use1-az1 10% 60m"],
        ["rolling use1-az1 50% 5m"],
        ["full use1-az1 100% 60m"],
        ["rolling use1-az2 50% 5m"],
        ["full use1-az2 100% 60m"],
      ],
    ]);
  });

  it("azsInParallel: every AZ takes each percent together", () => {
    expect(
      phasesOf(
        stage({
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
          azsInParallel: true,
          rolling: { percents: [20, 100], bakeMinutes: 15 },
        }),
      ),
    ).toEqual([
      [
        ["rolling use1-az1 20% 15m", "rolling use1-az2 20% 15m"],
        ["full use1-az1 100% 60m", "full use1-az2 100% 60m"],
      ],
    ]);
  });

  it("stepKindAt tells a one-box share from a rolling share (rolling starts above the one-box)", () => {
    const s = stage({
      regions: ["us-east-1"],
      oneBox: { percent: 5 },
      rolling: { percents: [25, 100], bakeMinutes: 1 },
    });
    expect(stepKindAt(s, 5)).toBe("one-box");
    expect(stepKindAt(s, 25)).toBe("rolling");
    expect(stepKindAt(s, 100)).toBe("full");
    expect(stepKindAt(stage({ regions: ["us-east-1"], oneBox: true }), 10)).toBe("one-box");
  });

  it("property: every scope ends with exactly one full step at 100%, after its rolling steps in order", () => {
    const percents = fc
      .uniqueArray(fc.integer({ min: 11, max: 99 }), {
        minLength: 1,
        maxLength: MAX_ROLLING_STEPS - 1,
      })
      .map((xs) => [...xs.sort((a, b) => a - b), 100]);
    fc.assert(
      fc.property(
        percents,
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.boolean(),
        (ps, azs, par, box) => {
          const s = stage({
            regions: [
              {
                region: "us-east-1",
                azs: Array.from({ length: azs }, (_, i) => `use1-az${i + 1}`),
              },
            ],
            azsInParallel: par,
            oneBox: box,
            rolling: { percents: ps, bakeMinutes: 7 },
          });
          const steps = planStage(s).regions.flatMap((r) => r.phases.flat());
          for (let i = 0; i < azs; i++) {
            const mine = steps.filter((st) => st.az === `use1-az${i + 1}` && st.kind !== "one-box");
            expect(mine.map((st) => st.percent)).toEqual(ps);
            expect(mine.map((st) => st.kind)).toEqual([
              ...ps.slice(0, -1).map(() => "rolling"),
              "full",
            ]);
            expect(mine.map((st) => st.bakeSeconds)).toEqual([
              ...ps.slice(0, -1).map(() => 420),
              3600,
            ]);
          }
        },
      ),
    );
  });
});

describe("rolling validation", () => {
  it.each<[string, Record<string, unknown>, Problem[]]>([
    [
      "not strictly increasing",
      { rolling: { percents: [50, 50, 100], bakeMinutes: 10 } },
      [
        {
          path: "stages[0].rolling.percents[1]",
          message: "must be larger than the step before (50)",
        },
      ],
    ],
    [
      "not ending at 100",
      { rolling: { percents: [25, 50], bakeMinutes: 10 } },
      [
        {
          path: "stages[0].rolling.percents",
          message: "must end at 100 (the step that bakes the stage's full bake)",
        },
      ],
    ],
    [
      "only 100",
      { rolling: { percents: [100], bakeMinutes: 10 } },
      [
        {
          path: "stages[0].rolling.percents",
          message: "must list at least one share below 100, then 100",
        },
      ],
    ],
    [
      "a share out of range",
      { rolling: { percents: [0, 100], bakeMinutes: 10 } },
      [
        {
          path: "stages[0].rolling.percents[0]",
          message: "must be a whole percentage from 1 to 100",
        },
      ],
    ],
    [
      "too many steps",
      {
        rolling: {
          percents: [...Array.from({ length: MAX_ROLLING_STEPS }, (_, i) => i + 1), 100],
          bakeMinutes: 1,
        },
      },
      [
        {
          path: "stages[0].rolling.percents",
          message: `must list at most ${MAX_ROLLING_STEPS} steps`,
        },
      ],
    ],
    [
      "bakeMinutes missing",
      { rolling: { percents: [50, 100] } },
      [{ path: "stages[0].rolling.bakeMinutes", message: "is required" }],
    ],
    [
      "an unknown field",
      { rolling: { percents: [50, 100], bakeMinutes: 1, wait: 2 } },
      [{ path: "stages[0].rolling.wait", message: "unknown field" }],
    ],
    [
      "a first share not above the one-box's",
      { oneBox: { percent: 20 }, rolling: { percents: [20, 100], bakeMinutes: 1 } },
      [
        {
          path: "stages[0].rolling.percents[0]",
          message:
            "must be larger than the one-box share (20%): rolling steps come after the one-box",
        },
      ],
    ],
  ])("%s", (_, st, expected) => {
    expect(problemsOf(pipeline(st))).toEqual(expected);
  });

  it.each(["cloudformation", "appconfig"])(
    "on a %s target (cannot split traffic) names the field",
    (type) => {
      const target =
        type === "cloudformation"
          ? { type, stackName: "orders", templateUrl: "https://b.s3.amazonaws.com/{version}.json" }
          : { type, application: "a", environment: "e", configurationProfile: "c" };
      const problems = problemsOf(
        pipeline({ rolling: { percents: [50, 100], bakeMinutes: 10 } }, { target }),
      );
      expect(problems.filter((p) => p.path === "stages[0].rolling")).toHaveLength(1);
      expect(problems.find((p) => p.path === "stages[0].rolling")?.message).toContain(
        "cannot split a scope's traffic",
      );
    },
  );

  it("a lambda-alias target may roll", () => {
    expect(
      problemsOf(
        pipeline(
          { rolling: { percents: [25, 50, 100], bakeMinutes: 10 } },
          { target: { type: "lambda-alias", functionName: "orders", alias: "live" } },
        ),
      ),
    ).toEqual([]);
  });

  it("the stage's longest run counts the rolling bakes (one year at most)", () => {
    const problems = problemsOf(
      pipeline({
        regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az3"] }],
        bake: { minutes: 60 },
        rolling: { percents: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], bakeMinutes: 20 * 24 * 60 },
      }),
    );
    expect(problems.map((p) => p.path)).toEqual(["stages[0].bake"]);
  });
});

describe("a rolling deploy in flight, as a rollback finds it", () => {
  const definition = parsePipeline({
    name: "orders",
    stages: [
      {
        name: "prod-1",
        regions: ["us-east-1"],
        oneBox: { percent: 5 },
        rolling: { percents: [25, 50, 100], bakeMinutes: 10 },
        bake: { minutes: 60 },
      },
    ],
  });
  const run = {
    runId: "orders@v2",
    pipeline: "orders",
    version: "v2",
    status: "running",
    seq: 2,
    definition,
    createdAt: "2026-12-02T00:00:00.000Z",
    updatedAt: "2026-12-02T00:00:00.000Z",
    stages: {},
    rolledBack: [],
    cause: "test",
  } satisfies Run;
  const ctx = { runId: run.runId, pipeline: "orders", version: "v2", stage: "prod-1" };

  it("is the request the deploy step sent: its kind from the share, its share in its id", () => {
    const rolling = inFlightDeployRequest(run, ctx, "prod-1/us-east-1", 50);
    expect(rolling).toMatchObject({
      kind: "rolling",
      percent: 50,
      deploymentId: "orders@v2|prod-1/us-east-1|rolling-50",
    });
    expect(inFlightDeployRequest(run, ctx, "prod-1/us-east-1", 5)).toMatchObject({
      kind: "one-box",
      deploymentId: "orders@v2|prod-1/us-east-1|one-box",
    });
    expect(inFlightDeployRequest(run, ctx, "prod-1/us-east-1", 100).kind).toBe("full");
  });

  it("each share of a rolling step bakes rolling.bakeMinutes with no traffic minimum, the detector looking during it", () => {
    expect(bakePolicy(run, "prod-1", "rolling")).toEqual({
      minutes: 10,
      maxMinutes: 10,
      onInsufficientTraffic: "proceed",
      checkEveryMinutes: 5,
    });
    expect(bakePolicy(run, "prod-1", "full").minutes).toBe(60);
  });
});
