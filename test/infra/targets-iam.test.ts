/**
 * IAM from the deploy targets (issue 12, item 4), the pure part: the statements the deploy and
 * rollback roles get for test/fixtures/target-pipelines (one pipeline per target type), and the
 * target roles' policies. The synthesized template is checked in stack.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { loadPipelines } from "../../stacks/pipelines.ts";
import {
  deployTargetGrants,
  s3Location,
  TargetGrantError,
  targetRolePolicies,
} from "../../stacks/targets-iam.ts";
import { FIXTURE_GRANTS, TARGET_FIXTURES } from "../fixtures/target-grants.ts";

const ENV = { partition: "aws", account: "123456789012" };

const fixtures = async () => (await loadPipelines(TARGET_FIXTURES)).map((l) => l.pipeline);

describe("deploy target grants", () => {
  it("grant exactly each target's actions on the resources its names resolve to, per scope", async () => {
    expect(deployTargetGrants(await fixtures(), ENV)).toEqual(FIXTURE_GRANTS);
  });

  it("grant nothing for pipelines without targets, dry runs or lambda-function names only invoke", () => {
    const stages = [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 10 } }];
    expect(deployTargetGrants([parsePipeline({ name: "a", stages })], ENV)).toEqual([]);
    expect(
      deployTargetGrants([parsePipeline({ name: "a", target: { type: "none" }, stages })], ENV),
    ).toEqual([]);
    expect(
      deployTargetGrants(
        [parsePipeline({ name: "a", target: { lambda: "deployer" }, stages })],
        ENV,
      ),
    ).toEqual([
      {
        actions: ["lambda:InvokeFunction"],
        resources: ["arn:aws:lambda:us-east-1:123456789012:function:deployer"],
      },
    ]);
  });

  it("give a target with roleArn sts:AssumeRole on the role and nothing in the control plane's account", () => {
    const p = parsePipeline({
      name: "a",
      target: {
        type: "ecs",
        cluster: "c",
        service: "s",
        container: "web",
        image: "repo:{version}",
        roleArn: "arn:aws:iam::210987654321:role/deployer",
      },
      stages: [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 10 } }],
    });
    expect(deployTargetGrants([p], ENV)).toEqual([
      { actions: ["sts:AssumeRole"], resources: ["arn:aws:iam::210987654321:role/deployer"] },
    ]);
  });

  it("refuse {version} in a resource name other than an S3 key, naming the pipeline, stage and field", () => {
    const p = parsePipeline({
      name: "a",
      target: {
        type: "cloudformation",
        stackName: "a-{version}",
        templateUrl: "https://t.s3.amazonaws.com/{version}.json",
      },
      stages: [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 10 } }],
    });
    expect(() => deployTargetGrants([p], ENV)).toThrow(TargetGrantError);
    expect(() => deployTargetGrants([p], ENV)).toThrow(
      /pipeline a, stage prod: target\.stackName "a-\{version\}" cannot be granted/,
    );
  });

  it("read the bucket and key of virtual-hosted and path-style template URLs; refuse others", () => {
    expect(s3Location("https://b-{region}.s3.eu-west-1.amazonaws.com/k/{version}.json")).toEqual({
      bucket: "b-{region}",
      key: "k/{version}.json",
    });
    expect(s3Location("https://b.s3.amazonaws.com/k.json")).toEqual({ bucket: "b", key: "k.json" });
    expect(s3Location("https://s3.us-east-1.amazonaws.com/b/{version}/t.json")).toEqual({
      bucket: "b",
      key: "{version}/t.json",
    });
    expect(() => s3Location("https://example.com/t.json")).toThrow(/not an S3 URL/);
  });
});

describe("target role policies", () => {
  it("are the grants the target would get without its role, in the role's account", async () => {
    const policies = targetRolePolicies(await fixtures(), "aws");
    expect([...policies.keys()]).toEqual(["arn:aws:iam::444455556666:role/breakwater-static"]);
    expect(policies.get("arn:aws:iam::444455556666:role/breakwater-static")).toEqual([
      {
        actions: [
          "codebuild:BatchGetBuilds",
          "codebuild:ListBuildsForProject",
          "codebuild:StartBuild",
          "codebuild:StopBuild",
        ],
        resources: ["arn:aws:codebuild:ap-southeast-2:444455556666:project/static-alpha"],
      },
      { actions: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"], resources: ["*"] },
    ]);
  });
});

describe("ecs target schema", () => {
  it("takes the passed roles as role ARNs and refuses a wildcard, naming the field", () => {
    const base = {
      name: "a",
      stages: [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 10 } }],
    };
    const target = {
      type: "ecs",
      cluster: "c",
      service: "s",
      container: "w",
      image: "r:{version}",
    };
    expect(() =>
      parsePipeline({
        ...base,
        target: { ...target, taskRoleArn: "arn:aws:iam::123456789012:role/*" },
      }),
    ).toThrow(/target\.taskRoleArn: must not contain an IAM wildcard/);
    expect(() =>
      parsePipeline({ ...base, target: { ...target, executionRoleArn: "task-role" } }),
    ).toThrow(/target\.executionRoleArn: must be an IAM role ARN/);
  });
});
