import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { azIdsOf } from "../../src/domain/aws-regions.ts";
import {
  type Pipeline,
  parsePipeline,
  type Stage,
  stageSchema,
} from "../../src/domain/pipeline.ts";
import { type DeployStep, nextStage, planStage, stageIndex } from "../../src/domain/planner.ts";
import { stageScopes } from "../../src/domain/scope.ts";

const stage = (s: Partial<Stage> & Pick<Stage, "regions">): Stage =>
  stageSchema.parse({ name: "prod-1", bake: { minutes: 60 }, ...s });

/** Compact rendering of a phase: "one-box eun1-az1 10%" / "full eun1-az2". */
const show = (step: DeployStep) =>
  `${step.kind} ${step.az ?? step.region}${step.kind === "one-box" ? ` ${step.percent}%` : ""}`;

const phasesOf = (s: Stage) => planStage(s).regions.map((r) => r.phases.map((p) => p.map(show)));

type Row = [label: string, stage: Stage, phases: string[][][]];

const rows: Row[] = [
  ["region without AZs, no one-box", stage({ regions: ["us-east-1"] }), [[["full us-east-1"]]]],
  [
    "region without AZs, oneBox false",
    stage({ regions: ["us-east-1"], oneBox: false }),
    [[["full us-east-1"]]],
  ],
  [
    "region without AZs, with one-box",
    stage({ regions: ["us-east-1"], oneBox: true }),
    [[["one-box us-east-1 10%"], ["full us-east-1"]]],
  ],
  [
    "AZs one at a time with one-box",
    stage({
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
    }),
    [[["one-box eun1-az1 10%"], ["full eun1-az1"], ["full eun1-az2"], ["full eun1-az3"]]],
  ],
  [
    "AZs one at a time without one-box",
    stage({ regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }] }),
    [[["full eun1-az1"], ["full eun1-az2"]]],
  ],
  [
    "azsInParallel: all AZs in one phase, after the one-box",
    stage({
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az4"] }],
      azsInParallel: true,
      oneBox: true,
    }),
    [[["one-box use1-az1 10%"], ["full use1-az1", "full use1-az2", "full use1-az4"]]],
  ],
  [
    "oneBox percent",
    stage({ regions: ["us-west-2"], oneBox: { percent: 5 } }),
    [[["one-box us-west-2 5%"], ["full us-west-2"]]],
  ],
  [
    "a region object without azs is a region scope",
    stage({ regions: [{ region: "eu-west-1" }], oneBox: { percent: 50 } }),
    [[["one-box eu-west-1 50%"], ["full eu-west-1"]]],
  ],
  [
    "several regions, each with its own one-box, in the listed order",
    stage({
      regions: ["us-west-2", { region: "eu-west-1", azs: ["euw1-az2", "euw1-az1"] }],
      oneBox: true,
    }),
    [
      [["one-box us-west-2 10%"], ["full us-west-2"]],
      [["one-box euw1-az2 10%"], ["full euw1-az2"], ["full euw1-az1"]],
    ],
  ],
];

describe("planStage", () => {
  it.each(rows)("%s", (_, s, phases) => {
    const plan = planStage(s);
    expect(plan.stage).toBe(s.name);
    expect(plan.regions.map((r) => r.region)).toEqual(
      s.regions.map((r) => (typeof r === "string" ? r : r.region)),
    );
    expect(phasesOf(s)).toEqual(phases);
  });

  it("fills in scope ids, regions, AZs and percentages of every step", () => {
    const plan = planStage(
      stage({
        name: "prod-2",
        regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
        oneBox: { percent: 7 },
        bake: { minutes: 45 },
      }),
    );
    expect(plan.regions).toEqual([
      {
        region: "us-east-1",
        phases: [
          [
            {
              scope: "prod-2/us-east-1/use1-az1",
              region: "us-east-1",
              az: "use1-az1",
              kind: "one-box",
              percent: 7,
              bakeSeconds: 2700,
            },
          ],
          [
            {
              scope: "prod-2/us-east-1/use1-az1",
              region: "us-east-1",
              az: "use1-az1",
              kind: "full",
              percent: 100,
              bakeSeconds: 2700,
            },
          ],
          [
            {
              scope: "prod-2/us-east-1/use1-az2",
              region: "us-east-1",
              az: "use1-az2",
              kind: "full",
              percent: 100,
              bakeSeconds: 2700,
            },
          ],
        ],
      },
    ]);
  });

  it("a region scope's steps carry no az field", () => {
    const [step] = planStage(stage({ regions: ["us-east-1"] })).regions[0]?.phases[0] ?? [];
    expect(step).toEqual({
      scope: "prod-1/us-east-1",
      region: "us-east-1",
      kind: "full",
      percent: 100,
      bakeSeconds: 3600,
    });
    expect(step && "az" in step).toBe(false);
  });

  it.each([
    [undefined, 1],
    [1, 1],
    [3, 3],
  ])("regionsInParallel %j plans %j region(s) at a time", (configured, expected) => {
    const s = stage({
      regions: ["us-west-2", "eu-west-1", "ap-southeast-2"],
      ...(configured === undefined ? {} : { regionsInParallel: configured }),
    });
    expect(planStage(s).regionsInParallel).toBe(expected);
  });

  it.each([1, 10, 30, 60, 1440])(
    "a bake of %i minutes is minutes*60 seconds on every step, one-box and full",
    (minutes) => {
      const s = stage({
        regions: ["us-east-1", { region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
        oneBox: true,
        bake: { minutes },
      });
      const steps = planStage(s).regions.flatMap((r) => r.phases.flat());
      expect(new Set(steps.map((x) => x.kind))).toEqual(new Set(["one-box", "full"]));
      for (const step of steps) expect(step.bakeSeconds).toBe(minutes * 60);
    },
  );
});

describe("stageIndex / nextStage", () => {
  const pipeline: Pipeline = parsePipeline({
    name: "orders-api",
    stages: ["alpha", "beta", "gamma", "prod-1"].map((name) => ({
      name,
      regions: ["us-east-1"],
      bake: { minutes: 10 },
    })),
  });

  it.each([
    ["alpha", 0, "beta"],
    ["beta", 1, "gamma"],
    ["gamma", 2, "prod-1"],
    ["prod-1", 3, undefined],
  ])("%s is stage %i, followed by %s", (name, index, next) => {
    expect(stageIndex(pipeline, name)).toBe(index);
    expect(nextStage(pipeline, name)?.name).toBe(next);
  });

  it("an unknown stage is an error naming the pipeline and the stage", () => {
    expect(() => stageIndex(pipeline, "prod-9")).toThrow(
      'pipeline "orders-api" has no stage "prod-9"',
    );
    expect(() => nextStage(pipeline, "prod-9")).toThrow('has no stage "prod-9"');
  });
});

describe("planStage properties", () => {
  const regionPool = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-north-1",
    "ap-southeast-2",
    "sa-east-1",
  ];
  const regionEntry = (region: string) =>
    fc.oneof(
      fc.constant(region),
      fc.constant({ region }),
      fc
        .uniqueArray(fc.constantFrom(...azIdsOf(region)), { minLength: 1, maxLength: 6 })
        .map((azs) => ({ region, azs })),
    );
  const stageArb = fc
    .record(
      {
        name: fc.constantFrom("alpha", "gamma", "prod-1", "prod-22"),
        regions: fc
          .uniqueArray(fc.constantFrom(...regionPool), { minLength: 1, maxLength: 6 })
          .chain((rs) => fc.tuple(...rs.map(regionEntry))),
        regionsInParallel: fc.integer({ min: 1, max: 6 }),
        azsInParallel: fc.boolean(),
        oneBox: fc.oneof(
          fc.boolean(),
          fc.integer({ min: 1, max: 50 }).map((percent) => ({ percent })),
        ),
        bake: fc.integer({ min: 1, max: 10_000 }).map((minutes) => ({ minutes })),
      },
      { requiredKeys: ["name", "regions", "bake"] },
    )
    // At most the stage's regions (the schema refuses more; more meant "all at once").
    .map((s) =>
      stageSchema.parse(
        s.regionsInParallel === undefined
          ? s
          : { ...s, regionsInParallel: Math.min(s.regionsInParallel, s.regions.length) },
      ),
    );

  it("every scope has exactly one full step; one-box only first in a region and only when configured", () => {
    fc.assert(
      fc.property(stageArb, (s) => {
        const plan = planStage(s);
        const steps = plan.regions.flatMap((r) => r.phases.flat());
        const scopes = stageScopes(s).map((x) => x.id);

        // Every scope of the stage appears in exactly one full step (and nothing else does).
        const full = steps.filter((x) => x.kind === "full").map((x) => x.scope);
        expect([...full].sort()).toEqual([...scopes].sort());
        expect(new Set(full).size).toBe(full.length);
        for (const step of steps) {
          expect(step.bakeSeconds).toBe(s.bake.minutes * 60);
          if (step.kind === "full") expect(step.percent).toBe(100);
        }

        const oneBoxOn = s.oneBox !== undefined && s.oneBox !== false;
        expect(plan.regionsInParallel).toBe(s.regionsInParallel ?? 1);
        plan.regions.forEach((region, i) => {
          const regionScopes = stageScopes({
            ...s,
            regions: [s.regions[i] as Stage["regions"][number]],
          });
          const all = region.phases.flat();
          const oneBoxes = all.filter((x) => x.kind === "one-box");
          if (!oneBoxOn) {
            expect(oneBoxes).toEqual([]);
          } else {
            // Exactly one one-box step per region, alone in the first phase, on its first scope.
            expect(oneBoxes).toHaveLength(1);
            expect(region.phases[0]).toEqual(oneBoxes);
            expect(oneBoxes[0]?.scope).toBe(regionScopes[0]?.id);
            expect(oneBoxes[0]?.percent).toBe(
              s.oneBox === true ? 10 : (s.oneBox as { percent: number }).percent,
            );
          }
          for (const step of all) expect(step.region).toBe(region.region);
          if (!s.azsInParallel) {
            // One AZ at a time: every phase holds exactly one step.
            for (const phase of region.phases) expect(phase).toHaveLength(1);
            expect(region.phases).toHaveLength(regionScopes.length + (oneBoxOn ? 1 : 0));
          } else {
            expect(region.phases).toHaveLength(oneBoxOn ? 2 : 1);
          }
          // Full steps follow the listed AZ order.
          expect(all.filter((x) => x.kind === "full").map((x) => x.scope)).toEqual(
            regionScopes.map((x) => x.id),
          );
        });
      }),
      { numRuns: 300 },
    );
  });
});
