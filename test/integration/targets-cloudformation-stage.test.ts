/**
 * A stage whose target is a CloudFormation stack, run whole: the real stage ASL
 * (aws-local-stepfunctions) with its Task states bound to the real handlers, DynamoDB Local, the
 * virtual clock, and the real TargetDeployer and CloudFormation driver talking to the stateful
 * CloudFormation fake (aws-sdk-client-mock). The version reaches the stack through one change set
 * per scope; an update CloudFormation rolls back fails the step, and Breakwater's rollback
 * returns the scope to the version before.
 */
import { randomUUID } from "node:crypto";
import { CreateChangeSetCommand, ExecuteChangeSetCommand } from "@aws-sdk/client-cloudformation";
import { describe, expect, it } from "vitest";
import { CloudFormationDriver } from "../../src/adapters/aws/targets/cloudformation.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { testTargetDeployer } from "../contract/deploy-target.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { FakeCloudFormation, templateUrl } from "../support/fake-cloudformation.ts";

const START = new Date("2026-01-05T09:00:00Z");
const REGION = "us-east-1";
const fake = new FakeCloudFormation(REGION);

async function plane() {
  const pipeline = parsePipeline({
    name: "orders-db",
    // Infrastructure serves no per-version traffic: its bake is judged by alarms alone.
    anomalyDetection: false,
    target: {
      type: "cloudformation",
      stackName: "orders-db-{region}",
      templateUrl: "https://templates.s3.amazonaws.com/orders-db/{version}/stack.json",
      parameters: { Version: "{version}", Stage: "{stage}" },
    },
    stages: [{ name: "alpha", regions: [REGION], bake: { minutes: 10 } }],
  });
  const deployer = testTargetDeployer({ cloudformation: new CloudFormationDriver() });
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `it-${randomUUID()}`,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock }),
    wrapDeps: (deps) => ({ ...deps, deployer }),
  });
  await p.register(pipeline, "v1");
  return p;
}

describe("a cloudformation stage, through the real stage state machine", () => {
  it("takes the version to the stack with one change set, executed once, then bakes", async () => {
    fake.reset("v1", "alpha");
    fake.autoFinish = {};
    const p = await plane();
    p.requestRun("orders-db", "v2");
    await p.run();
    expect(await p.store.getRun("orders-db@v2")).toMatchObject({ status: "succeeded" });
    expect(fake.serving()).toBe("v2");
    expect(fake.mock.commandCalls(CreateChangeSetCommand)).toHaveLength(1);
    expect(fake.mock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(1);
    expect(await p.store.getScope("orders-db", `alpha/${REGION}`)).toMatchObject({
      version: "v2",
      status: "stable",
    });
  });

  it("an update CloudFormation rolls back fails the step with its reason, and the scope is rolled back to the version before", async () => {
    fake.reset("v1", "alpha");
    fake.autoFinish = { failing: "v2" };
    const p = await plane();
    p.requestRun("orders-db", "v2");
    await p.run();
    expect(await p.store.getRun("orders-db@v2")).toMatchObject({
      status: "halted",
      rolledBack: [`alpha/${REGION}`],
    });
    const timeline = await p.store.timeline("orders-db@v2");
    expect(timeline.map((e) => `${e.event} ${e.outcome ?? ""}`.trim())).toEqual([
      "deploy-started",
      "deploy-finished failed",
      "rollback-started",
      "rollback-finished",
    ]);
    expect(timeline[1]?.reason).toContain(`stack orders-db-${REGION} is UPDATE_ROLLBACK_COMPLETE`);
    expect(timeline[1]?.reason).toContain("MessageRetentionPeriod");
    // The rollback's change set of v1 found nothing to change: CloudFormation had rolled back.
    const creates = fake.mock.commandCalls(CreateChangeSetCommand);
    expect(creates.map((c) => c.args[0].input.TemplateURL)).toEqual([
      templateUrl("v2"),
      templateUrl("v1"),
    ]);
    expect(fake.mock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(1);
    expect(fake.serving()).toBe("v1");
    expect(await p.store.getScope("orders-db", `alpha/${REGION}`)).toMatchObject({
      version: "v1",
      status: "rolled-back",
    });
  });
});
