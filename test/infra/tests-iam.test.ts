/**
 * IAM for the stages' tests (issue 13, item 2), the pure part: the deploy role's statements for
 * each stage's test functions and projects in each scope, and nothing for a stage whose target
 * is reached through its role. The synthesized template is checked in stack.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { targetRolePolicies } from "../../stacks/targets-iam.ts";
import { stageTestGrants } from "../../stacks/tests-iam.ts";

const ENV = { partition: "aws", account: "123456789012" };

describe("stage test grants", () => {
  it("grant Invoke on each test function, and a build's start/status/stop on each project, per scope", () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "beta",
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }, "eu-west-1"],
          bake: { minutes: 10 },
          tests: [{ lambda: "orders-it-{stage}-{region}" }, { codebuild: "orders-e2e-{az}" }],
        },
        { name: "prod", regions: ["us-east-1"], bake: { minutes: 10 } },
      ],
    });
    expect(stageTestGrants([pipeline], ENV)).toEqual([
      {
        actions: ["lambda:InvokeFunction"],
        resources: [
          "arn:aws:lambda:eu-west-1:123456789012:function:orders-it-beta-eu-west-1",
          "arn:aws:lambda:us-east-1:123456789012:function:orders-it-beta-us-east-1",
        ],
      },
      {
        actions: ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
        // {az} names a project only in AZ scopes (eu-west-1 has none).
        resources: [
          "arn:aws:codebuild:us-east-1:123456789012:project/orders-e2e-use1-az1",
          "arn:aws:codebuild:us-east-1:123456789012:project/orders-e2e-use1-az2",
        ],
      },
    ]);
  });

  it("grant nothing without tests, or where the stage's target is reached through its role", () => {
    const stage = { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } };
    expect(stageTestGrants([parsePipeline({ name: "a", stages: [stage] })], ENV)).toEqual([]);
    const viaRole = parsePipeline({
      name: "a",
      target: {
        lambda: "deployer",
        roleArn: "arn:aws:iam::210987654321:role/breakwater-deployer",
      },
      stages: [{ ...stage, tests: [{ lambda: "it" }] }],
    });
    expect(stageTestGrants([viaRole], ENV)).toEqual([]);
    // The role's own policy, in its account, lists them instead.
    expect(
      targetRolePolicies([viaRole], "aws").get(
        "arn:aws:iam::210987654321:role/breakwater-deployer",
      ),
    ).toContainEqual({
      actions: ["lambda:InvokeFunction"],
      resources: ["arn:aws:lambda:us-east-1:210987654321:function:it"],
    });
  });

  it("never grants a wildcard: test names cannot hold one", () => {
    expect(() =>
      parsePipeline({
        name: "a",
        stages: [
          {
            name: "beta",
            regions: ["us-east-1"],
            bake: { minutes: 1 },
            tests: [{ lambda: "it-*" }],
          },
        ],
      }),
    ).toThrow(/stages\[0\]\.tests\[0\]\.lambda/);
  });
});
