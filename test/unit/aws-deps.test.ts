/**
 * The deployed functions' dependencies (functions/lib/aws-deps.ts) load each adapter and its
 * SDK client on first use. The lazily built ports must still reach the real adapters: AWS is
 * mocked with aws-sdk-client-mock, in the documented response shapes.
 */
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  CodeBuildClient,
  ListBuildsForProjectCommand,
  StartBuildCommand,
} from "@aws-sdk/client-codebuild";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import {
  GetAliasCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-lambda";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awsDeps } from "../../functions/lib/aws-deps.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { parseScopeId } from "../../src/domain/scope.ts";

const ENV = {
  TABLE_NAME: "breakwater-test",
  STATE_MACHINE_ARN: "arn:aws:states:us-east-1:111122223333:stateMachine:stage",
  ROLLBACK_STATE_MACHINE_ARN: "arn:aws:states:us-east-1:111122223333:stateMachine:rollback",
  EVENT_BUS_NAME: "breakwater-test",
  AWS_REGION: "us-east-1",
  ACCOUNT_ID: "111122223333",
  AWS_ACCESS_KEY_ID: "AKIDTEST",
  AWS_SECRET_ACCESS_KEY: "secret",
};
const saved: Record<string, string | undefined> = {};

describe("awsDeps (lazily loaded adapters)", () => {
  const dynamo = mockClient(DynamoDBDocumentClient);
  const bus = mockClient(EventBridgeClient);
  const codebuild = mockClient(CodeBuildClient);
  beforeAll(() => {
    for (const [k, v] of Object.entries(ENV)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    dynamo.restore();
    bus.restore();
    codebuild.restore();
  });

  it("reads the table, and publishes to the bus through the real adapters", async () => {
    dynamo.on(GetCommand).resolves({
      Item: { pk: "CONFIG", sk: "INSTALLATION", config: { artifactPublishers: [] } },
    });
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    const deps = awsDeps();
    expect(awsDeps()).toBe(deps);
    expect(await deps.store.getInstallation()).toEqual({ artifactPublishers: [] });
    const get = dynamo.commandCalls(GetCommand)[0]?.args[0].input;
    expect(get?.TableName).toBe(ENV.TABLE_NAME);
    await deps.events.publish([
      { source: "breakwater", detailType: "Run Started", detail: { pipeline: "p" } },
    ]);
    expect(bus.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.EventBusName).toBe(
      ENV.EVENT_BUS_NAME,
    );
  });

  it("registers the lambda-alias driver, and reads a lambda-alias scope's AWS/Lambda metrics without a metrics section", async () => {
    const lambda = mockClient(LambdaClient);
    const cw = mockClient(CloudWatchClient);
    try {
      lambda.on(ListVersionsByFunctionCommand).resolves({
        Versions: [
          { Version: "$LATEST" },
          { Version: "4", Description: "Breakwater version v2 (bw-0)" },
        ],
      });
      lambda.on(GetAliasCommand).resolves({ Name: "live", FunctionVersion: "3", RevisionId: "r1" });
      lambda.on(UpdateAliasCommand).resolves({ Name: "live", FunctionVersion: "4" });
      cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
      const pipeline = parsePipeline({
        name: "orders-api",
        target: { type: "lambda-alias", functionName: "orders-{region}", alias: "live" },
        stages: [{ name: "prod-1", regions: ["eu-north-1"], bake: { minutes: 10 } }],
      });
      const scope = parseScopeId("prod-1/eu-north-1");
      const deps = awsDeps();
      const req = {
        deploymentId: "d-1",
        pipeline,
        scope,
        version: "v2",
        percent: 100,
        kind: "full" as const,
      };
      await deps.deployer.start(req);
      expect(lambda.commandCalls(UpdateAliasCommand)[0]?.args[0].input).toMatchObject({
        FunctionName: "orders-eu-north-1",
        Name: "live",
        FunctionVersion: "4",
      });
      const from = new Date("2026-03-04T10:00:00.000Z");
      const samples = await deps.metrics.minutes({
        pipeline,
        scope,
        select: { version: "v2" },
        from,
        to: new Date(from.getTime() + 60_000),
      });
      expect(samples).toHaveLength(1);
      const q = cw.commandCalls(GetMetricDataCommand)[0]?.args[0].input.MetricDataQueries?.[0];
      expect(q?.MetricStat?.Metric).toEqual({
        Namespace: "AWS/Lambda",
        MetricName: "Invocations",
        Dimensions: [
          { Name: "FunctionName", Value: "orders-eu-north-1" },
          { Name: "Resource", Value: "orders-eu-north-1:live" },
          { Name: "ExecutedVersion", Value: "4" },
        ],
      });
    } finally {
      lambda.restore();
      cw.restore();
    }
  });

  it("deploys a codebuild target through the registered driver", async () => {
    codebuild.on(ListBuildsForProjectCommand).resolves({ ids: [] });
    codebuild.on(StartBuildCommand).resolves({ build: { id: "orders-static-us-east-1:b-1" } });
    const pipeline = parsePipeline({
      name: "orders-static",
      target: { type: "codebuild", project: "orders-static-{region}" },
      stages: [{ name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } }],
    });
    await awsDeps().deployer.start({
      deploymentId: "orders-static@v2|beta/us-east-1|full",
      pipeline,
      scope: parseScopeId("beta/us-east-1"),
      version: "v2",
      percent: 100,
      kind: "full",
    });
    expect(codebuild.commandCalls(StartBuildCommand)[0]?.args[0].input.projectName).toBe(
      "orders-static-us-east-1",
    );
  });
});
