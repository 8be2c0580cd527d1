/**
 * A stage whose target is an AppConfig environment, run whole: the real stage ASL with its Task
 * states bound to the real handlers, DynamoDB Local, the virtual clock, and the real
 * TargetDeployer and AppConfig driver talking to the stateful AppConfig fake
 * (aws-sdk-client-mock). The labelled version is deployed once, all at once; a deployment
 * AppConfig rolls back on an alarm fails the step, and the scope is rolled back with no second
 * deployment (AppConfig already put the environment back on the version before).
 */
import { randomUUID } from "node:crypto";
import { StartDeploymentCommand } from "@aws-sdk/client-appconfig";
import { describe, expect, it } from "vitest";
import { AppConfigDriver } from "../../src/adapters/aws/targets/appconfig.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { testTargetDeployer } from "../contract/deploy-target.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { FakeAppConfig } from "../support/fake-appconfig.ts";

const START = new Date("2026-01-05T09:00:00Z");
const REGION = "us-east-1";
const fake = new FakeAppConfig(REGION, `alpha-${REGION}`);

async function plane() {
  const pipeline = parsePipeline({
    name: "orders-flags",
    // A configuration serves no per-version traffic of its own: its bake is judged by alarms.
    anomalyDetection: false,
    target: {
      type: "appconfig",
      application: "orders",
      environment: "{stage}-{region}",
      configurationProfile: "flags",
    },
    stages: [{ name: "alpha", regions: [REGION], bake: { minutes: 10 } }],
  });
  const deployer = testTargetDeployer({ appconfig: new AppConfigDriver() });
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

describe("an appconfig stage, through the real stage state machine", () => {
  it("deploys the labelled version once, with no bake of AppConfig's own, then bakes", async () => {
    fake.reset("v1");
    fake.autoFinish = {};
    const p = await plane();
    p.requestRun("orders-flags", "v2");
    await p.run();
    expect(await p.store.getRun("orders-flags@v2")).toMatchObject({ status: "succeeded" });
    const starts = fake.mock.commandCalls(StartDeploymentCommand);
    expect(starts).toHaveLength(1);
    expect(starts[0]?.args[0].input.ConfigurationVersion).toBe("2");
    expect(fake.deployments.at(-1)?.FinalBakeTimeInMinutes).toBe(0);
    expect(fake.serving()).toBe("v2");
  });

  it("a deployment AppConfig rolls back on an alarm fails the step, and the scope is rolled back", async () => {
    fake.reset("v1");
    fake.autoFinish = { failing: "v2" };
    const p = await plane();
    p.requestRun("orders-flags", "v2");
    await p.run();
    expect(await p.store.getRun("orders-flags@v2")).toMatchObject({
      status: "halted",
      rolledBack: [`alpha/${REGION}`],
    });
    const timeline = await p.store.timeline("orders-flags@v2");
    expect(timeline.map((e) => `${e.event} ${e.outcome ?? ""}`.trim())).toEqual([
      "deploy-started",
      "deploy-finished failed",
      "rollback-started",
      "rollback-finished",
    ]);
    expect(timeline[1]?.reason).toContain("is ROLLED_BACK: Rollback initiated by CloudWatch alarm");
    expect(fake.mock.commandCalls(StartDeploymentCommand)).toHaveLength(1);
    expect(fake.serving()).toBe("v1");
    expect(await p.store.getScope("orders-flags", `alpha/${REGION}`)).toMatchObject({
      version: "v1",
      status: "rolled-back",
    });
  });
});
