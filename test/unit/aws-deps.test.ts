/**
 * The deployed functions' dependencies (functions/lib/aws-deps.ts) load each adapter and its
 * SDK client on first use. The lazily built ports must still reach the real adapters: AWS is
 * mocked with aws-sdk-client-mock, in the documented response shapes.
 */
import {
  CodeBuildClient,
  ListBuildsForProjectCommand,
  StartBuildCommand,
} from "@aws-sdk/client-codebuild";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
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
