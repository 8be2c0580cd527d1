/**
 * Deploy targets at the boundary (issue "Deploy real things", item 3): each type's schema, one
 * resource per scope (safety rule 1), one-box only where the type can split traffic, no
 * wildcard, and the name templates filled per scope and version.
 */
import { describe, expect, it } from "vitest";
import {
  type Pipeline,
  PipelineValidationError,
  parsePipeline,
} from "../../src/domain/pipeline.ts";
import {
  effectiveTarget,
  localSeconds,
  resolveTarget,
  resolveTemplate,
  UnresolvedPlaceholderError,
} from "../../src/domain/targets/index.ts";

const AZS = [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }];

function pipeline(target: unknown, stage: Record<string, unknown> = {}, regions: unknown = AZS) {
  return {
    name: "orders-api",
    ...(target === undefined ? {} : { target }),
    stages: [{ name: "prod-1", regions, bake: { minutes: 10 }, ...stage }],
  };
}

function problems(input: unknown): { path: string; message: string }[] {
  try {
    parsePipeline(input, "test");
    return [];
  } catch (error) {
    if (error instanceof PipelineValidationError) return error.problems;
    throw error;
  }
}

const valid: [string, unknown][] = [
  ["lambda-alias per AZ", { type: "lambda-alias", functionName: "orders-{az}", alias: "live" }],
  [
    "lambda-alias with code",
    {
      type: "lambda-alias",
      functionName: "orders-{region}",
      alias: "live-{az}",
      code: { s3Bucket: "builds-{account}", s3Key: "orders/{version}.zip" },
    },
  ],
  [
    "ecs with a digest",
    {
      type: "ecs",
      cluster: "main",
      service: "orders-{az}",
      container: "app",
      image: "repo@{digest}",
    },
  ],
  [
    "appconfig per AZ",
    {
      type: "appconfig",
      application: "orders",
      environment: "prod-{az}",
      configurationProfile: "flags",
    },
  ],
  ["codebuild (the build gets the scope)", { type: "codebuild", project: "orders-deploy" }],
  ["a custom function", { type: "lambda-function", lambda: "orders-deployer" }],
  ["a dry run", { type: "none" }],
];

describe("deploy target schemas", () => {
  it.each(valid)("accepts %s", (_, target) => {
    expect(problems(pipeline(target))).toEqual([]);
  });

  it("a plain { lambda } is a lambda-function target (the original form keeps working)", () => {
    const p = parsePipeline(pipeline({ lambda: "orders-deployer" }));
    expect(p.target).toEqual({ type: "lambda-function", lambda: "orders-deployer" });
  });

  const invalid: [
    string,
    unknown,
    Record<string, unknown>,
    unknown,
    { path: string; message: RegExp },
  ][] = [
    [
      "a stack shared by every AZ",
      {
        type: "cloudformation",
        stackName: "orders",
        templateUrl: "https://b.s3.amazonaws.com/{version}.json",
      },
      {},
      AZS,
      { path: "target.stackName", message: /must use \{az\}: stage "prod-1"/ },
    ],
    [
      "one ECS service for every AZ",
      {
        type: "ecs",
        cluster: "main",
        service: "orders",
        container: "app",
        image: "repo:{version}",
      },
      {},
      AZS,
      { path: "target.service", message: /must use \{az\}/ },
    ],
    [
      "{az} in a stage of whole regions",
      { type: "lambda-alias", functionName: "orders-{az}", alias: "live" },
      {},
      ["us-east-1"],
      { path: "target.functionName", message: /deploys whole regions/ },
    ],
    [
      "one-box on CloudFormation",
      {
        type: "cloudformation",
        stackName: "orders-{az}",
        templateUrl: "https://b.s3.amazonaws.com/{version}.json",
      },
      { oneBox: true },
      AZS,
      { path: "stages[0].oneBox", message: /cannot split a scope's traffic/ },
    ],
    [
      "one-box on AppConfig",
      { type: "appconfig", application: "a", environment: "e-{az}", configurationProfile: "c" },
      { oneBox: { percent: 5 } },
      AZS,
      { path: "stages[0].oneBox", message: /appconfig target cannot split/ },
    ],
    [
      "an image that names no version",
      {
        type: "ecs",
        cluster: "main",
        service: "orders-{az}",
        container: "app",
        image: "repo:latest",
      },
      {},
      AZS,
      { path: "target.image", message: /must use \{version\} or \{digest\}/ },
    ],
    [
      "a wildcard",
      { type: "codebuild", project: "deploy-*" },
      {},
      AZS,
      { path: "target.project", message: /IAM wildcard/ },
    ],
    [
      "an unknown placeholder",
      { type: "codebuild", project: "deploy-{team}" },
      {},
      AZS,
      { path: "target.project", message: /not \{team\}/ },
    ],
    [
      "a stray brace",
      { type: "codebuild", project: "deploy-{region" },
      {},
      AZS,
      { path: "target.project", message: /may only use the placeholders/ },
    ],
    [
      "a template URL that is not https",
      { type: "cloudformation", stackName: "s-{az}", templateUrl: "http://b/{version}.json" },
      {},
      AZS,
      { path: "target.templateUrl", message: /https:\/\// },
    ],
    [
      "more CloudFormation parameters than a template may declare",
      {
        type: "cloudformation",
        stackName: "s-{az}",
        templateUrl: "https://b/{version}.json",
        parameters: Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`P${i}`, "v"])),
      },
      {},
      AZS,
      { path: "target.parameters", message: /at most 200 parameters/ },
    ],
    [
      "an unknown type",
      { type: "kubernetes" },
      {},
      AZS,
      { path: "target.type", message: /must be one of lambda-function, lambda-alias, ecs/ },
    ],
  ];

  it.each(invalid)("refuses %s, naming the field", (_, target, stage, regions, expected) => {
    const found = problems(pipeline(target, stage, regions));
    expect(found.map((p) => p.path)).toContain(expected.path);
    expect(found.find((p) => p.path === expected.path)?.message).toMatch(expected.message);
  });

  it("a stage's own target replaces the pipeline's, and its problems carry the stage's path", () => {
    const input = pipeline(
      { type: "lambda-alias", functionName: "orders-{az}", alias: "live" },
      {
        target: {
          type: "cloudformation",
          stackName: "pre",
          templateUrl: "https://b/{version}.json",
        },
      },
    );
    expect(problems(input)).toEqual([
      expect.objectContaining({ path: "stages[0].target.stackName" }),
    ]);
    const ok = parsePipeline(
      pipeline(
        { type: "lambda-alias", functionName: "orders-{az}", alias: "live" },
        { target: { type: "codebuild", project: "pre-{stage}" } },
      ),
    );
    expect(effectiveTarget(ok, "prod-1")).toEqual({ type: "codebuild", project: "pre-{stage}" });
  });
});

describe("name templates", () => {
  const values = {
    pipeline: "orders-api",
    stage: "prod-1",
    region: "eu-west-1",
    az: "euw1-az2",
    version: "v42",
    account: "111122223333",
  };

  it.each([
    ["orders-{region}-{az}", "orders-eu-west-1-euw1-az2"],
    ["{pipeline}/{stage}/{version}.zip", "orders-api/prod-1/v42.zip"],
    ["arn:aws:s3:::builds-{account}", "arn:aws:s3:::builds-111122223333"],
    ["plain", "plain"],
  ])("%s → %s", (template, expected) => {
    expect(resolveTemplate(template, values)).toBe(expected);
  });

  it("a placeholder with no value is an error, never a half-built name", () => {
    expect(() => resolveTemplate("repo@{digest}", values)).toThrow(UnresolvedPlaceholderError);
    expect(() => resolveTemplate("repo@{digest}", values)).toThrow(/names no artifact digest/);
    const { az: _, ...region } = values;
    expect(() => resolveTemplate("svc-{az}", region)).toThrow(/whole region/);
  });

  it("resolves every name of a target and keeps its role, type and local timings as written", () => {
    const p: Pipeline = parsePipeline(
      pipeline({
        type: "cloudformation",
        stackName: "orders-{az}",
        templateUrl: "https://b.s3.amazonaws.com/{version}/stack.json",
        parameters: { Version: "{version}", Az: "{az}" },
        capabilities: ["CAPABILITY_IAM"],
        roleArn: "arn:aws:iam::111122223333:role/deployer",
        local: { fullSeconds: 30 },
      }),
    );
    const target = effectiveTarget(p, "prod-1");
    expect(target && resolveTarget(target, values)).toEqual({
      type: "cloudformation",
      stackName: "orders-euw1-az2",
      templateUrl: "https://b.s3.amazonaws.com/v42/stack.json",
      parameters: { Version: "v42", Az: "euw1-az2" },
      capabilities: ["CAPABILITY_IAM"],
      roleArn: "arn:aws:iam::111122223333:role/deployer",
      local: { fullSeconds: 30 },
    });
  });
});

describe("local timings", () => {
  it.each([
    [undefined, { oneBox: 120, full: 300, rollback: 180 }],
    [{ type: "none" as const }, { oneBox: 120, full: 300, rollback: 180 }],
    [
      { type: "cloudformation" as const, stackName: "s", templateUrl: "https://b/{version}" },
      { oneBox: 600, full: 600, rollback: 900 },
    ],
    [
      { type: "lambda-alias" as const, functionName: "f", alias: "a", local: { fullSeconds: 5 } },
      { oneBox: 60, full: 5, rollback: 30 },
    ],
  ])("%j takes %j", (target, expected) => {
    expect(localSeconds(target)).toEqual(expected);
  });

  it("a target's own timings win over a simulation's fleet-wide ones, which win over the type's", () => {
    const target = {
      type: "lambda-alias" as const,
      functionName: "f",
      alias: "a",
      local: { fullSeconds: 5 },
    };
    expect(localSeconds(target, { full: 900, rollback: 90 })).toEqual({
      oneBox: 60,
      full: 5,
      rollback: 90,
    });
  });
});
