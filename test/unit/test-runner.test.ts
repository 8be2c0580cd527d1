/**
 * The stages' tests in AWS (AwsTestRunner) and canaries from CloudWatch (CloudWatchCanarySource),
 * against AWS's documented request and response shapes (aws-sdk-client-mock): Lambda Invoke
 * (RequestResponse; a function error comes back as `FunctionError` with the error's JSON),
 * CodeBuild StartBuild/BatchGetBuilds/StopBuild, CloudWatch GetMetricData.
 */
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from "@aws-sdk/client-cloudwatch";
import {
  BatchGetBuildsCommand,
  CodeBuildClient,
  StartBuildCommand,
  type StartBuildCommandInput,
  StopBuildCommand,
} from "@aws-sdk/client-codebuild";
import { InvokeCommand, type InvokeCommandInput, LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  CloudWatchCanarySource,
  SUCCESS_PERCENT,
  SYNTHETICS_NAMESPACE,
} from "../../src/adapters/aws/cloudwatch-canaries.ts";
import { AwsTestRunner, TEST_ID_VARIABLE } from "../../src/adapters/aws/test-runner.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { TestRequest } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const lambda = mockClient(LambdaClient);
const codebuild = mockClient(CodeBuildClient);
const cloudwatch = mockClient(CloudWatchClient);

const pipeline = parsePipeline({
  name: "orders-api",
  stages: [
    {
      name: "beta",
      regions: [{ region: "us-east-1", azs: ["use1-az1"] }],
      bake: { minutes: 10 },
      tests: [{ lambda: "orders-it-{region}" }, { codebuild: "orders-e2e" }],
    },
  ],
});

const clientsSeen: { region: string; roleArn?: string | undefined }[] = [];
const runner = new AwsTestRunner({
  lambda: (region, roleArn) => {
    clientsSeen.push({ region, roleArn });
    return new LambdaClient({ region, credentials });
  },
  codebuild: (region, roleArn) => {
    clientsSeen.push({ region, roleArn });
    return new CodeBuildClient({ region, credentials });
  },
});

function request(kind: "lambda" | "codebuild", over: Partial<TestRequest> = {}): TestRequest {
  return {
    testId: `run-1|beta/us-east-1/use1-az1|full|test|${kind}`,
    pipeline,
    scope: parseScopeId("beta/us-east-1/use1-az1"),
    version: "v2",
    kind: "full",
    percent: 100,
    test: {
      kind,
      name: kind === "lambda" ? "orders-it-us-east-1" : "orders-e2e",
      timeoutMinutes: 30,
    },
    ...over,
  };
}

const answer = (value: unknown, functionError?: string) => ({
  StatusCode: 200,
  ...(functionError ? { FunctionError: functionError } : {}),
  Payload: new TextEncoder().encode(JSON.stringify(value)) as never,
});
const payloadOf = (input: InvokeCommandInput) =>
  JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array));

beforeEach(() => {
  lambda.reset();
  codebuild.reset();
  cloudwatch.reset();
  clientsSeen.length = 0;
});

describe("AwsTestRunner, Lambda tests", () => {
  it("invokes the function RequestResponse with the scope and version (the published contract)", async () => {
    lambda.on(InvokeCommand).resolves(answer({ state: "running", pollSeconds: 20 }));
    const started = await runner.start(request("lambda"));
    expect(started).toEqual({
      handle: "run-1|beta/us-east-1/use1-az1|full|test|lambda",
      status: { state: "running", pollSeconds: 20 },
    });
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input as InvokeCommandInput;
    expect(input.FunctionName).toBe("orders-it-us-east-1");
    expect(input.InvocationType).toBe("RequestResponse");
    expect(payloadOf(input)).toEqual({
      action: "start",
      testId: "run-1|beta/us-east-1/use1-az1|full|test|lambda",
      pipeline: "orders-api",
      scope: "beta/us-east-1/use1-az1",
      stage: "beta",
      region: "us-east-1",
      az: "use1-az1",
      version: "v2",
      percent: 100,
      kind: "full",
    });
  });

  it("polls with status; a quick test may answer its result to start", async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(answer({ state: "passed", report: "12 of 12" }))
      .resolvesOnce(answer({ state: "failed", report: "checkout: 500 on POST /orders" }));
    expect((await runner.start(request("lambda"))).status).toEqual({
      state: "passed",
      report: "12 of 12",
    });
    expect(await runner.status(request("lambda"), "h")).toEqual({
      state: "failed",
      report: "checkout: 500 on POST /orders",
    });
    expect(payloadOf(lambda.commandCalls(InvokeCommand)[1]?.args[0].input as never).action).toBe(
      "status",
    );
  });

  it("a function error or an answer outside the contract is a failed test (fail closed)", async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(answer({ errorType: "Error", errorMessage: "boom" }, "Unhandled"))
      .resolvesOnce(answer({ ok: true }));
    expect(await runner.status(request("lambda"), "h")).toEqual({
      state: "failed",
      report: 'function error (Unhandled): {"errorType":"Error","errorMessage":"boom"}',
    });
    expect(await runner.status(request("lambda"), "h")).toEqual({
      state: "failed",
      report: 'answered status outside the test contract: {"ok":true}',
    });
  });

  it("reaches a test in the target's account through the target's role", async () => {
    lambda.on(InvokeCommand).resolves(answer({ state: "passed" }));
    const roleArn = "arn:aws:iam::210987654321:role/breakwater-beta";
    await runner.status(request("lambda", { roleArn }), "h");
    expect(clientsSeen).toEqual([{ region: "us-east-1", roleArn }]);
  });
});

describe("AwsTestRunner, CodeBuild tests", () => {
  it("starts one build with an idempotency token and the BREAKWATER_* variables; polls it by id", async () => {
    codebuild.on(StartBuildCommand).resolves({ build: { id: "orders-e2e:b-1" } });
    const started = await runner.start(request("codebuild"));
    expect(started).toEqual({
      handle: "orders-e2e:b-1",
      status: { state: "running", pollSeconds: 30 },
    });
    const input = codebuild.commandCalls(StartBuildCommand)[0]?.args[0]
      .input as StartBuildCommandInput;
    expect(input.projectName).toBe("orders-e2e");
    expect(input.idempotencyToken).toMatch(/^bw-[0-9a-f]{40}$/);
    const env = Object.fromEntries(
      (input.environmentVariablesOverride ?? []).map((v) => [v.name, v.value]),
    );
    expect(env).toMatchObject({
      BREAKWATER_SCOPE: "beta/us-east-1/use1-az1",
      BREAKWATER_VERSION: "v2",
      BREAKWATER_AZ: "use1-az1",
      [TEST_ID_VARIABLE]: "run-1|beta/us-east-1/use1-az1|full|test|codebuild",
    });
    // The same test id, the same token: a retried start gets the same build back.
    await runner.start(request("codebuild"));
    const again = codebuild.commandCalls(StartBuildCommand)[1]?.args[0].input;
    expect(again?.idempotencyToken).toBe(input.idempotencyToken);
  });

  it("reports a build's outcome: in progress, succeeded, failed with the failed phase's words", async () => {
    codebuild
      .on(BatchGetBuildsCommand)
      .resolvesOnce({ builds: [{ id: "b-1", buildStatus: "IN_PROGRESS" }] })
      .resolvesOnce({ builds: [{ id: "b-1", buildStatus: "SUCCEEDED" }] })
      .resolvesOnce({
        builds: [
          {
            id: "b-1",
            buildStatus: "FAILED",
            logs: { deepLink: "https://console.aws.amazon.com/cloudwatch/logs/b-1" },
            phases: [
              {
                phaseType: "BUILD",
                phaseStatus: "FAILED",
                contexts: [{ statusCode: "COMMAND_EXECUTION_ERROR", message: "npm test exited 1" }],
              },
            ],
          },
        ],
      })
      .resolvesOnce({ builds: [] });
    const req = request("codebuild");
    expect(await runner.status(req, "b-1")).toEqual({ state: "running", pollSeconds: 30 });
    expect(await runner.status(req, "b-1")).toEqual({
      state: "passed",
      report: "build b-1 SUCCEEDED",
    });
    expect(await runner.status(req, "b-1")).toEqual({
      state: "failed",
      report:
        "build b-1 FAILED in BUILD: COMMAND_EXECUTION_ERROR: npm test exited 1 (logs: https://console.aws.amazon.com/cloudwatch/logs/b-1)",
    });
    expect(await runner.status(req, "b-1")).toEqual({
      state: "failed",
      report: "build b-1 of orders-e2e not found",
    });
  });

  it("stops a build that timed out", async () => {
    codebuild.on(StopBuildCommand).resolves({});
    await runner.stop(request("codebuild"), "b-1");
    expect(codebuild.commandCalls(StopBuildCommand)[0]?.args[0].input).toEqual({ id: "b-1" });
  });
});

describe("CloudWatchCanarySource", () => {
  const source = new CloudWatchCanarySource(
    (region) => new CloudWatchClient({ region, credentials }),
  );
  const from = new Date("2026-03-04T10:00:00.000Z");
  const to = new Date("2026-03-04T10:30:00.000Z");

  it("averages each canary's SuccessPercent runs over the window (CloudWatchSynthetics, CanaryName)", async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: "c0", Timestamps: [from, from], Values: [100, 90], StatusCode: "Complete" },
        { Id: "c1", Timestamps: [], Values: [], StatusCode: "Complete" },
      ],
    });
    const observed = await source.successPercent({
      pipeline,
      scope: parseScopeId("beta/us-east-1/use1-az1"),
      names: ["orders-home", "orders-checkout"],
      from,
      to,
    });
    expect(observed).toEqual([
      { name: "orders-home", successPercent: 95 },
      { name: "orders-checkout" },
    ]);
    const input = cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0]
      .input as GetMetricDataCommandInput;
    expect(input.StartTime).toEqual(from);
    expect(input.EndTime).toEqual(to);
    expect(input.MetricDataQueries?.[0]?.MetricStat).toEqual({
      Metric: {
        Namespace: SYNTHETICS_NAMESPACE,
        MetricName: SUCCESS_PERCENT,
        Dimensions: [{ Name: "CanaryName", Value: "orders-home" }],
      },
      Period: 60,
      Stat: "Average",
    });
  });

  it("follows NextToken across pages", async () => {
    cloudwatch
      .on(GetMetricDataCommand)
      .resolvesOnce({ MetricDataResults: [{ Id: "c0", Values: [100] }], NextToken: "t" })
      .resolvesOnce({ MetricDataResults: [{ Id: "c0", Values: [0] }] });
    const observed = await source.successPercent({
      pipeline,
      scope: parseScopeId("beta/us-east-1"),
      names: ["orders-home"],
      from,
      to,
    });
    expect(observed).toEqual([{ name: "orders-home", successPercent: 50 }]);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)[1]?.args[0].input.NextToken).toBe("t");
  });
});
