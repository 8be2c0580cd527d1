/**
 * The `cloudformation` target passes the deploy target contract, and its own failure paths: an
 * update CloudFormation rolls back (UPDATE_ROLLBACK_COMPLETE, with the failed resource's reason),
 * a change set with nothing to change, a rollback that cancels the update in progress first, a
 * stack nobody can update, missing capabilities, throttling. CloudFormation is the small stateful
 * fake of test/support/fake-cloudformation.ts (aws-sdk-client-mock, documented shapes and errors).
 */
import {
  CancelUpdateStackCommand,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  ExecuteChangeSetCommand,
  InsufficientCapabilitiesException,
} from "@aws-sdk/client-cloudformation";
import { STSClient } from "@aws-sdk/client-sts";
import { beforeEach, describe, expect, it } from "vitest";
import { awsDeps } from "../../functions/lib/aws-deps.ts";
import {
  CloudFormationDriver,
  StackNotUpdatableError,
} from "../../src/adapters/aws/targets/cloudformation.ts";
import { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import { deploymentToken } from "../../src/adapters/aws/targets/token.ts";
import type { DeploymentRequest } from "../../src/domain/ports.ts";
import {
  deployTargetContract,
  type TargetWorld,
  targetRequests,
  testTargetDeployer,
} from "../contract/deploy-target.ts";
import { FakeCloudFormation, type FakeStack, templateUrl } from "../support/fake-cloudformation.ts";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const REGION = "eu-north-1";
const STACK = `orders-db-${REGION}`;

const TARGET = {
  type: "cloudformation",
  stackName: "orders-db-{region}",
  templateUrl: "https://templates.s3.amazonaws.com/orders-db/{version}/stack.json",
  parameters: { Version: "{version}", Stage: "{stage}" },
  capabilities: ["CAPABILITY_IAM"],
};

const requestFor = (target: unknown) => targetRequests(target, REGION);

function makeDeployer() {
  return testTargetDeployer({
    cloudformation: new CloudFormationDriver({ sleep: async () => {} }),
  });
}

const fake = new FakeCloudFormation(REGION);

deployTargetContract("cloudformation", () => {
  const world: TargetWorld = {
    deployer: makeDeployer(),
    request: requestFor(TARGET),
    complete: () => fake.complete(),
    fail: () => fake.fail(),
    throttleNext() {
      fake.throttle = true;
    },
    serving: () => fake.serving(),
    mutations: () => fake.mutations,
    cancelled: () => fake.cancelled,
    cancellable: true,
    splitsTraffic: false,
    reset: (initial) => fake.reset(initial),
  };
  return world;
});

describe("cloudformation target", () => {
  const deployer = makeDeployer();
  const request = requestFor(TARGET);
  beforeEach(() => fake.reset("v1"));

  /** Polls until the step is no longer in progress, letting CloudFormation finish between polls. */
  async function settle(req: DeploymentRequest, between = () => fake.complete()) {
    for (let i = 0; i < 8; i++) {
      const s = await deployer.status(req);
      if (s.state !== "in-progress") return s;
      between();
    }
    return deployer.status(req);
  }

  it("makes one change set per step, named from the deployment id, of the version's template and parameters", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    const calls = fake.mock.commandCalls(CreateChangeSetCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      StackName: STACK,
      ChangeSetName: deploymentToken(req.deploymentId),
      ClientToken: deploymentToken(req.deploymentId),
      ChangeSetType: "UPDATE",
      TemplateURL: templateUrl("v2"),
      Parameters: [
        { ParameterKey: "Version", ParameterValue: "v2" },
        { ParameterKey: "Stage", ParameterValue: "prod-1" },
      ],
      Capabilities: ["CAPABILITY_IAM"],
    });
    expect(await settle(req)).toEqual({ state: "succeeded" });
    const executes = fake.mock.commandCalls(ExecuteChangeSetCommand);
    expect(executes).toHaveLength(1);
    expect(executes[0]?.args[0].input).toMatchObject({
      ChangeSetName: deploymentToken(req.deploymentId),
      ClientRequestToken: deploymentToken(req.deploymentId),
    });
    expect(fake.serving()).toBe("v2");
  });

  it("polls an executing change set without executing it again", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.complete(); // the change set is made
    expect((await deployer.status(req)).state).toBe("in-progress"); // executes
    for (let i = 0; i < 3; i++) expect((await deployer.status(req)).state).toBe("in-progress");
    expect(fake.mock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(1);
    expect(fake.stack?.status).toBe("UPDATE_IN_PROGRESS");
  });

  it("an update CloudFormation rolls back (UPDATE_ROLLBACK_COMPLETE) fails the step with the failed resource's reason", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.complete();
    await deployer.status(req); // executes
    fake.fail();
    const status = await deployer.status(req);
    expect(status.state).toBe("failed");
    const reason = status.state === "failed" ? status.reason : "";
    expect(reason).toContain(`stack ${STACK} is UPDATE_ROLLBACK_COMPLETE`);
    expect(reason).toContain("Queue (AWS::SQS::Queue) UPDATE_FAILED");
    expect(reason).toContain("MessageRetentionPeriod");
    expect(fake.serving()).toBe("v1");
  });

  it("a stack already on the version (a change set with nothing to change) is a step already done", async () => {
    const req = request({ kind: "full", version: "v1", deploymentId: "retried-stage" });
    await deployer.start(req);
    expect(await settle(req)).toEqual({ state: "succeeded" });
    expect(fake.mock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  it("a stack that does not exist yet is created by a CREATE change set", async () => {
    fake.reset(undefined);
    const req = request({ kind: "full", version: "v1" });
    await deployer.start(req);
    expect(fake.mock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input.ChangeSetType).toBe(
      "CREATE",
    );
    expect(await settle(req)).toEqual({ state: "succeeded" });
    expect(fake.stack?.status).toBe("CREATE_COMPLETE");
    expect(fake.serving()).toBe("v1");
  });

  it("a rollback during the update cancels it first, then applies the version before's template and parameters", async () => {
    const deploy = request({ kind: "full", version: "v2" });
    await deployer.start(deploy);
    fake.complete();
    await deployer.status(deploy); // executing: UPDATE_IN_PROGRESS
    expect(fake.stack?.status).toBe("UPDATE_IN_PROGRESS");

    const rollback = request({ kind: "rollback", version: "v1" });
    await deployer.start(rollback);
    expect(fake.mock.commandCalls(CancelUpdateStackCommand)).toHaveLength(1);
    expect(fake.stack?.status).toBe("UPDATE_ROLLBACK_IN_PROGRESS");
    // No change set while the stack rolls back: CloudFormation would refuse it.
    expect(fake.mock.commandCalls(CreateChangeSetCommand)).toHaveLength(1);
    expect(await deployer.status(rollback)).toEqual({ state: "in-progress", pollSeconds: 30 });

    fake.complete(); // UPDATE_ROLLBACK_COMPLETE
    // The deploy itself never reports success.
    expect((await deployer.status(deploy)).state).toBe("failed");
    expect(await settle(rollback)).toEqual({ state: "succeeded" });
    const creates = fake.mock.commandCalls(CreateChangeSetCommand);
    expect(creates).toHaveLength(2);
    expect(creates[1]?.args[0].input).toMatchObject({
      ChangeSetName: deploymentToken(rollback.deploymentId),
      TemplateURL: templateUrl("v1"),
      Parameters: [
        { ParameterKey: "Version", ParameterValue: "v1" },
        { ParameterKey: "Stage", ParameterValue: "prod-1" },
      ],
    });
    expect(fake.serving()).toBe("v1");
  });

  it("a rollback after a finished deploy makes a change set of the version before and waits for it", async () => {
    const deploy = request({ kind: "full", version: "v2" });
    await deployer.start(deploy);
    expect(await settle(deploy)).toEqual({ state: "succeeded" });
    const rollback = request({ kind: "rollback", version: "v1" });
    await deployer.start(rollback);
    await deployer.start(rollback); // a retry makes nothing new
    expect(fake.mock.commandCalls(CancelUpdateStackCommand)).toHaveLength(0);
    expect(fake.mock.commandCalls(CreateChangeSetCommand)).toHaveLength(2);
    expect(await settle(rollback)).toEqual({ state: "succeeded" });
    expect(fake.serving()).toBe("v1");
  });

  it("cancel of an executing step cancels its update; cancel of a step whose update is over leaves the stack alone", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.complete();
    await deployer.status(req); // executing
    await deployer.cancel(req);
    expect(fake.mock.commandCalls(CancelUpdateStackCommand)).toHaveLength(1);
    fake.complete(); // UPDATE_ROLLBACK_COMPLETE
    await deployer.cancel(req); // the update is over: nothing to cancel
    expect(fake.mock.commandCalls(CancelUpdateStackCommand)).toHaveLength(1);
    const status = await deployer.status(req);
    expect(status.state).toBe("failed");
    expect(status.state === "failed" && status.reason).toContain("Resource update cancelled");
    expect(fake.serving()).toBe("v1");
  });

  it("cancel of a deploy never cancels another step's update (its rollback's)", async () => {
    const deploy = request({ kind: "full", version: "v2" });
    await deployer.start(deploy);
    fake.fail(); // the change set could not be made
    const rollback = request({ kind: "rollback", version: "v1", deploymentId: "rb" });
    fake.stack = { ...(fake.stack as FakeStack), templateUrl: templateUrl("v0") };
    await deployer.start(rollback);
    fake.complete();
    await deployer.status(rollback); // executes: UPDATE_IN_PROGRESS
    expect(fake.stack?.status).toBe("UPDATE_IN_PROGRESS");
    await deployer.cancel(deploy);
    expect(fake.mock.commandCalls(CancelUpdateStackCommand)).toHaveLength(0);
  });

  it("a stack CloudFormation cannot update (ROLLBACK_COMPLETE) refuses the start, naming the stack and what to do", async () => {
    (fake.stack as FakeStack).status = "ROLLBACK_COMPLETE";
    const error = await deployer
      .start(request({ kind: "full", version: "v2" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StackNotUpdatableError);
    expect((error as Error).message).toBe(
      `stack ${STACK} is ROLLBACK_COMPLETE and cannot be updated: delete it, then run again`,
    );
    expect(fake.mock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });

  it("a deploy onto a stack someone else is updating is a TransientError (retried once it settles)", async () => {
    (fake.stack as FakeStack).status = "UPDATE_IN_PROGRESS";
    const error = await deployer
      .start(request({ kind: "full", version: "v2" }))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe("TransientError");
    expect((error as Error).message).toContain(`stack ${STACK} is UPDATE_IN_PROGRESS`);
    expect(fake.mock.commandCalls(CancelUpdateStackCommand)).toHaveLength(0);
  });

  it("a template that needs a capability the target does not give is refused with the field to change", async () => {
    fake.refuseCreate = new InsufficientCapabilitiesException({
      message: "Requires capabilities : [CAPABILITY_NAMED_IAM]",
      $metadata: { httpStatusCode: 400 },
    });
    const error = await deployer
      .start(request({ kind: "full", version: "v2" }))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe("ChangeSetRefusedError");
    expect((error as Error).message).toBe(
      `stack ${STACK}: Requires capabilities : [CAPABILITY_NAMED_IAM] (add it to the target's "capabilities")`,
    );
  });

  it("a throttled status poll is a TransientError, and the next poll carries on", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.throttle = true;
    const error = await deployer.status(req).catch((e: unknown) => e);
    expect((error as Error).name).toBe("TransientError");
    expect(await settle(req)).toEqual({ state: "succeeded" });
  });

  it("cancel of a change set still being created waits for it, then deletes it; the step then fails", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    await deployer.cancel(req);
    expect(fake.mock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
    expect(fake.changeSets.size).toBe(0);
    const status = await deployer.status(req);
    expect(status).toEqual({
      state: "failed",
      reason: `change set ${deploymentToken(req.deploymentId)} of stack ${STACK} does not exist (the step was cancelled, or never started)`,
    });
    expect(fake.mock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  it("cancel of a change set CloudFormation is still creating after the waits is a TransientError (cancel is retried)", async () => {
    const req = request({ kind: "full", version: "v2" });
    const patient = new TargetDeployer({
      sts: new STSClient({ region: "us-east-1", credentials }),
      account: async () => "111122223333",
      drivers: {
        cloudformation: new CloudFormationDriver({ sleep: async () => {}, cancelWaits: 0 }),
      },
    });
    await patient.start(req);
    const error = await patient.cancel(req).catch((e: unknown) => e);
    expect((error as Error).name).toBe("TransientError");
    expect((error as Error).message).toContain("is still being created: cancel again");
    expect(fake.changeSets.size).toBe(1);
  });

  it("is the driver the deployed functions use for the type (functions/lib/aws-deps.ts)", async () => {
    process.env.ACCOUNT_ID = "111122223333";
    process.env.AWS_REGION ??= "us-east-1";
    await awsDeps().deployer.start(request({ kind: "full", version: "v2" }));
    expect(fake.mock.commandCalls(CreateChangeSetCommand)).toHaveLength(1);
  });
});
