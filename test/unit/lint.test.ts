/**
 * The lint's safety rules (src/domain/lint.ts): each rule fires on the shape it is about and
 * not on a pipeline that follows the guidance, and the README's "Lint rules" table lists
 * exactly the rules the code has, with the same severity.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LINT_RULES, lintDefinition, lintPipeline } from "../../src/domain/lint.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";

const alias = { type: "lambda-alias", functionName: "orders-{az}", alias: "live" } as const;
const regional = { type: "lambda-alias", functionName: "orders", alias: "live" } as const;

/** A pipeline that follows the guidance: it has no finding at all. */
function good(): PipelineInput {
  return {
    name: "orders",
    target: regional,
    alarms: ["orders-{stage}-{region}-5xx"],
    stages: [
      { name: "beta", regions: ["us-east-1"], bake: { minutes: 30 } },
      {
        name: "gamma",
        regions: ["us-east-1", "eu-west-1"],
        regionsInParallel: 2,
        oneBox: true,
        bake: { minutes: 60 },
      },
      {
        name: "prod-1",
        regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
        oneBox: true,
        bake: { minutes: 120 },
        target: alias,
      },
      {
        name: "prod-2",
        regions: ["us-east-1", "eu-west-1"],
        regionsInParallel: 2,
        oneBox: true,
        bake: { minutes: 60 },
      },
    ],
  };
}

const rules = (input: PipelineInput) => lintPipeline(parsePipeline(input)).map((f) => f.rule);

describe("lint rules", () => {
  it("finds nothing in a pipeline that follows the guidance", () => {
    expect(lintPipeline(parsePipeline(good()))).toEqual([]);
  });

  it("first-wave-too-wide: the first production wave in two regions is an error", () => {
    const p = good();
    p.stages[2] = {
      name: "prod-1",
      regions: ["eu-north-1", "eu-west-3"],
      oneBox: true,
      bake: { minutes: 120 },
    };
    const [f] = lintPipeline(parsePipeline(p));
    expect(f).toEqual({
      rule: "first-wave-too-wide",
      severity: "error",
      path: "stages[2].regions",
      message: 'the first production wave "prod-1" deploys to 2 regions; start with one',
    });
  });

  it("first-wave-too-wide: its AZs in parallel too", () => {
    const p = good();
    (p.stages[2] as { azsInParallel?: boolean }).azsInParallel = true;
    expect(lintPipeline(parsePipeline(p))[0]).toMatchObject({
      rule: "first-wave-too-wide",
      path: "stages[2].azsInParallel",
    });
  });

  it("wave-without-one-box: a warning, except for a target that cannot split traffic", () => {
    const p = good();
    delete p.stages[3]?.oneBox;
    expect(rules(p)).toEqual(["wave-without-one-box"]);
    const cfn = {
      ...p,
      target: {
        type: "cloudformation",
        stackName: "orders-{stage}",
        templateUrl: "https://t.s3.amazonaws.com/{version}.json",
      },
      stages: p.stages.map((s) => ({ ...s, oneBox: undefined, target: undefined })),
    } as PipelineInput;
    cfn.stages[2] = { ...cfn.stages[2], regions: ["eu-north-1"] } as never;
    expect(rules(cfn)).not.toContain("wave-without-one-box");
  });

  it("production-unmonitored: no alarms and no metrics", () => {
    const { alarms: _, ...withAlias } = good();
    // lambda-alias targets: the detector reads AWS/Lambda's per-version metrics.
    expect(rules(withAlias)).toEqual([]);
    expect(rules({ ...withAlias, anomalyDetection: false })).toEqual(["production-unmonitored"]);
    const p = {
      ...withAlias,
      target: { type: "codebuild", project: "orders-deploy" },
    } as PipelineInput;
    (p.stages[2] as { target?: unknown }).target = { type: "codebuild", project: "orders-deploy" };
    expect(lintPipeline(parsePipeline(p))).toEqual([
      {
        rule: "production-unmonitored",
        severity: "warning",
        path: "alarms",
        message:
          'the pipeline has no alarms and no metrics: nothing judges the bakes of "prod-1", "prod-2"',
      },
    ]);
    const withMetrics = {
      ...p,
      metrics: {
        namespace: "Orders",
        versionDimension: "Version",
        requests: "R",
        faults: "F",
        latency: "L",
      },
    };
    expect(rules(withMetrics)).toEqual([]);
  });

  it("bakes-growing: a later wave baking longer than the one before", () => {
    const p = good();
    (p.stages[3] as { bake: { minutes: number } }).bake.minutes = 180;
    expect(lintPipeline(parsePipeline(p))).toEqual([
      expect.objectContaining({
        rule: "bakes-growing",
        path: "stages[3].bake.minutes",
        message: '"prod-2" bakes 180 minutes, longer than "prod-1" (120)',
      }),
    ]);
  });

  it("no-multi-region-pre-production: production in several regions, pre-production in one", () => {
    const p = good();
    p.stages[1] = { ...p.stages[1], regions: ["us-east-1"], regionsInParallel: 1 } as never;
    expect(rules(p)).toEqual(["no-multi-region-pre-production"]);
  });

  it("no-target: a stage with neither its own target nor the pipeline's", () => {
    const { target: _, ...p } = good();
    expect(rules(p)).toEqual(["no-target", "no-target", "no-target"]);
  });

  it("unknown-region and az-not-in-region: the schema's problems, under their own rules, with did you mean", () => {
    const p = good();
    p.stages[0] = { ...p.stages[0], regions: ["us-est-1"] } as never;
    p.stages[2] = {
      ...p.stages[2],
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "use1-az2"] }],
    } as never;
    const { pipeline, findings } = lintDefinition(p);
    expect(pipeline).toBeUndefined();
    expect(findings).toEqual([
      {
        rule: "unknown-region",
        severity: "error",
        path: "stages[0].regions[0]",
        message: 'unknown AWS region "us-est-1" (did you mean "us-east-1"?)',
      },
      {
        rule: "az-not-in-region",
        severity: "error",
        path: "stages[2].regions[0].azs[1]",
        message:
          'Availability Zone "use1-az2" is in us-east-1, not eu-north-1 (eu-north-1\'s ids are eun1-az1..eun1-az3)',
      },
    ]);
  });

  it("invalid-pipeline: any other schema problem", () => {
    expect(lintDefinition({ name: "x" }).findings).toEqual([
      { rule: "invalid-pipeline", severity: "error", path: "stages", message: "is required" },
    ]);
  });

  it("ignores fields it does not know (new pipeline fields never break the lint)", () => {
    // A valid pipeline whose stages carry more than the rules read.
    const p = parsePipeline(good());
    const extended = { ...p, stages: p.stages.map((s) => ({ ...s, cells: [{ name: "c1" }] })) };
    expect(lintPipeline(extended as never)).toEqual([]);
  });
});

describe("README 'Lint rules' table", () => {
  it("lists every rule with its severity and reason, in the code's order", () => {
    const readme = readFileSync("README.md", "utf8");
    const section = readme.slice(readme.indexOf("### Lint rules"));
    const rows = [...section.matchAll(/^\| `([a-z-]+)` +\| (error|warning) +\| (.+?) +\|$/gm)].map(
      (m) => ({ id: m[1], severity: m[2], reason: m[3] }),
    );
    expect(rows).toEqual(
      LINT_RULES.map((r) => ({ id: r.id, severity: r.severity, reason: r.reason })),
    );
  });
});
